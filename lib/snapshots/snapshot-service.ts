import { allZeros } from '../shared/zeros.js';
import { sha256Hex } from '../shared/hashing.js';
import { MisalignedIoError, RangeOutOfBoundsError, SledsError, VolumeNotFoundError, VolumeStateError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import type { VolumeDataService } from '../notes/volume-data-service.js';
import { logRef, type NoteLogStore, type PartitionMetaStore, type ChunkMapStore, type ChunkRef } from '../notes/ports.js';
import type { WorkQueue } from '../queues/ports.js';
import { snapshotSleds } from '../sleds/placement.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { VolumeRepository } from '../volumes/ports.js';
import { servesData } from '../volumes/volume.js';
import type { MaterializeMessage } from './messages.js';
import type { SnapshotPage, SnapshotRepository } from './ports.js';
import { newSnapshotId, snapshotChunkKey, type Snapshot, type SnapshotPartition } from './snapshot.js';

/** The snapshot id is well formed but no such snapshot exists (404). */
export class SnapshotNotFoundError extends SledsError {
  constructor(snapshotId: string) {
    super('SnapshotNotFound', 404, `Snapshot ${snapshotId} does not exist.`);
  }
}

export interface SnapshotDeps {
  readonly volumes: VolumeRepository;
  readonly data: VolumeDataService;
  readonly snapshots: SnapshotRepository;
  readonly metas: PartitionMetaStore;
  readonly logs: NoteLogStore;
  readonly chunkMaps: ChunkMapStore;
  readonly chunks: ChunkStore;
  readonly queue: WorkQueue<MaterializeMessage>;
  readonly sledCount: number;
  readonly clock?: () => Date;
}

const sha256 = (data: Buffer) => sha256Hex(data);

/** The snapshot exists but its chunks are still being stored: it cannot be read yet (409). */
export class SnapshotNotCompletedError extends SledsError {
  constructor(snapshotId: string, state: string) {
    super('SnapshotNotCompleted', 409, `Snapshot ${snapshotId} is ${state}; it can be read once completed.`);
  }
}

/** Offsets and lengths of snapshot reads are multiples of this (the volumes' block size). */
const SNAPSHOT_BLOCK = 4096;
/** Completed snapshots and their partition maps never change: this process keeps this many. */
const MAX_CACHED_SNAPSHOTS = 1024;
const MAX_CACHED_PARTITIONS = 16384;

/** Snapshots: fix each partition's op, then materialize its chunks onto one sled per partition. */
export class SnapshotService {
  private readonly completed = new Map<string, Snapshot>();
  private readonly partitionMaps = new Map<string, Promise<SnapshotPartition | undefined>>();

  constructor(private readonly deps: SnapshotDeps) {}

  /** Snapshots a page at a time (every state), in no particular order. */
  list(limit: number, cursor?: string): Promise<SnapshotPage> {
    return this.deps.snapshots.list(limit, cursor);
  }

  /**
   * Reads [offset, offset + length) of a completed snapshot: the bytes of its volume at the
   * snapshot's ops, from the chunks it stored on the sleds; zeros where the volume had nothing.
   * Offset and length are multiples of 4 KiB. A snapshot still `creating` is refused (409).
   */
  async read(snapshotId: string, offset: number, length: number): Promise<Buffer> {
    const snapshot = await this.completedSnapshot(snapshotId);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % SNAPSHOT_BLOCK !== 0 || !Number.isSafeInteger(length) || length % SNAPSHOT_BLOCK !== 0) {
      throw new MisalignedIoError(`a snapshot read needs an offset and a length that are multiples of ${SNAPSHOT_BLOCK}; got ${offset} and ${length}`);
    }
    if (offset + length > snapshot.sizeBytes) {
      throw new RangeOutOfBoundsError(`bytes ${offset} to ${offset + length - 1} lie outside snapshot ${snapshotId} of ${snapshot.sizeBytes} bytes`);
    }
    const out = Buffer.alloc(length);
    const { chunkSizeBytes, partitionChunks } = snapshot;
    const reads: Promise<void>[] = [];
    for (let at = offset; at < offset + length; ) {
      const chunkIndex = Math.floor(at / chunkSizeBytes);
      const within = at - chunkIndex * chunkSizeBytes;
      const take = Math.min(chunkSizeBytes - within, offset + length - at);
      const partition = Math.floor(chunkIndex / partitionChunks);
      const chunk = chunkIndex % partitionChunks;
      const into = at - offset;
      reads.push(
        (async () => {
          // A partition the volume never wrote has no ops entry and no map: zeros.
          if (snapshot.ops[String(partition)] === undefined) return;
          const map = await this.partitionMap(snapshot, partition);
          const ref = map?.chunks[String(chunk)];
          if (!ref) return;
          const bytes = await this.deps.chunks.read(ref, within, take);
          bytes.copy(out, into);
        })(),
      );
      at += take;
    }
    await Promise.all(reads);
    return out;
  }

  private async completedSnapshot(snapshotId: string): Promise<Snapshot> {
    const cached = this.completed.get(snapshotId);
    if (cached) return cached;
    const snapshot = await this.get(snapshotId);
    if (snapshot.state !== 'completed') throw new SnapshotNotCompletedError(snapshotId, snapshot.state);
    if (this.completed.size >= MAX_CACHED_SNAPSHOTS) this.completed.clear();
    this.completed.set(snapshotId, snapshot);
    return snapshot;
  }

  private partitionMap(snapshot: Snapshot, partition: number): Promise<SnapshotPartition | undefined> {
    const key = `${snapshot.snapshotId}#${partition}`;
    let map = this.partitionMaps.get(key);
    if (!map) {
      if (this.partitionMaps.size >= MAX_CACHED_PARTITIONS) this.partitionMaps.clear();
      map = this.deps.snapshots.getPartition(snapshot.snapshotId, partition);
      // A failed read is not remembered: the next read asks again.
      map.catch(() => this.partitionMaps.delete(key));
      this.partitionMaps.set(key, map);
    }
    return map;
  }

  /**
   * Takes a snapshot of the volume at its current committed ops. Partitions never written
   * are all zeros and need no work; every other partition gets one queue message.
   */
  async create(volumeId: string): Promise<Snapshot> {
    const volume = await this.deps.volumes.get(volumeId);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (!servesData(volume.state)) throw new VolumeStateError(volumeId, volume.state, 'snapshot it');
    const snapshotId = newSnapshotId();
    // Hold first, then read the ops: a flush that starts after the hold will not move a base
    // past them, and one that started before cannot have passed them.
    await this.deps.volumes.addHold(volumeId, snapshotId);
    const partitions = await this.deps.metas.listPartitions(volumeId);
    const ops: Record<string, number> = {};
    const avoid: Array<{ partition: number; avoid: number[] }> = [];
    await Promise.all(
      partitions.map(async (partition) => {
        const meta = await this.deps.metas.get(volumeId, partition);
        avoid.push({ partition, avoid: meta ? [meta.primary.sled, meta.secondary.sled] : [] });
        const log = meta ? logRef(volumeId, partition, meta.primary.replicaId) : undefined;
        const [tail, base] = log ? await Promise.all([this.deps.logs.tail(log), this.deps.chunkMaps.get(log)]) : [undefined, undefined];
        ops[String(partition)] = Math.max(tail?.op ?? 0, base?.baseOp ?? 0);
      }),
    );
    const now = (this.deps.clock ?? (() => new Date()))();
    const snapshot: Snapshot = {
      snapshotId,
      volumeId,
      state: partitions.length === 0 ? 'completed' : 'creating',
      sizeBytes: volume.sizeBytes,
      chunkSizeBytes: volume.chunkSizeBytes,
      partitionChunks: volume.partitionChunks,
      partitionCount: volume.partitionCount,
      ops,
      sleds: snapshotSleds(snapshotId, avoid, this.deps.sledCount),
      progress: { partitionsDone: 0, partitionsTotal: partitions.length, chunksStored: 0, bytesStored: 0 },
      createdAt: now.toISOString(),
      ...(partitions.length === 0 ? { completedAt: now.toISOString() } : {}),
    };
    await this.deps.snapshots.create(snapshot);
    if (partitions.length === 0) await this.deps.volumes.removeHold(volumeId, snapshotId);
    await this.deps.queue.sendAll(partitions.map((partition): MaterializeMessage => ({ snapshotId: snapshot.snapshotId, partition })));
    return snapshot;
  }

  /** Returns the snapshot or throws SnapshotNotFoundError. */
  async get(snapshotId: string): Promise<Snapshot> {
    const snapshot = await this.deps.snapshots.get(snapshotId);
    if (!snapshot) throw new SnapshotNotFoundError(snapshotId);
    return snapshot;
  }

  /**
   * Writes one partition of the snapshot onto its sled, chunk by chunk, as of the snapshot's
   * op. Idempotent: chunk keys are fixed, and the partition's chunk map is stored only once,
   * so a duplicate delivery or a retry after a crash counts the partition once.
   */
  async materialize({ snapshotId, partition }: MaterializeMessage): Promise<void> {
    const snapshot = await this.get(snapshotId);
    const stored = await this.deps.snapshots.getPartition(snapshotId, partition);
    if (stored?.counted) return;
    if (!stored) await this.store(snapshot, partition);
    const done = await this.deps.snapshots.getPartition(snapshotId, partition);
    if (!done) throw new Error(`snapshot ${snapshotId} partition ${partition} vanished after it was stored`);
    const bytes = Object.keys(done.chunks).length * snapshot.chunkSizeBytes;
    const updated = await this.deps.snapshots.addProgress(snapshotId, Object.keys(done.chunks).length, bytes);
    // A crash between these two calls counts the partition twice; completion therefore checks the stored maps.
    await this.deps.snapshots.markCounted(snapshotId, partition);
    if (updated.progress.partitionsDone < updated.progress.partitionsTotal) return;
    if ((await this.deps.snapshots.countPartitions(snapshotId)) >= snapshot.progress.partitionsTotal) {
      await this.deps.snapshots.complete(snapshotId, (this.deps.clock ?? (() => new Date()))());
      await this.deps.volumes.removeHold(snapshot.volumeId, snapshotId).catch(() => undefined);
    }
  }

  private async store(snapshot: Snapshot, partition: number): Promise<void> {
    const { snapshotId } = snapshot;
    await failpoint(FAILPOINTS.materialize, { snapshotId, partition });
    const op = snapshot.ops[String(partition)];
    if (op === undefined) throw new Error(`snapshot ${snapshotId} has no partition ${partition}`);
    const volume = { volumeId: snapshot.volumeId, sizeBytes: snapshot.sizeBytes, chunkSizeBytes: snapshot.chunkSizeBytes, partitionChunks: snapshot.partitionChunks };
    const head = this.deps.data.head(volume, partition);
    const view = await head.viewAsOf(op);
    const sled = snapshot.sleds[String(partition)];
    if (sled === undefined) throw new Error(`snapshot ${snapshotId} has no sled for partition ${partition}`);
    const start = partition * snapshot.chunkSizeBytes * snapshot.partitionChunks;
    const chunks: Record<string, ChunkRef> = {};
    for (let chunk = 0; chunk < snapshot.partitionChunks; chunk++) {
      const chunkStart = start + chunk * snapshot.chunkSizeBytes;
      if (chunkStart >= snapshot.sizeBytes) break;
      const written = view.index.covers(chunkStart, snapshot.chunkSizeBytes) || view.base?.chunks[String(chunk)] !== undefined;
      if (!written) continue;
      const data = Buffer.alloc(snapshot.chunkSizeBytes);
      await head.readView(view, chunkStart, snapshot.chunkSizeBytes, data, 0);
      // A chunk of zeros (zeroed, or written with zeros) is left out: an absent chunk is zeros.
      if (allZeros(data)) continue;
      const digest = sha256(data);
      const at = { sled, key: snapshotChunkKey(snapshotId, partition, chunk) };
      await this.deps.chunks.put(at, data, digest);
      chunks[String(chunk)] = { ...at, sha256: digest };
    }
    await this.deps.snapshots.putPartition({ snapshotId, partition, sled, chunks });
  }
}
