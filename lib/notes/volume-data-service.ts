import { clockReading } from '../shared/clock.js';
import { mapLimit } from '../shared/concurrency.js';
import { sha256Hex } from '../shared/hashing.js';
import { IdempotencyInProgressError, IdempotencyKeyMismatchError, PartitionNotFoundError, ValidationError, VolumeNotFoundError, VolumeStateError } from '../errors.js';
import type { VolumeDataStore, VolumeRepository } from '../volumes/ports.js';
import type { HeadDirectory } from './flushable-head.js';
import { servesData, type Volume } from '../volumes/volume.js';
import { partitionRange, splitByPartition, validateIo, type PartitionSlice } from './geometry.js';
import { mergeRuns, type AllocationExtent } from './head/allocation.js';
import { keyedNoteId, noteIdsOf, noteKeyOf, randomNoteId, type NotePlace } from './note-ids.js';
import { PartitionHead, initialMeta, type PartitionDeps } from './partition-head.js';
import { retryUncommitted } from './retry-uncommitted.js';
import type { IdempotencyStore, LogEntry, NoteExtent, PartitionMeta, ReplicaPlacement } from './ports.js';
import { noTelemetry, type Telemetry } from '../observability/telemetry.js';
import type { PartitionStatus, ReplicaStatus } from './partition-status.js';

export interface WriteResult {
  readonly ops: ReadonlyArray<{ readonly partition: number; readonly op: number }>;
}

export type { PartitionStatus, ReplicaStatus } from './partition-status.js';

/** How a caller wants its write committed, beyond the write itself. */
export interface WritePolicy {
  /**
   * For how long each partition's note is sent again when a failover fenced it before its
   * commit (nothing of it took effect). Unset: the write fails with 503 `Fenced` at once. HTTP
   * clients retry that themselves under an Idempotency-Key, and API Gateway gives a request
   * 29 s; an NBD client has no way to retry and would pass EIO to its file system.
   */
  readonly retryUncommittedMs?: number;
}

export interface VolumeDataOptions {
  /** An in-progress Idempotency-Key claim older than this is taken over (its writer died). */
  readonly idempotencyLeaseMs?: number;
  readonly clock?: () => number;
  /** Ask for a flush of a partition every this many ops (0: never). */
  readonly flushEveryOps?: number;
  /** Notes of at most this many bytes are kept in the partitions table, not on the journal sled (0 or absent: none). */
  readonly tableNoteBytes?: number;
  /** Queues a flush; a failure to queue is logged, never fails the write: the next trigger covers it. */
  readonly requestFlush?: (message: { volumeId: string; partition: number; uptoOp: number; orNewer: boolean }) => Promise<void>;
  /** Where each committed op and served read is reported (latency, bytes, group size). */
  readonly telemetry?: Telemetry;
}

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,128}$/;
const MAX_CACHED_HEADS = 8192;
/** How long a process trusts that a volume is available without asking again. */
export const VOLUME_CACHE_MS = 1000;

const sha256 = sha256Hex;
const EMPTY = Buffer.alloc(0);
const EMPTY_SHA256 = sha256(EMPTY);

function checkKey(idempotencyKey: string | undefined): void {
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new ValidationError('Idempotency-Key must be 1 to 128 letters, digits or _ . : -');
  }
}

/** The data path of volumes: writes through the note protocol, reads through the extent index. */
export class VolumeDataService implements VolumeDataStore, HeadDirectory {
  private readonly heads = new Map<string, PartitionHead>();
  private readonly volumeCache = new Map<string, { volume: Volume; at: number }>();

  constructor(
    private readonly volumes: VolumeRepository,
    private readonly deps: PartitionDeps & {
      readonly idempotency: IdempotencyStore;
      readonly checkpoints?: { list(volumeId: string, partition: number): Promise<Array<{ op: number; key: string; sha256: string }>> };
    },
    private readonly options: VolumeDataOptions = {},
  ) {}

  /** This process's head node of the partition, if it has one already. */
  existingHead(volumeId: string, partition: number): PartitionHead | undefined {
    return this.heads.get(`${volumeId}#${partition}`);
  }

  private dropHead(key: string): void {
    this.heads.get(key)?.dispose();
    this.heads.delete(key);
  }

  /** This process's head node of one partition of `volume`. */
  head(volume: Pick<Volume, 'volumeId' | 'sizeBytes' | 'chunkSizeBytes' | 'partitionChunks'>, partition: number): PartitionHead {
    const { volumeId } = volume;
    const key = `${volumeId}#${partition}`;
    let head = this.heads.get(key);
    if (head) {
      // Re-insert so the map's order is least-recently-used first.
      this.heads.delete(key);
    } else {
      const { chunkSizeBytes, partitionChunks, sizeBytes: volumeBytes } = volume;
      const geometry = { start: partition * chunkSizeBytes * partitionChunks, chunkSizeBytes, partitionChunks, volumeBytes };
      // The process's clock, when a test sets one, is its heads' clock too.
      head = new PartitionHead(this.options.clock ? { ...this.deps, clock: clockReading(this.options.clock) } : this.deps, volumeId, partition, geometry);
      if (this.heads.size >= MAX_CACHED_HEADS) this.dropHead(this.heads.keys().next().value as string);
    }
    this.heads.set(key, head);
    return head;
  }

  private async availableVolume(volumeId: string, operation: string): Promise<Volume> {
    // An available volume is remembered briefly: its geometry never changes, and a delete
    // waits out this lifetime after marking the volume deleting (VolumeService.delete).
    const cached = this.volumeCache.get(volumeId);
    const now = (this.options.clock ?? Date.now)();
    if (cached && now - cached.at < VOLUME_CACHE_MS) return cached.volume;
    const volume = await this.volumes.get(volumeId);
    if (volume && servesData(volume.state)) {
      if (this.volumeCache.size >= MAX_CACHED_HEADS) this.volumeCache.clear();
      this.volumeCache.set(volumeId, { volume, at: now });
    }
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (!servesData(volume.state)) throw new VolumeStateError(volumeId, volume.state, operation);
    return volume;
  }

  /**
   * Writes `data` at `offset`. The part in each partition commits atomically under one op;
   * a write that spans partitions commits one op per partition, in parallel.
   */
  async write(volumeId: string, offset: number, data: Buffer, idempotencyKey?: string, policy: WritePolicy = {}): Promise<WriteResult> {
    checkKey(idempotencyKey);
    const started = performance.now();
    const volume = await this.availableVolume(volumeId, 'write to it');
    validateIo(volume, offset, data.length, 'write');
    if (idempotencyKey === undefined) return this.writeParts(volume, offset, data, undefined, started, policy);
    const fingerprint = sha256(`${offset}:${data.length}:${sha256(data)}`);
    return this.once(volume, idempotencyKey, fingerprint, () => this.writeParts(volume, offset, data, idempotencyKey, started, policy));
  }

  /**
   * Makes [offset, offset + length) read as zeros (a discard or write-zeroes, of any size up to
   * the whole volume): one zero note, with no payload, per partition the range touches, each one
   * op, committed like any write (in parallel; each partition's part is atomic).
   */
  async zero(volumeId: string, offset: number, length: number, idempotencyKey?: string, policy: WritePolicy = {}): Promise<WriteResult> {
    checkKey(idempotencyKey);
    const started = performance.now();
    const volume = await this.availableVolume(volumeId, 'zero a range of it');
    validateIo(volume, offset, length, 'zero');
    const run = () =>
      this.commitParts(volume, offset, length, idempotencyKey, started, policy, (slice) => ({
        payload: EMPTY,
        sha256: EMPTY_SHA256,
        place: 'sled',
        extents: [{ offset: slice.offset, length: slice.length, zero: true }],
      }));
    if (idempotencyKey === undefined) return run();
    // A zero's fingerprint cannot equal a write's: a write's has a body digest in it.
    return this.once(volume, idempotencyKey, sha256(`zero:${offset}:${length}`), run);
  }

  /**
   * The allocation map of [offset, offset + length) (default: the whole volume): merged runs,
   * in offset order and covering the range, of data or of zeros. Ranges the notes wrote since
   * the last flush are exact to the 4 KiB block; flushed ranges are exact to the chunk (a chunk
   * the chunk map names is data, even where its bytes are zeros).
   */
  async allocation(volumeId: string, offset = 0, length?: number): Promise<AllocationExtent[]> {
    const volume = await this.availableVolume(volumeId, 'map its allocation');
    const size = length ?? volume.sizeBytes - offset;
    validateIo(volume, offset, size, 'allocation');
    const slices = splitByPartition(volume, offset, size);
    return mergeRuns(await mapLimit(slices, 16, (slice) => this.head(volume, slice.partition).allocation(slice.offset, slice.length)));
  }

  /** Runs `run` once per Idempotency-Key: a retry gets the first result, a different request under the key is refused. */
  private async once(volume: Volume, key: string, fingerprint: string, run: () => Promise<WriteResult>): Promise<WriteResult> {
    const clock = this.options.clock ?? Date.now;
    const lease = this.options.idempotencyLeaseMs ?? 60_000;
    const record = await this.deps.idempotency.claim(volume.volumeId, key, fingerprint, clock());
    if (record.state !== 'claimed') {
      if (record.fingerprint !== fingerprint) throw new IdempotencyKeyMismatchError(key);
      if (record.state === 'done') return record.result as WriteResult;
      const stale = clock() - record.claimedAt > lease;
      if (!stale || !(await this.deps.idempotency.takeOver(volume.volumeId, key, record.claimedAt, clock()))) {
        throw new IdempotencyInProgressError(key);
      }
    }
    try {
      const result = await run();
      await this.deps.idempotency.complete(volume.volumeId, key, result);
      return result;
    } catch (error) {
      await this.deps.idempotency.release(volume.volumeId, key).catch(() => undefined);
      throw error;
    }
  }

  private writeParts(volume: Volume, offset: number, data: Buffer, idempotencyKey: string | undefined, started: number, policy: WritePolicy): Promise<WriteResult> {
    return this.commitParts(volume, offset, data.length, idempotencyKey, started, policy, (slice) => {
      const payload = data.subarray(slice.bufferOffset, slice.bufferOffset + slice.length);
      return { payload, sha256: sha256(payload), place: payload.length <= (this.options.tableNoteBytes ?? 0) ? 'table' : 'sled' };
    });
  }

  /** Commits one note per partition that [offset, offset + length) touches, in parallel; `noteOf` makes each. */
  private async commitParts(
    volume: Volume,
    offset: number,
    length: number,
    idempotencyKey: string | undefined,
    started: number,
    policy: WritePolicy,
    noteOf: (slice: PartitionSlice) => { payload: Buffer; sha256: string; place: NotePlace; extents?: NoteExtent[] },
  ): Promise<WriteResult> {
    const slices = splitByPartition(volume, offset, length);
    const ops = await Promise.all(
      slices.map(async (slice) => {
        const head = this.head(volume, slice.partition);
        // With an Idempotency-Key the note id starts with the key's, so a retry after a crash
        // finds an earlier attempt's commit; each attempt still puts a note of its own.
        const noteKey = idempotencyKey === undefined ? undefined : noteKeyOf(volume.volumeId, idempotencyKey, slice.partition);
        if (noteKey) {
          const committed = await head.committedOp(noteKey);
          if (committed !== undefined) {
            await head.ensureReplicated(committed);
            return { partition: slice.partition, op: committed };
          }
        }
        const { place, ...note } = noteOf(slice);
        // Grouped with concurrent writes to the partition unless keyed: one op for the group.
        // Each attempt is a note of its own.
        const commit = () => head.commit({ noteId: noteKey ? keyedNoteId(noteKey, place) : randomNoteId(place), offset: slice.offset, ...note });
        const { op, writes, leadsOp } = await (policy.retryUncommittedMs ? retryUncommitted(commit, policy.retryUncommittedMs) : commit());
        const { volumeId } = volume;
        this.telemetry.writeCommitted({ volumeId, partition: slice.partition, op, latencyMs: performance.now() - started, groupSize: writes, bytes: note.payload.length, leadsOp });
        const every = this.options.flushEveryOps ?? 0;
        if (every > 0 && op % every === 0 && this.options.requestFlush) {
          this.options.requestFlush({ volumeId: volume.volumeId, partition: slice.partition, uptoOp: op, orNewer: true }).catch((error: unknown) => {
            console.error(`could not queue a flush of ${volume.volumeId} partition ${slice.partition}`, error);
          });
        }
        return { partition: slice.partition, op };
      }),
    );
    return { ops };
  }

  /** Reads [offset, offset + length): the newest committed bytes, zeros where nothing was written. */
  async read(volumeId: string, offset: number, length: number): Promise<Buffer> {
    const started = performance.now();
    const volume = await this.availableVolume(volumeId, 'read from it');
    validateIo(volume, offset, length, 'read');
    const slices = splitByPartition(volume, offset, length);
    const buffer = await this.readSlices(volume, slices, length);
    const partition = slices[0]?.partition ?? 0;
    this.telemetry.readServed({ volumeId, partition, partitions: slices.length, latencyMs: performance.now() - started, bytes: length });
    return buffer;
  }

  private async readSlices(volume: Volume, slices: ReturnType<typeof splitByPartition>, length: number): Promise<Buffer> {
    const [only] = slices;
    if (slices.length === 1 && only) return this.head(volume, only.partition).readBuffer(only.offset, only.length);
    const buffer = Buffer.alloc(length);
    await Promise.all(
      slices.map((slice) =>
        this.head(volume, slice.partition).read(slice.offset, slice.length, buffer, slice.bufferOffset),
      ),
    );
    return buffer;
  }

  private get telemetry(): Telemetry {
    return this.options.telemetry ?? noTelemetry;
  }

  /** Both replicas of a partition: epoch, last committed op, and notes recorded but not committed. */
  async partitionStatus(volumeId: string, partition: number): Promise<PartitionStatus> {
    const volume = await this.volumes.get(volumeId);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (!Number.isInteger(partition) || partition < 0 || partition >= volume.partitionCount) {
      throw new PartitionNotFoundError(volumeId, partition, volume.partitionCount);
    }
    const stored = await this.deps.metas.get(volumeId, partition);
    const meta: PartitionMeta = stored ?? initialMeta(volumeId, partition, this.deps.sledCount);
    const head = this.head(volume, partition);
    const describe = async (role: 'primary' | 'secondary', replica: ReplicaPlacement): Promise<ReplicaStatus> => {
      const log = head.logOf(replica);
      const [entries, notes] = stored
        ? await Promise.all([this.deps.logs.range(log, 0), this.deps.journal.list(replica.sled, log)])
        : [[] as LogEntry[], [] as string[]];
      const committed = new Set(noteIdsOf(entries));
      const last = entries.at(-1);
      return {
        role,
        replicaId: replica.replicaId,
        sled: replica.sled,
        epoch: Math.max(meta.epoch, last?.epoch ?? 0),
        lastCommittedOp: last?.op ?? (await this.deps.chunkMaps.get(log))?.baseOp ?? 0,
        pendingNotes: notes.filter((noteId) => !committed.has(noteId)),
      };
    };
    const [primary, secondary] = await Promise.all([describe('primary', meta.primary), describe('secondary', meta.secondary)]);
    const { start, end } = partitionRange(volume, partition);
    const [base, checkpoints] = await Promise.all([
      this.deps.chunkMaps.get(head.logOf(meta.primary)),
      this.deps.checkpoints?.list(volumeId, partition) ?? Promise.resolve([]),
    ]);
    const latest = checkpoints[0];
    return {
      flushedOp: base?.baseOp ?? 0,
      checkpoint: latest ? { op: latest.op, key: latest.key, sha256: latest.sha256 } : null,
      rebuild: {
        state: meta.rebuild ? 'rebuilding' : 'idle',
        ...(meta.rebuild ? { replicaId: meta.rebuild.replicaId } : {}),
        ...(meta.lastRebuild ? { last: meta.lastRebuild } : {}),
      },
      volumeId,
      partition,
      offset: start,
      sizeBytes: end - start,
      initialized: stored !== undefined,
      epoch: meta.epoch,
      primary,
      secondary,
      inSync: primary.lastCommittedOp === secondary.lastCommittedOp,
    };
  }

  /** Removes the head-node state of every partition of the volume (its metadata and logs). */
  async removeVolumeData(volumeId: string): Promise<number> {
    const partitions = await this.deps.metas.listPartitions(volumeId);
    for (const partition of partitions) {
      const meta = await this.deps.metas.get(volumeId, partition);
      const replicaIds = meta ? Array.from({ length: meta.replicaGeneration }, (_, i) => `r${i + 1}`) : [];
      await this.deps.metas.removePartition(volumeId, partition, replicaIds);
      this.dropHead(`${volumeId}#${partition}`);
    }
    return 0;
  }
}
