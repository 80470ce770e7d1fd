import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RETAINED_CHECKPOINTS, type CheckpointRecord, type CheckpointStore } from '../checkpoints/checkpoint.js';
import { ConcurrentModificationError, PartitionNotFoundError, VolumeNotFoundError, VolumeStateError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import { forEachRun, type FrozenImage } from '../notes/chunk-images.js';
import { isTableNote, noteIdsOf } from '../notes/note-ids.js';
import { mapLimit, SerialQueue } from '../shared/concurrency.js';
import { sha256Hex } from '../shared/hashing.js';
import { logRef, type ChunkMap, type ChunkMapStore, type ChunkRef, type JournalStore, type LogRef, type NoteLogStore, type PartitionMeta, type PartitionMetaStore } from '../notes/ports.js';
import type { PartitionGeometry, PartitionHead, PartitionView } from '../notes/partition-head.js';
import { VOLUME_CACHE_MS, type VolumeDataService } from '../notes/volume-data-service.js';
import type { WorkQueue } from '../queues/ports.js';
import { chunkSled } from '../sleds/placement.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { SnapshotRepository } from '../snapshots/ports.js';
import type { VolumeRepository } from '../volumes/ports.js';
import { chunkKeyPrefix, type Volume } from '../volumes/volume.js';
import type { FlushMessage, FlushQueueMessage, SweepMessage } from './messages.js';
import { MAX_UNNAMED_MS, oldChunks, oldNotes, SWEEP_DELAY_SECONDS, unnamed, type ListedNote } from './orphans.js';

export interface SweepResult {
  /** Why nothing was looked at, when the partition was busy. */
  readonly skipped?: string;
  readonly chunksRemoved: number;
  readonly notesRemoved: number;
}

export interface FlushResult {
  readonly flushedOp: number;
  readonly chunksWritten: number;
  readonly checkpoint?: CheckpointRecord;
  readonly notesTrimmed: number;
  readonly chunksCollected: number;
}

export interface FlushDeps {
  readonly volumes: VolumeRepository;
  readonly data: VolumeDataService;
  readonly snapshots: SnapshotRepository;
  readonly metas: PartitionMetaStore;
  readonly logs: NoteLogStore;
  readonly journal: JournalStore;
  readonly chunkMaps: ChunkMapStore;
  readonly chunks: ChunkStore;
  readonly checkpoints: CheckpointStore;
  readonly queue: WorkQueue<FlushQueueMessage>;
  readonly sledCount: number;
  /** Write a checkpoint once this many ops have passed since the last one. */
  readonly checkpointEveryOps: number;
  readonly clock?: () => Date;
}

const ROLES = ['primary', 'secondary'] as const;

const sha256 = (data: Buffer) => sha256Hex(data);

/** Starts a read that is awaited later: if the flush fails first, its failure is not left unhandled. */
function background<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

/** Chunk PUTs in flight per flush. */
const PUT_CONCURRENCY = 8;

/** A chunk's new content: bytes built from the view, or a whole note the sled copies. */
type ChunkContent =
  | { readonly bytes: Buffer; readonly sha256: string }
  | { readonly note: { readonly sled: number; readonly log: LogRef }; readonly noteId: string; readonly sha256: string };

/** A chunk map a flush writes, and whether its conditional write took. */
interface MapMove {
  readonly map: ChunkMap;
  readonly moved: Promise<boolean>;
}

/** Every chunk key these maps or checkpoints name. */
function namedKeys(namers: ReadonlyArray<{ readonly chunks: Readonly<Record<string, ChunkRef>> } | undefined>): Set<string> {
  return new Set(namers.flatMap((namer) => Object.values(namer?.chunks ?? {}).map((ref) => ref.key)));
}

/** The chunk versions `old` named that `next` no longer does. */
const replacedBy = (old: ChunkMap | undefined, next: ChunkMap): ChunkRef[] =>
  Object.entries(old?.chunks ?? {}).flatMap(([chunk, ref]) => (next.chunks[chunk]?.key === ref.key ? [] : [ref]));

/** What a flush writes, and from what: decided before any chunk goes out. */
interface FlushPlan {
  readonly meta: PartitionMeta;
  readonly head: PartitionHead;
  /** The primary's chunk map as the flush found it. */
  readonly before: ChunkMap | undefined;
  readonly view: PartitionView | undefined;
  readonly target: number;
  /**
   * Whether the plan still holds, asked while its chunks go out; nothing names them before
   * it answers. A plan from the lease holder's view reads then whether the metadata, the
   * primary's map and the snapshot holds are as the view has them, and the volume available.
   * A plan from the log read all that before it was made.
   */
  readonly confirm: () => Promise<Confirmation>;
}

interface Confirmation {
  /** The view was the partition's state. */
  readonly current: boolean;
  /**
   * When the volume was read as available (ms since the epoch, taken before the read). A
   * delete waits VOLUME_CACHE_MS after marking the volume deleting before it removes its
   * objects, so chunks put within that time of this read are removed with the rest.
   */
  readonly availableAt: number;
}

const chunkLength = (geometry: PartitionGeometry, chunk: number) =>
  Math.max(0, Math.min(geometry.chunkSizeBytes, geometry.volumeBytes - (geometry.start + chunk * geometry.chunkSizeBytes)));

/** The chunks that the notes after the view's base wrote into (the index's segments cover exactly those). */
function touchedChunks(geometry: PartitionGeometry, view: PartitionView): number[] {
  const chunks = Array.from({ length: geometry.partitionChunks }, (_, chunk) => chunk);
  return chunks.filter((chunk) => chunkLength(geometry, chunk) > 0 && view.index.covers(geometry.start + chunk * geometry.chunkSizeBytes, chunkLength(geometry, chunk)));
}

/** A chunk as of the view: at once when the head holds every byte in memory, else once the reads are done. */
function buildChunk(head: PartitionHead, view: PartitionView, chunk: number): ChunkContent | Promise<ChunkContent> {
  const chunkStart = head.geometry.start + chunk * head.geometry.chunkSizeBytes;
  const length = chunkLength(head.geometry, chunk);
  // A chunk that one note wrote whole, and nothing else: that note's object is the chunk, so
  // the sled copies it and its digest is the note's. Sequential writers land here. (A note
  // in the table has no object: its chunk is read and put like any other.)
  const extents = view.index.lookup(chunkStart, length);
  const note = extents.length === 1 ? extents[0] : undefined;
  if (view.meta && note?.sha256 && !isTableNote(note.noteId) && note.noteOffset === chunkStart && note.noteLength === length && note.length === length) {
    return { note: { sled: view.meta.primary.sled, log: head.logOf(view.meta.primary) }, noteId: note.noteId, sha256: note.sha256 };
  }
  const image = usableImage(view, chunk);
  if (image) return fromImage(head, view, chunk, image);
  const bytes = Buffer.alloc(length);
  const reading = head.startViewRead(view, chunkStart, length, bytes, 0, extents);
  const done = () => ({ bytes, sha256: sha256(bytes) });
  return reading ? reading.then(done) : done();
}

/**
 * The head's image of the chunk, when it shows the chunk as of the view: a whole chunk, or
 * every block written after the view's base (the rest is as the base has it).
 */
function usableImage(view: PartitionView, chunk: number): FrozenImage | undefined {
  const images = view.images;
  const image = images?.op === view.index.lastOp ? images.chunks.get(chunk) : undefined;
  return image && (!image.written || images!.fromOp <= view.index.afterOp) ? image : undefined;
}

/** A chunk from the head's image: as it is when whole, else over the base's blocks. */
function fromImage(head: PartitionHead, view: PartitionView, chunk: number, image: FrozenImage): ChunkContent | Promise<ChunkContent> {
  const { written } = image;
  const ref = view.base?.chunks[String(chunk)];
  // A chunk the base does not have was zeros, as an image is where no write reached.
  if (!written || !ref) return { bytes: image.bytes, sha256: sha256(image.bytes) };
  const fill = (base: Buffer): ChunkContent => {
    const bytes = Buffer.from(image.bytes);
    forEachRun(written, 0, (from, to) => base.copy(bytes, from, from, to));
    return { bytes, sha256: sha256(bytes) };
  };
  const base = head.chunkBytes(ref, image.bytes.length);
  return base instanceof Promise ? base.then(fill) : fill(base);
}

/**
 * Why queued work on a volume is done although it failed: the volume was deleted (or is being
 * deleted) since the work was asked for. Any other error is thrown again, for a retry.
 */
function volumeGoneReason(error: unknown): string {
  if (error instanceof VolumeNotFoundError) return 'the volume is gone';
  if (error instanceof VolumeStateError) return error.message;
  throw error;
}

/**
 * Flush: committed notes become immutable chunk objects on the sleds, and each replica's
 * chunk map moves its base past them. Every step can be repeated: chunk keys are fixed by
 * (chunk, op), and chunk maps change by a conditional write on their version. Then the
 * checkpoint (every K ops) and the garbage collection of what no map or checkpoint needs.
 */
export class FlushService {
  constructor(private readonly deps: FlushDeps) {}

  private now(): Date {
    return (this.deps.clock ?? (() => new Date()))();
  }

  private async partition(volumeId: string, partition: number): Promise<{ volume: Volume; meta: PartitionMeta | undefined }> {
    const valid = Number.isInteger(partition) && partition >= 0;
    const [volume, meta] = await Promise.all([this.deps.volumes.get(volumeId), valid ? this.deps.metas.get(volumeId, partition) : undefined]);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (!valid || partition >= volume.partitionCount) throw new PartitionNotFoundError(volumeId, partition, volume.partitionCount);
    return { volume, meta };
  }

  private log(meta: PartitionMeta, role: 'primary' | 'secondary'): LogRef {
    return logRef(meta.volumeId, meta.partition, meta[role].replicaId);
  }

  /**
   * The op a flush may reach: no further than any snapshot still being materialized. Read
   * after the flush picked `wanted`: a snapshot that holds the volume later captures an op at
   * or past it.
   */
  private async heldAt(volumeId: string, partition: number, wanted: number, holds?: readonly string[]): Promise<number> {
    let limit = wanted;
    for (const snapshotId of holds ?? (await this.deps.volumes.holds(volumeId))) {
      const snapshot = await this.deps.snapshots.get(snapshotId);
      // A hold whose snapshot is not recorded yet is being taken right now: flush nothing.
      if (!snapshot) return 0;
      if (snapshot.state !== 'creating') continue;
      limit = Math.min(limit, snapshot.ops[String(partition)] ?? limit);
    }
    return limit;
  }

  /** Flushes the partition up to `uptoOp` (or its newest op); a no-op when it is already there. */
  flush(message: FlushMessage): Promise<FlushResult> {
    return this.flushBy(message, true);
  }

  private async flushBy(message: FlushMessage, fromHead: boolean): Promise<FlushResult> {
    const nothing: FlushResult = { flushedOp: 0, chunksWritten: 0, notesTrimmed: 0, chunksCollected: 0 };
    const plan = (fromHead ? await this.planFromHead(message) : undefined) ?? (await this.planFromLog(message));
    if (!plan) return nothing;
    const { volumeId, partition } = message;
    const { meta, head, before, view, target } = plan;
    const primary = this.log(meta, 'primary');
    const secondary = this.log(meta, 'secondary');
    // Read while the chunks are put: nothing read depends on them, and the maps are checked
    // again by the conditional writes that use them. The reads start once every chunk is
    // built, while the last ones go out: the building then has the CPU to itself, and the
    // answers come back fresh, just before the map writes need them.
    let reads: { confirmation: Promise<Confirmation>; secondaryMap: Promise<ChunkMap | undefined>; checkpointList: Promise<CheckpointRecord[]> } | undefined;
    const startReads = () =>
      (reads ??= {
        confirmation: background(plan.confirm()),
        secondaryMap: background(this.deps.chunkMaps.get(secondary)),
        checkpointList: background(this.deps.checkpoints.list(volumeId, partition)),
      });
    // The primary's next map and its conditional write, once the chunks exist.
    let primaryMove: MapMove | undefined;
    const written: Record<string, ChunkRef> = {};
    const built = new Map<number, Buffer>();
    const superseded: ChunkRef[] = [];
    const putting = view !== undefined && target > (before?.baseOp ?? 0);
    if (putting) {
      // 1. The chunks the notes after the base touched, as of target, as new objects. Each
      // attempt puts its own keys, so no key is ever put twice (a sweep relies on that).
      const attempt = randomBytes(4).toString('hex');
      const putsStartedAt = this.now().getTime();
      const building = new SerialQueue();
      const touched = touchedChunks(head.geometry, view);
      let toBuild = touched.length;
      await mapLimit(touched, PUT_CONCURRENCY, async (chunk) => {
        const at = { sled: chunkSled(volumeId, partition, chunk, this.deps.sledCount), key: `${chunkKeyPrefix(volumeId, partition)}${chunk}/op-${target}-${attempt}` };
        // What the head holds in memory is copied and hashed one chunk at a time, each after a
        // turn of the event loop, so the chunk put just before goes out while the next is built.
        // Only that part is queued: object reads a chunk still needs (wrapped, so the queue does
        // not wait for them) run alongside the other chunks'.
        const { content: ready } = await building.run(async () => {
          await nextTurn();
          return { content: buildChunk(head, view, chunk) };
        });
        const content = await ready;
        if (--toBuild === 0) startReads();
        if ('note' in content) {
          await this.deps.journal.copyToChunk(content.note, content.noteId, at);
        } else {
          await this.deps.chunks.put(at, content.bytes, content.sha256);
          head.rememberChunk(at.key, content.bytes);
          built.set(chunk, content.bytes);
        }
        written[String(chunk)] = { ...at, sha256: content.sha256 };
      });
      await failpoint(FAILPOINTS.flush, { step: 'chunks-written', volumeId, partition });
      if (this.now().getTime() - putsStartedAt > MAX_UNNAMED_MS) {
        // A sweep may take these objects for orphans by now: leave them to it, and start again.
        throw new ConcurrentModificationError(`partition ${partition} of ${volumeId}: the flush took too long to put its chunks; retry`);
      }
    }
    const { confirmation, secondaryMap, checkpointList } = startReads();
    let current: boolean;
    try {
      const confirmed = await confirmation;
      current = confirmed.current;
      await this.stillAvailable(volumeId, confirmed.availableAt);
    } catch (error) {
      // The volume is gone or going: its delete may have listed its objects already.
      await this.removeUnnamed(head, Object.values(written));
      throw error;
    }
    if (!current) {
      // The view was not the partition's state after all: what it put is nobody's. Start
      // again from the log.
      await this.removeUnnamed(head, Object.values(written));
      return this.flushBy(message, false);
    }
    if (putting) {
      // 2. The primary's map moves to target, only after the objects exist.
      const moving: ChunkMap = {
        volumeId,
        partition,
        replicaId: primary.replicaId,
        baseOp: target,
        chunks: { ...(before?.chunks ?? {}), ...written },
        version: (before?.version ?? 0) + 1,
      };
      primaryMove = { map: moving, moved: background(this.deps.chunkMaps.put(moving, before?.version)) };
    }
    const flushed = primaryMove?.map ?? before;
    if (!flushed) return nothing;
    // The secondary takes the primary's map as it is, in a write that goes out with the
    // primary's: it holds every op up to target (see the plans), so its map is a state the
    // partition had even if the primary's write loses to another flush. A repeated message
    // (after a crash between the two maps) finds it behind and finishes the job.
    const behind = await secondaryMap;
    const following: ChunkMap | undefined =
      (behind?.baseOp ?? 0) < flushed.baseOp ? { ...flushed, replicaId: secondary.replicaId, version: (behind?.version ?? 0) + 1 } : undefined;
    const secondaryMove: MapMove | undefined = following && { map: following, moved: background(this.deps.chunkMaps.put(following, behind?.version)) };
    if (primaryMove) {
      if (!(await primaryMove.moved)) {
        // Another flush moved the map first. Unless the secondary's map took these chunks
        // (or may have: its write failed), nothing names them, nor ever will: remove them now.
        const named = await secondaryMove?.moved.catch(() => true);
        if (!named) await this.removeUnnamed(head, Object.values(written));
        throw new ConcurrentModificationError(`partition ${partition} of ${volumeId} was flushed by someone else meanwhile; retry`);
      }
      superseded.push(...replacedBy(before, primaryMove.map));
      // The head in this process takes the new base while the secondary's map is written.
      head.adoptFlushed(before, primaryMove.map, built);
      await failpoint(FAILPOINTS.flush, { step: 'primary-map-updated', volumeId, partition });
    }
    // Both maps as they stand now, when this flush knows them (garbage collection needs them).
    let maps: Array<ChunkMap | undefined> | undefined = [flushed, behind];
    if (secondaryMove) {
      if (await secondaryMove.moved) {
        superseded.push(...replacedBy(behind, secondaryMove.map));
        maps = [flushed, secondaryMove.map];
      } else maps = undefined;
      await failpoint(FAILPOINTS.flush, { step: 'secondary-map-updated', volumeId, partition });
    }
    const chunks = flushed.chunks;
    const targetOp = flushed.baseOp;

    // 3. A checkpoint every K ops.
    let checkpoint: CheckpointRecord | undefined;
    const records = await checkpointList;
    if (targetOp - (records[0]?.op ?? 0) >= this.deps.checkpointEveryOps) {
      checkpoint = await this.checkpointAt(meta, targetOp, chunks);
      records.unshift(checkpoint);
      // Every K ops, a sweep for what crashed flushes and writes left behind, later. Not
      // asking is no harm: the next checkpoint asks again.
      await this.deps.queue
        .sendAll([{ volumeId, partition, sweep: true } satisfies SweepMessage], { delaySeconds: SWEEP_DELAY_SECONDS })
        .catch(() => undefined);
    }
    await failpoint(FAILPOINTS.flush, { step: 'checkpointed', volumeId, partition });

    // 4. Garbage: old checkpoints, chunk versions nothing refers to, notes every replica flushed.
    const collected = await this.collect(head, meta, records, superseded, maps);
    return { flushedOp: targetOp, chunksWritten: Object.keys(written).length, ...(checkpoint ? { checkpoint } : {}), ...collected };
  }

  /**
   * The plan when this process's head holds the partition's lease: its view is the log, so
   * the flush takes it as it is, up to the head's newest op (if the message lets it go that
   * far), on the chunk map the view is built on. Its confirmation reads the volume, the metadata
   * and the map in one round trip while the chunks go out, after the view was taken.
   * Undefined when the head holds no lease.
   */
  private async planFromHead({ volumeId, partition, uptoOp, orNewer = false }: FlushMessage): Promise<FlushPlan | undefined> {
    const head = this.deps.data.existingHead(volumeId, partition);
    const view = await head?.trustedView();
    if (!head || !view?.meta) return undefined;
    const target = view.index.lastOp;
    if (target > uptoOp && !orNewer) return undefined;
    const { meta: viewMeta, base: before } = view;
    if ((before?.baseOp ?? 0) !== view.index.afterOp) return undefined;
    const confirm = async (): Promise<Confirmation> => {
      const availableAt = this.now().getTime();
      const [found, meta, stored] = await Promise.all([
        this.deps.volumes.getWithHolds(volumeId),
        this.deps.metas.get(volumeId, partition),
        this.deps.chunkMaps.get(this.log(viewMeta, 'primary')),
      ]);
      if (!found) throw new VolumeNotFoundError(volumeId);
      if (found.volume.state !== 'available') throw new VolumeStateError(volumeId, found.volume.state, 'flush it');
      const current = meta?.primary.replicaId === viewMeta.primary.replicaId && meta.epoch === viewMeta.epoch;
      if (!current || stored?.version !== before?.version) return { current: false, availableAt };
      // A snapshot that holds the flush below the head's newest op needs the log up to its op.
      return { current: (await this.heldAt(volumeId, partition, target, found.holds)) === target, availableAt };
    };
    await head.replicateThrough(target);
    return { meta: viewMeta, head, before, view, target, confirm };
  }

  /**
   * Throws unless the volume is still available: as read at `availableAt`, if that was less
   * than VOLUME_CACHE_MS ago (a delete that began since then has not removed anything yet,
   * and will remove what this flush put), else as read now.
   */
  private async stillAvailable(volumeId: string, availableAt: number): Promise<void> {
    if (this.now().getTime() - availableAt < VOLUME_CACHE_MS) return;
    const volume = await this.deps.volumes.get(volumeId);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (volume.state !== 'available') throw new VolumeStateError(volumeId, volume.state, 'flush it');
  }

  /** Removes chunk objects this flush put and nothing names, nor ever will. */
  private async removeUnnamed(head: PartitionHead, refs: readonly ChunkRef[]): Promise<void> {
    if (refs.length === 0) return;
    head.forgetChunks(refs.map((ref) => ref.key));
    await this.deps.chunks.removeAll(refs).catch(() => undefined);
  }

  /**
   * The plan from the log, when no head here holds the lease: up to `uptoOp`, but never past
   * an op the secondary does not hold yet. A failover keeps only the secondary's ops, and the
   * new primary's next op must come after its base.
   */
  private async planFromLog({ volumeId, partition, uptoOp }: FlushMessage): Promise<FlushPlan | undefined> {
    const availableAt = this.now().getTime();
    const { volume, meta } = await this.partition(volumeId, partition);
    if (volume.state !== 'available') throw new VolumeStateError(volumeId, volume.state, 'flush it');
    if (!meta) return undefined;
    const head = this.deps.data.head(volume, partition);
    const [before, primaryTail, secondaryTail] = await Promise.all([
      this.deps.chunkMaps.get(this.log(meta, 'primary')),
      this.deps.logs.tail(this.log(meta, 'primary')),
      this.deps.logs.tail(this.log(meta, 'secondary')),
    ]);
    const newest = Math.min(primaryTail?.op ?? 0, secondaryTail?.op ?? 0);
    const target = await this.heldAt(volumeId, partition, Math.min(uptoOp, newest));
    const view = target > (before?.baseOp ?? 0) ? await head.viewAsOf(target, { meta, base: before }) : undefined;
    return { meta, head, before, view, target, confirm: () => Promise.resolve({ current: true, availableAt }) };
  }

  private async checkpointAt(meta: PartitionMeta, op: number, chunks: Readonly<Record<string, ChunkRef>>): Promise<CheckpointRecord> {
    // On the secondary's journal sled: a different link from the primary's, so losing one keeps the other.
    return this.deps.checkpoints.write(
      { volumeId: meta.volumeId, partition: meta.partition, op, epoch: meta.epoch, chunks, createdAt: this.now().toISOString() },
      meta.secondary.sled,
    );
  }

  /**
   * Checkpoints on demand: flushes up to the newest op first, so the checkpoint holds every
   * committed op, then writes one even if fewer than K ops have passed.
   */
  async checkpoint(volumeId: string, partition: number): Promise<CheckpointRecord> {
    const { volume, meta } = await this.partition(volumeId, partition);
    if (!meta) throw new PartitionNotFoundError(volumeId, partition, 0);
    await this.flush({ volumeId, partition, uptoOp: Number.MAX_SAFE_INTEGER });
    const map = await this.deps.chunkMaps.get(this.log(meta, 'primary'));
    const records = await this.deps.checkpoints.list(volumeId, partition);
    if (records[0] && records[0].op === (map?.baseOp ?? 0)) return records[0];
    const record = await this.checkpointAt(meta, map?.baseOp ?? 0, map?.chunks ?? {});
    await this.collect(this.deps.data.head(volume, partition), meta, [record, ...records], []);
    return record;
  }

  /** `known`: both replicas' chunk maps as they stand, when the caller just read or wrote them. */
  private async collect(
    head: PartitionHead,
    meta: PartitionMeta,
    records: CheckpointRecord[],
    superseded: readonly ChunkRef[],
    known?: ReadonlyArray<ChunkMap | undefined>,
  ): Promise<{ notesTrimmed: number; chunksCollected: number }> {
    const retained = records.slice(0, RETAINED_CHECKPOINTS);
    for (const old of records.slice(RETAINED_CHECKPOINTS)) await this.deps.checkpoints.remove(old);
    // Notes are trimmed below the oldest retained checkpoint that both maps have passed, so a
    // rebuild from any retained checkpoint (the newest may be corrupt) finds every note after it.
    // With one checkpoint nothing is trimmed: if it turns out corrupt, a full replay remains.
    const oldest = retained.length >= 2 ? (retained.at(-1)?.op ?? 0) : 0;
    if (superseded.length === 0 && oldest === 0) return { notesTrimmed: 0, chunksCollected: 0 };
    // A chunk version may go once no replica's map and no retained checkpoint names it (one
    // that cannot be read names nothing: a rebuild would not use it either).
    const maps = known ?? (await this.chunkMapsOf(meta));
    const checkpoints = superseded.length > 0 ? await this.readCheckpoints(retained) : [];
    const referenced = namedKeys([...maps, ...checkpoints]);
    // Both replicas' maps named the same old versions: each key once, in batched deletes.
    const garbage = [...new Map(superseded.filter((ref) => !referenced.has(ref.key)).map((ref) => [ref.key, ref])).values()];
    if (garbage.length > 0) {
      head.forgetChunks(garbage.map((ref) => ref.key));
      await this.deps.chunks.removeAll(garbage);
    }
    if (oldest === 0) return { notesTrimmed: 0, chunksCollected: garbage.length };
    // Each log keeps its newest entry: the next writer learns the next op number from it.
    const tails = await Promise.all(ROLES.map((role) => this.deps.logs.tail(this.log(meta, role))));
    const trimOp = Math.min(oldest, ...maps.map((map) => map?.baseOp ?? 0), ...tails.map((tail) => (tail?.op ?? 0) - 1));
    let notesTrimmed = 0;
    if (trimOp > 0) {
      for (const role of ROLES) {
        const log = this.log(meta, role);
        const entries = await this.deps.logs.range(log, 0, trimOp);
        await this.deps.journal.remove(meta[role].sled, log, noteIdsOf(entries));
        notesTrimmed += await this.deps.logs.trim(log, trimOp);
      }
    }
    return { notesTrimmed, chunksCollected: garbage.length };
  }

  /**
   * Removes the partition's orphans (see orphans.ts): chunk objects and notes older than the
   * grace that no map, checkpoint or log names. It lists first and reads the names after.
   * It leaves a partition alone while something may name an object it does not see: a copy
   * filling the volume, a snapshot being taken, a rebuild.
   */
  async sweep(volumeId: string, partition: number): Promise<SweepResult> {
    const { volume, meta } = await this.partition(volumeId, partition);
    const none = { chunksRemoved: 0, notesRemoved: 0 };
    if (!meta) return none;
    if (volume.state !== 'available') return { ...none, skipped: `the volume is ${volume.state}` };
    if (meta.rebuild) return { ...none, skipped: 'a replica is being rebuilt' };
    if ((await this.deps.volumes.holds(volumeId)).length > 0) return { ...none, skipped: 'a snapshot is being taken' };
    const [chunks, ...journals] = await Promise.all([
      this.deps.chunks.list(chunkKeyPrefix(volumeId, partition)),
      ...ROLES.map(async (replica) =>
        (await this.deps.journal.listWithTimes(meta[replica].sled, this.log(meta, replica))).map((note): ListedNote => ({ replica, ...note })),
      ),
    ]);
    const listedAt = this.now().getTime();
    const oldChunkObjects = oldChunks(chunks, listedAt);
    const oldNoteObjects = oldNotes(journals.flat(), listedAt);
    let chunksRemoved = 0;
    if (oldChunkObjects.length > 0) {
      const named = await this.namedChunks(meta);
      const orphans = named ? unnamed(oldChunkObjects, (object) => object.key, named) : [];
      if (orphans.length > 0) chunksRemoved = await this.deps.chunks.removeAll(orphans);
    }
    let notesRemoved = 0;
    if (oldNoteObjects.length > 0) {
      // A note either log names stays: the secondary's copy of an op only the primary holds yet
      // is what a later write or flush copies over.
      const logs = await Promise.all(ROLES.map((replica) => this.deps.logs.range(this.log(meta, replica), 0)));
      const named = new Set(noteIdsOf(logs.flat()));
      for (const replica of ROLES) {
        const orphans = unnamed(
          oldNoteObjects.filter((note) => note.replica === replica),
          (note) => note.noteId,
          named,
        );
        if (orphans.length === 0) continue;
        await this.deps.journal.remove(meta[replica].sled, this.log(meta, replica), orphans.map((note) => note.noteId));
        notesRemoved += orphans.length;
      }
    }
    return { chunksRemoved, notesRemoved };
  }

  /** A flush the queue delivered: one for a volume deleted (or being deleted) since it was asked for is done. */
  async flushQueued(message: FlushMessage): Promise<FlushResult | { readonly skipped: string }> {
    return this.flush(message).catch((error: unknown) => ({ skipped: volumeGoneReason(error) }));
  }

  /** A sweep the queue delivered: one for a volume deleted since it was asked for is done. */
  async sweepQueued({ volumeId, partition }: SweepMessage): Promise<SweepResult> {
    return this.sweep(volumeId, partition).catch((error: unknown) => ({ skipped: volumeGoneReason(error), chunksRemoved: 0, notesRemoved: 0 }));
  }

  /** The chunk keys both maps and every checkpoint name; undefined when a checkpoint cannot be read (then no key is known to be free). */
  private async namedChunks(meta: PartitionMeta): Promise<Set<string> | undefined> {
    const [maps, records] = await Promise.all([this.chunkMapsOf(meta), this.deps.checkpoints.list(meta.volumeId, meta.partition)]);
    const checkpoints = await this.readCheckpoints(records);
    return checkpoints.includes(undefined) ? undefined : namedKeys([...maps, ...checkpoints]);
  }

  private chunkMapsOf(meta: PartitionMeta): Promise<Array<ChunkMap | undefined>> {
    return Promise.all(ROLES.map((role) => this.deps.chunkMaps.get(this.log(meta, role))));
  }

  /** The checkpoints' contents, one after another; undefined for one that cannot be read. */
  private async readCheckpoints(records: readonly CheckpointRecord[]): Promise<Array<{ chunks: Readonly<Record<string, ChunkRef>> } | undefined>> {
    const checkpoints = [];
    for (const record of records) checkpoints.push(await this.deps.checkpoints.read(record).catch(() => undefined));
    return checkpoints;
  }

  /** Queues a flush of the partition (called after writes, every few ops). */
  async request(message: FlushMessage): Promise<void> {
    await this.deps.queue.sendAll([message]);
  }
}
