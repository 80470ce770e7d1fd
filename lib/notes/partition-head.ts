import { realClock, type Clock } from '../shared/clock.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { Extent } from './extent-index.js';
import type { FlushableHead } from './flushable-head.js';
import type { HeadCache } from './head-cache.js';
import { allocationOf, type AllocationExtent } from './head/allocation.js';
import { LeaseKeeper, outwaitLease as outwaitLeaseOn } from './head/head-lease.js';
import { GroupCommitter, type CommitResult, type GroupBounds, type GroupCommitted } from './head/group-commit.js';
import { HeadMemory } from './head/head-memory.js';
import { PartitionReader } from './head/partition-reader.js';
import { ReadExecutor, type ChunkReads } from './head/read-executor.js';
import { ownsObject } from '../volumes/volume.js';
import { ReplicationProtocol } from './head/replica-commit.js';
import type { Note, PartitionGeometry, PartitionView } from './head/types.js';
import { ViewTracker } from './head/view-tracker.js';
import { noteKeyOfId } from './note-ids.js';
import { logRef } from './ports.js';
import type { BorrowedChunkReads, ChunkMap, ChunkMapStore, ChunkRef, HeadLease, JournalStore, LogRef, NoteLogStore, PartitionMeta, PartitionMetaStore, ReplicaPlacement } from './ports.js';

export type { CrashPoint, Note, PartitionGeometry, PartitionView } from './head/types.js';
export type { AllocationExtent } from './head/allocation.js';
export type { CommitResult, GroupBounds, GroupCommitted } from './head/group-commit.js';
export { LEASE_MARGIN_MS } from './head/head-lease.js';
export { sameWrite } from './head/replica-commit.js';
export { initialMeta } from './head/view-tracker.js';

/** What a partition head is built from: the head node's stores, the sleds, and this process's memory and clock. */
export interface PartitionDeps {
  readonly metas: PartitionMetaStore;
  readonly logs: NoteLogStore;
  readonly journal: JournalStore;
  readonly chunkMaps: ChunkMapStore;
  readonly chunks: ChunkStore;
  /** Reads of chunks a copy target still borrows (absent: they are read where the map says). */
  readonly borrowedChunks?: BorrowedChunkReads;
  readonly sledCount: number;
  /** Length of the lease a head takes on its partition's primary log by writing to it (0: none). */
  readonly headLeaseMs?: number;
  /** This process's memory of committed notes and flushed chunks (absent: every read goes to its sled). */
  readonly cache?: HeadCache;
  /** The head's clock: leases, waits and the orphan limit go by it (absent: the machine's). */
  readonly clock?: Clock;
  /** Group commit bounds (absent: no grouping, each write its own op). */
  readonly groupCommit?: GroupBounds;
  /** Told of every committed group (a write alone is a group of one): for the GroupSize metric. */
  readonly onGroupCommitted?: (group: GroupCommitted & { readonly volumeId: string; readonly partition: number }) => void;
}

/** Waits out another head's lease and ends it (head/head-lease.ts); on the machine's clock unless given one (the rebuild has none). */
export const outwaitLease = (logs: Pick<NoteLogStore, 'wantLease' | 'breakLease'>, log: LogRef, op: number, lease: HeadLease, by: string, clock: Clock = realClock): Promise<boolean> =>
  outwaitLeaseOn(logs, log, op, lease, by, clock);

/**
 * This process's head of one partition: a facade over its parts, each with one concern. The
 * replica commit protocol (head/replica-commit.ts) takes op numbers and fences; the lease
 * (head/head-lease.ts) lets a steady writer skip the log; the view tracker (head/view-tracker.ts)
 * follows the log, failovers and flushes; reads plan (head/read-plan.ts) and execute
 * (head/read-executor.ts, head/partition-reader.ts); memory (head/head-memory.ts) keeps payloads,
 * chunk versions and images. Correctness never rests on what the parts cache: every commit is a
 * conditional append, and a stale view only costs a re-read.
 */
export class PartitionHead implements FlushableHead {
  private readonly lease: LeaseKeeper;
  private readonly memory: HeadMemory;
  private readonly view: ViewTracker;
  private readonly replication: ReplicationProtocol;
  private readonly executor: ReadExecutor;
  private readonly reader: PartitionReader;
  private readonly groups: GroupCommitter;

  constructor(
    private readonly deps: PartitionDeps,
    readonly volumeId: string,
    readonly partition: number,
    readonly geometry: PartitionGeometry,
  ) {
    const logOf = (replica: ReplicaPlacement) => this.logOf(replica);
    const clock = deps.clock ?? realClock;
    const leaseMs = deps.headLeaseMs ?? 0;
    this.lease = new LeaseKeeper(deps.logs, leaseMs, clock);
    this.memory = new HeadMemory(deps.cache, volumeId, partition, geometry, leaseMs > 0);
    this.view = new ViewTracker(
      { ...deps, volumeId, partition, logOf, onNewMeta: () => this.forgetAllButView(), basePassed: (op) => this.memory.forgetPayloadsThrough(op) },
      this.lease,
    );
    this.replication = new ReplicationProtocol(deps.logs, deps.journal, this.lease, clock, {
      currentMeta: () => this.view.meta,
      loadMeta: () => this.loadMeta(true),
      storedMeta: () => deps.metas.get(volumeId, partition),
      logOf,
      fence: () => this.invalidate(),
      appended: (meta, entry, payload, claim) => {
        this.memory.applyToImages(this.view.meta === meta, entry, payload);
        this.lease.hold(entry.op, claim);
        if (claim) this.view.ownAppend(meta, entry);
      },
      committed: (entry, payload) => this.memory.keepPayload(entry, payload),
    }, { volumeId, partition });
    const announce = deps.onGroupCommitted;
    this.groups = new GroupCommitter(
      (note, appended) => this.replication.write(note, appended),
      deps.groupCommit ?? { maxWrites: 1, maxBytes: 0, tableNoteBytes: 0 },
      announce && ((group) => announce({ ...group, volumeId, partition })),
    );
    this.executor = new ReadExecutor(deps.journal, this.sledReads(), this.memory, geometry, logOf);
    this.reader = new PartitionReader(this.view, this.executor);
  }

  /** Chunk reads for the executor: a chunk the volume does not own (a copy target's borrowed one) goes through `borrowedChunks`. */
  private sledReads(): ChunkReads {
    const { chunks, borrowedChunks } = this.deps;
    if (!borrowedChunks) return chunks;
    const { volumeId, partition } = this;
    return {
      read: (ref, start, length) => (ownsObject(volumeId, ref.key) ? chunks.read(ref, start, length) : borrowedChunks.read(volumeId, partition, ref, start, length)),
    };
  }

  /** The op of each keyed write this head has seen, by note key (for idempotent retries; tests look at it). */
  get noteOps(): ReadonlyMap<string, number> {
    return this.view.noteOps;
  }

  /** The log of one replica of this partition. */
  logOf(replica: ReplicaPlacement): LogRef {
    return logRef(this.volumeId, this.partition, replica.replicaId);
  }

  /** The partition metadata; with `create`, places the replicas on first use. */
  async loadMeta(create: true): Promise<PartitionMeta>;
  async loadMeta(create: boolean): Promise<PartitionMeta | undefined>;
  async loadMeta(create: boolean): Promise<PartitionMeta | undefined> {
    return this.view.loadMeta(create);
  }

  /** Forgets everything cached, after a fence or a failover. */
  invalidate(): void {
    this.view.reset();
    this.forgetAllButView();
  }

  /** What a new metadata makes stale besides the view: the lease, the tails, and the images (their ops may not be the log's). */
  private forgetAllButView(): void {
    this.lease.drop();
    this.replication.forgetTails();
    this.memory.dropImages();
  }

  /** The process no longer keeps this head: its images give their memory back. */
  dispose(): void {
    this.memory.dispose();
  }

  /** Runs the write protocol for one note (see head/replica-commit.ts); returns the op once both replicas hold it. */
  async write(note: Note): Promise<number> {
    return (await this.commit(note)).op;
  }

  /**
   * Commits a note, grouped with concurrent ones (head/group-commit.ts) unless it is keyed (an
   * Idempotency-Key's retry finds its op by the note id): its op, once both replicas hold it,
   * and the size of the group it went in.
   */
  commit(note: Note): Promise<CommitResult> {
    return this.groups.submit(note, noteKeyOfId(note.noteId) !== undefined);
  }

  /** The op under which the primary committed a note of `noteKey` (see note-ids.ts), if it did: for idempotent retries. */
  async committedOp(noteKey: string): Promise<number | undefined> {
    const meta = await this.loadMeta(false);
    if (!meta) return undefined;
    await this.view.refresh(meta);
    return this.view.noteOps.get(noteKey);
  }

  /** Makes sure the secondary holds op `op` of the primary (finishing an interrupted write). */
  async ensureReplicated(op: number): Promise<void> {
    const meta = await this.loadMeta(true);
    const entry = await this.deps.logs.get(this.logOf(meta.primary), op);
    if (!entry) throw new Error(`op ${op} is not on the primary of partition ${this.partition}`);
    await this.replication.commitSecondary(meta, entry);
  }

  /** Makes sure the secondary holds every op of the primary up to `op` (a flush never passes the secondary). */
  replicateThrough(op: number): Promise<void> {
    return this.replication.replicateThrough(op);
  }

  /**
   * The allocation map of [offset, offset + length) (inside this partition): which runs hold
   * data and which read as zeros, through a view as fresh as a read's (see head/allocation.ts).
   */
  async allocation(offset: number, length: number): Promise<AllocationExtent[]> {
    const meta = await this.view.loadMeta(false);
    if (!meta) return [{ offset, length, type: 'zero' }]; // never written nor copied
    const view = this.view.underLease(meta) ? this.view.current(meta) : await this.view.refresh(meta);
    return allocationOf(view.index.lookup(offset, length), view.base, this.geometry, offset, length);
  }

  /** Reads [offset, offset + length) of the volume (inside this partition) into `into` at `at`. */
  read(offset: number, length: number, into: Buffer, at: number): Promise<void> {
    return this.reader.read(offset, length, into, at);
  }

  /** Reads [offset, offset + length) into a new buffer, with no copy when one object holds it all under the lease. */
  readBuffer(offset: number, length: number): Promise<Buffer> {
    return this.reader.readBuffer(offset, length);
  }

  /**
   * This head's view when it is the log's truth (under its lease, renewed if it ran out): a
   * copy of the index up to the head's newest op, which later writes do not change. A flush
   * in this process works from it, without reading the log. Undefined without a lease.
   */
  async trustedView(): Promise<PartitionView | undefined> {
    const meta = this.view.meta;
    if (!meta || !this.lease.held) return undefined;
    if (!this.view.underLease(meta)) {
      // The view may lag the lease by the ops appended while it was built: one query catches up.
      await this.view.catchUpToLease(meta);
      if (this.lease.expired) await this.lease.renew(this.logOf(meta.primary));
    }
    if (!this.view.trusted(meta)) return undefined;
    const { base, index } = this.view.current(meta);
    const images = this.memory.imagesThrough(index.lastOp);
    return { meta, base, index: index.clone(), ...(images ? { images } : {}) };
  }

  /**
   * A flush in this process moved the primary's chunk map from `before` to `after`, putting
   * `built` (chunk number to bytes): the view takes the new base if it was still on `before`,
   * so reads go on without asking the log, and the chunk images become whole chunks.
   */
  adoptFlushed(before: ChunkMap | undefined, after: ChunkMap, built: ReadonlyMap<number, Buffer> = new Map()): void {
    this.memory.flushed(after.baseOp, built);
    this.view.adoptFlushed(before, after);
  }

  /** The partition as of op `uptoOp` (for a snapshot or a flush), built from the log; `from`: metadata and map already read. */
  viewAsOf(uptoOp: number, from?: { readonly meta: PartitionMeta; readonly base: ChunkMap | undefined }): Promise<PartitionView> {
    return this.view.viewAsOf(uptoOp, from);
  }

  /** Reads a range through a view: notes first, the chunk map under them, zeros under both. */
  async readView(view: PartitionView, offset: number, length: number, into: Buffer, at: number): Promise<void> {
    await this.startViewRead(view, offset, length, into, at);
  }

  /** Starts a read through a view: copies what memory holds now, returns the sled reads still to make (see head/read-executor.ts). */
  startViewRead(view: PartitionView, offset: number, length: number, into: Buffer, at: number, known?: Extent[]): Promise<void> | undefined {
    return this.executor.start(view, offset, length, into, at, known);
  }

  /** A chunk version's bytes: from the cache, else read whole from its sled. */
  chunkBytes(ref: ChunkRef, length: number): Buffer | Promise<Buffer> {
    return this.memory.chunk(ref.key) ?? this.deps.chunks.read(ref, 0, length);
  }

  /** Keeps a chunk version this process just put, so the next flush of that chunk reads nothing back. */
  rememberChunk(key: string, bytes: Buffer): void {
    this.memory.rememberChunk(key, bytes);
  }

  /** Forgets chunk versions that were collected. */
  forgetChunks(keys: Iterable<string>): void {
    this.memory.forgetChunks(keys);
  }
}
