import { randomBytes } from 'node:crypto';
import { ChunkGoneError, ConcurrentModificationError, FencedError, NoteGoneError } from '../errors.js';
import { noteKeyOfId } from './note-ids.js';
import { MAX_UNNAMED_MS } from '../shared/orphan-limits.js';
import { journalSleds } from '../sleds/placement.js';
import type { FlushableHead } from './flushable-head.js';
import { ChunkImages, type FrozenImages, type ImageBudget } from './chunk-images.js';
import { ExtentIndex, type Extent } from './extent-index.js';
import type { HeadCache, PartitionCache } from './head-cache.js';
import type { ChunkStore } from '../sleds/ports.js';
import type {
  ChunkMap,
  ChunkRef,
  HeadLease,
  TailEntry,
  ChunkMapStore,
  JournalStore,
  NotePart,
  LogEntry,
  LogRef,
  NoteLogStore,
  PartitionMeta,
  PartitionMetaStore,
  ReplicaPlacement,
  WriteEntry,
} from './ports.js';
import { logRef } from './ports.js';
import { SerialQueue, mapLimit } from '../shared/concurrency.js';
import { FAILPOINTS, failpoint } from '../faults.js';

/**
 * Points in the write protocol where a test can make the process "crash": the `step` of the
 * FAILPOINTS.write failpoint (lib/faults.ts), armed with armFailpoint.
 */
export type CrashPoint = 'after-payload' | 'after-pending-note' | 'after-primary-commit' | 'after-secondary-commit';

export interface PartitionDeps {
  readonly metas: PartitionMetaStore;
  readonly logs: NoteLogStore;
  readonly journal: JournalStore;
  readonly chunkMaps: ChunkMapStore;
  readonly chunks: ChunkStore;
  readonly sledCount: number;
  /** Length of the lease a head takes on its partition's primary log by writing to it (0: none). */
  readonly headLeaseMs?: number;
  /** This process's memory of committed notes and flushed chunks (absent: every read goes to its sled). */
  readonly cache?: HeadCache;
  readonly clock?: () => number;
}

/** Where a partition sits in its volume. */
export interface PartitionGeometry {
  /** Volume offset of the partition's first byte. */
  readonly start: number;
  readonly chunkSizeBytes: number;
  readonly partitionChunks: number;
  /** The volume's size: the last partition's last chunk may end before a whole chunk. */
  readonly volumeBytes: number;
}

/** What a partition holds as of some op: its chunk map and an index of the notes after it. */
export interface PartitionView {
  readonly meta: PartitionMeta | undefined;
  readonly base: ChunkMap | undefined;
  readonly index: ExtentIndex;
  /** The head's chunk images as of the index's newest op, when it has them. */
  readonly images?: FrozenImages;
}

/** A note to commit: its payload and where it goes in the volume. */
export interface Note {
  readonly noteId: string;
  readonly offset: number;
  readonly payload: Buffer;
  readonly sha256: string;
}

/** The metadata, chunk map and extent index this process reads through. */
interface HeadView {
  readonly meta: PartitionMeta;
  readonly base: ChunkMap | undefined;
  readonly index: ExtentIndex;
}

/** A promise's outcome, without throwing: a speculative read may be thrown away. */
async function settle(work: Promise<void>): Promise<{ error?: unknown }> {
  try {
    await work;
    return {};
  } catch (error) {
    return { error };
  }
}

interface Tail {
  readonly op: number;
  readonly epoch: number;
  readonly lease?: HeadLease;
  /** This head appended it. */
  readonly mine?: boolean;
}

/** The lease a head holds: on op `op` of the primary's log, stored as `until`; trusted until `trustedUntil`. */
interface HeldLease {
  readonly op: number;
  readonly until: number;
  readonly trustedUntil: number;
}

/**
 * How far two processes' clocks may disagree, and more: a holder stops trusting its lease this
 * long before it ends, and a waiting writer appends only this long after.
 */
export const LEASE_MARGIN_MS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const EMPTY_TAIL: Tail = { op: 0, epoch: 0 };
const MAX_APPEND_ATTEMPTS = 64;
const READ_CONCURRENCY = 16;
/** Note ids a head remembers for idempotent retries before it forgets the flushed ones. */
const MAX_REMEMBERED_NOTES = 65_536;
/** Own appends kept while the view is built; past this the next refresh asks the log for them. */
const MAX_UNAPPLIED = 4096;
const REBUILD_WAIT_MS = 30_000;

const tailOf = (entry: TailEntry | undefined): Tail =>
  entry ? { op: entry.op, epoch: entry.epoch, ...(entry.lease ? { lease: entry.lease } : {}) } : EMPTY_TAIL;

/** True when two log entries record the same op (the same note, or the same epoch change). */
export function sameWrite(a: LogEntry, b: LogEntry): boolean {
  if (a.kind !== b.kind || a.op !== b.op) return false;
  return a.kind === 'epoch' || (a.noteId === (b as WriteEntry).noteId && a.offset === (b as WriteEntry).offset);
}

/** The initial metadata of a partition: replicas r1 (primary) and r2 on two different sleds. */
export function initialMeta(volumeId: string, partition: number, sledCount: number): PartitionMeta {
  const [primarySled, secondarySled] = journalSleds(volumeId, partition, sledCount);
  return {
    volumeId,
    partition,
    epoch: 1,
    primary: { replicaId: 'r1', sled: primarySled },
    secondary: { replicaId: 'r2', sled: secondarySled },
    replicaGeneration: 2,
  };
}

/**
 * This process's view of one partition's head node. It caches what it has seen (the
 * metadata, the tails of both logs, the extent index), but correctness never rests on the
 * cache: every commit is a conditional append, and a stale view only costs a re-read.
 *
 * The rule that keeps op numbers dense and fencing sound with single-item writes: op n is
 * appended to a log only by a writer that has seen that log's op n-1 and checked its epoch.
 * A failover appends an epoch entry, so an older writer either finds its slot taken or sees
 * the newer epoch in the entry before it.
 */
export class PartitionHead implements FlushableHead {
  private meta: PartitionMeta | undefined;
  private metaLoading: Promise<PartitionMeta | undefined> | undefined;
  private primaryTail: Tail | undefined;
  private secondaryTail: Tail | undefined;
  private readonly primaryQueue = new SerialQueue();
  private readonly secondaryQueue = new SerialQueue();
  private readonly refreshQueue = new SerialQueue();
  private index = new ExtentIndex();
  /** The primary's chunk map that `index` starts from; meaningful once `baseKnown`. */
  private base: ChunkMap | undefined;
  private baseKnown = false;
  /** The op of each write made with an Idempotency-Key that this head has seen, by its note key. */
  private noteOps = new Map<string, number>();
  /** The notes this head put in the cache, in op order, until a flush passes them. */
  private cachedNotes: Array<{ readonly op: number; readonly noteId: string }> = [];
  private readonly cache: PartitionCache | undefined;
  /** The chunks as this head's own commits wrote them (with a lease and a cache only). */
  private images: ChunkImages | undefined;
  private readonly imageBudget: ImageBudget | undefined;
  /** The images ran out of room: none until this head's next flush. */
  private imagesPaused = false;
  private disposed = false;
  /** This head's own appends that came after its view while the view was being built. */
  private unapplied: WriteEntry[] = [];
  private catchingUp: Promise<void> | undefined;
  private refreshRequests = 0;
  private refreshedUpTo = 0;
  /** Names this head in the leases it takes; unique per process and partition. */
  private readonly holder = `h${randomBytes(8).toString('hex')}`;
  private held: HeldLease | undefined;
  private renewing: Promise<void> | undefined;
  private wantedCheckedAt = 0;
  /** Since when this head has held its lease without a lapse. */
  private leaseRunSince = 0;
  /** A writer elsewhere asked for the log: no new lease before this. */
  private yieldUntil = 0;

  constructor(
    private readonly deps: PartitionDeps,
    readonly volumeId: string,
    readonly partition: number,
    readonly geometry: PartitionGeometry,
  ) {
    this.cache = deps.cache?.partition(volumeId, partition);
    this.imageBudget = deps.cache?.imageBudget(() => this.dropImages());
  }

  /** The log of one replica of this partition. */
  logOf(replica: ReplicaPlacement): LogRef {
    return logRef(this.volumeId, this.partition, replica.replicaId);
  }

  /** The partition metadata; with `create`, places the replicas on first use. */
  async loadMeta(create: true): Promise<PartitionMeta>;
  async loadMeta(create: boolean): Promise<PartitionMeta | undefined>;
  async loadMeta(create: boolean): Promise<PartitionMeta | undefined> {
    if (this.meta) return this.meta;
    // One load at a time: concurrent first writers must share one view, or each would reset the other's.
    this.metaLoading ??= (async () => {
      try {
        let meta = await this.deps.metas.get(this.volumeId, this.partition);
        if (!meta && create) {
          meta = await this.deps.metas.createIfAbsent(initialMeta(this.volumeId, this.partition, this.deps.sledCount));
        }
        if (meta) this.adopt(meta);
        return meta;
      } finally {
        this.metaLoading = undefined;
      }
    })();
    const meta = await this.metaLoading;
    return meta ?? (create ? this.loadMeta(true) : undefined);
  }

  /**
   * The metadata once no rebuild is running: while a new secondary is built, writes wait,
   * so that every acknowledged write is on two replicas.
   */
  private async settledMeta(): Promise<PartitionMeta> {
    let meta = await this.loadMeta(true);
    const deadline = Date.now() + REBUILD_WAIT_MS;
    while (meta.rebuild) {
      if (Date.now() > deadline) {
        throw new FencedError(`Partition ${this.partition} of ${this.volumeId} is rebuilding a replica; the write waited ${REBUILD_WAIT_MS} ms. Retry it.`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
      this.invalidate();
      meta = await this.loadMeta(true);
    }
    return meta;
  }

  /** Forgets everything cached, after a fence or a failover. */
  invalidate(): void {
    this.held = undefined;
    this.meta = undefined;
    this.primaryTail = undefined;
    this.secondaryTail = undefined;
    this.index = new ExtentIndex();
    this.base = undefined;
    this.baseKnown = false;
    this.noteOps = new Map();
    this.unapplied = [];
    // Nothing is covered any more: the next refresh fills the new, empty index.
    this.refreshedUpTo = 0;
    // After a failover the ops this head applied may not be the log's any more.
    this.dropImages();
  }

  /** The process no longer keeps this head: its images give their memory back. */
  dispose(): void {
    this.disposed = true;
    this.dropImages();
  }

  private dropImages(): void {
    this.images?.dispose();
    this.images = undefined;
  }

  /**
   * Applies this head's own commit to its chunk images. Any op the head did not commit here
   * (another writer's, an epoch entry, an append whose outcome it never learned) leaves a gap:
   * the images start again from this op.
   */
  private applyToImages(meta: PartitionMeta, entry: WriteEntry, payload: Buffer): void {
    const budget = this.imageBudget;
    if (!budget || this.leaseMs <= 0 || this.disposed || this.imagesPaused) return;
    if (this.meta !== meta) {
      // Appended to a log this head no longer takes for the primary's.
      this.dropImages();
      return;
    }
    if (this.images?.apply(entry.op, entry.offset, payload)) return;
    const outOfRoom = this.images !== undefined && this.images.throughOp === entry.op - 1;
    this.dropImages();
    const images = new ChunkImages(this.geometry, budget, entry.op - 1);
    if (!outOfRoom && images.apply(entry.op, entry.offset, payload)) {
      this.images = images;
      return;
    }
    // Not even the room other heads' images held is enough: no images until the next flush
    // here, rather than new ones that fill up and go again at every write.
    images.dispose();
    this.imagesPaused = true;
  }

  /** Forgets the chunk map and the index (an object they named is gone), keeping the lease. */
  private forgetView(): void {
    this.unapplied = [];
    this.index = new ExtentIndex();
    this.base = undefined;
    this.baseKnown = false;
    this.refreshedUpTo = 0;
  }

  private adopt(meta: PartitionMeta): void {
    this.invalidate();
    this.meta = meta;
  }

  private fenced(why: string): FencedError {
    this.invalidate();
    return new FencedError(
      `Partition ${this.partition} of ${this.volumeId}: ${why}. The write was not acknowledged; retry it.`,
    );
  }

  /**
   * Runs the write protocol for one note: payload to the primary's journal (pending), copy
   * to the secondary's journal, commit on the primary under the next op, commit on the
   * secondary under the same op. Returns the op once both hold it.
   */
  async write(note: Note): Promise<number> {
    const meta = await this.settledMeta();
    const primary = this.logOf(meta.primary);
    const secondary = this.logOf(meta.secondary);
    const journalMeta = { offset: note.offset, sha256: note.sha256 };
    const notedAt = this.now();
    await this.deps.journal.put(meta.primary.sled, primary, note.noteId, note.payload, journalMeta);
    await this.crashPoint('after-payload');
    await this.deps.journal.put(meta.secondary.sled, secondary, note.noteId, note.payload, journalMeta);
    await this.crashPoint('after-pending-note');
    const entry = await this.commitPrimary(meta, note, notedAt);
    this.cachePayload(entry, note.payload);
    await this.crashPoint('after-primary-commit');
    await this.commitSecondary(meta, entry);
    await this.crashPoint('after-secondary-commit');
    return entry.op;
  }

  private crashPoint(step: CrashPoint): void | Promise<void> {
    return failpoint(FAILPOINTS.write, { step, volumeId: this.volumeId, partition: this.partition });
  }

  /** Keeps a committed note's payload in memory until a flush passes its op. */
  private cachePayload(entry: WriteEntry, payload: Buffer): void {
    if (!this.cache) return;
    this.cache.putNote(entry.noteId, payload);
    this.cachedNotes.push({ op: entry.op, noteId: entry.noteId });
  }

  /** Drops the cached payloads of notes up to `op`: the chunks hold their bytes now. */
  private forgetPayloadsThrough(op: number): void {
    if (!this.cache || this.cachedNotes.length === 0) return;
    let passed = 0;
    while (passed < this.cachedNotes.length && (this.cachedNotes[passed]?.op ?? Infinity) <= op) passed++;
    if (passed === 0) return;
    if (passed === this.cachedNotes.length) this.cache.forgetAllNotes();
    else this.cache.forgetNotes(this.cachedNotes.slice(0, passed).map((note) => note.noteId));
    this.cachedNotes = this.cachedNotes.slice(passed);
  }

  /** The op under which the primary committed a note of `noteKey` (see note-ids.ts), if it did: for idempotent retries. */
  async committedOp(noteKey: string): Promise<number | undefined> {
    const meta = await this.loadMeta(false);
    if (!meta) return undefined;
    await this.refresh(meta);
    return this.noteOps.get(noteKey);
  }

  /** Makes sure the secondary holds op `op` of the primary (finishing an interrupted write). */
  async ensureReplicated(op: number): Promise<void> {
    const meta = await this.loadMeta(true);
    const entry = await this.deps.logs.get(this.logOf(meta.primary), op);
    if (!entry) throw new Error(`op ${op} is not on the primary of partition ${this.partition}`);
    await this.commitSecondary(meta, entry);
  }

  private commitPrimary(meta: PartitionMeta, note: Note, notedAt: number): Promise<WriteEntry> {
    return this.primaryQueue.run(async () => {
      const log = this.logOf(meta.primary);
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
        if (this.meta !== meta) throw this.fenced('its metadata changed during the write');
        // A sweep takes a note no log names for an orphan once it is old enough (orphans.ts).
        if (this.now() - notedAt > MAX_UNNAMED_MS) {
          throw new ConcurrentModificationError(`Partition ${this.partition}: the write took too long to commit its note; it was not acknowledged, retry it`);
        }
        let tail = this.primaryTail ?? tailOf(await this.deps.logs.tail(log));
        this.primaryTail = tail;
        if (tail.epoch > meta.epoch) throw this.fenced(`epoch ${meta.epoch} was superseded by epoch ${tail.epoch}`);
        if (tail.lease && tail.lease.holder !== this.holder) {
          // Another head reads through its own view until its lease ends: wait it out, end it, then append.
          if (!(await outwaitLease(this.deps.logs, log, tail.op, tail.lease, this.holder, () => this.now()))) {
            this.primaryTail = undefined;
            continue;
          }
          tail = { op: tail.op, epoch: tail.epoch };
          this.primaryTail = tail;
        }
        const claim = await this.mayClaimLease(log, tail);
        const sentAt = this.now();
        const lease = claim ? { holder: this.holder, until: sentAt + this.leaseMs } : undefined;
        const entry: WriteEntry = {
          kind: 'write',
          op: tail.op + 1,
          epoch: meta.epoch,
          noteId: note.noteId,
          offset: note.offset,
          length: note.payload.length,
          sha256: note.sha256,
        };
        let appended: boolean;
        try {
          appended = await this.deps.logs.append(log, entry, lease);
        } catch (error) {
          // The append may or may not have landed; only a fresh read of the tail can tell.
          this.primaryTail = undefined;
          this.held = undefined;
          throw error;
        }
        if (appended) {
          this.primaryTail = { op: entry.op, epoch: entry.epoch, mine: true, ...(lease ? { lease } : {}) };
          this.applyToImages(meta, entry, note.payload);
          this.holdAfterAppend(meta, entry, lease, sentAt);
          return entry;
        }
        this.primaryTail = undefined;
      }
      throw new ConcurrentModificationError(`Partition ${this.partition}: too many writers raced for the next op`);
    });
  }

  private commitSecondary(meta: PartitionMeta, entry: LogEntry): Promise<void> {
    return this.secondaryQueue.run(async () => {
      const log = this.logOf(meta.secondary);
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
        const tail = this.secondaryTail ?? tailOf(await this.deps.logs.tail(log));
        this.secondaryTail = tail;
        if (tail.op >= entry.op) {
          const existing = await this.deps.logs.get(log, entry.op);
          if (existing && sameWrite(existing, entry)) return;
          throw this.fenced(`the secondary holds a different op ${entry.op}`);
        }
        if (tail.epoch > entry.epoch) throw this.fenced(`epoch ${entry.epoch} was superseded by epoch ${tail.epoch}`);
        if (tail.op < entry.op - 1) {
          await this.catchUpSecondary(meta, tail.op, entry.op - 1);
          continue;
        }
        let appended: boolean;
        try {
          appended = await this.deps.logs.append(log, entry);
        } catch (error) {
          this.secondaryTail = undefined;
          throw error;
        }
        if (appended) {
          this.secondaryTail = { op: entry.op, epoch: entry.epoch };
          return;
        }
        this.secondaryTail = undefined;
      }
      throw new ConcurrentModificationError(`Partition ${this.partition}: the secondary did not settle`);
    });
  }

  /**
   * Makes sure the secondary holds every op of the primary up to `op`, copying what a write
   * that stopped between its two commits left out. A flush never passes the secondary: a
   * failover keeps only the secondary's ops, and new ops would come after the base.
   */
  async replicateThrough(op: number): Promise<void> {
    const meta = this.meta;
    if (!meta || (this.secondaryTail?.op ?? 0) >= op) return;
    await this.secondaryQueue.run(async () => {
      if (this.meta !== meta) throw new ConcurrentModificationError(`Partition ${this.partition}: its metadata changed; retry`);
      const tail = this.secondaryTail ?? tailOf(await this.deps.logs.tail(this.logOf(meta.secondary)));
      this.secondaryTail = tail;
      if (tail.op < op) await this.catchUpSecondary(meta, tail.op, op);
    });
  }

  /** Copies ops (afterOp, uptoOp] from the primary's log: an earlier writer stopped between its two commits. */
  private async catchUpSecondary(meta: PartitionMeta, afterOp: number, uptoOp: number): Promise<void> {
    const missing = await this.deps.logs.range(this.logOf(meta.primary), afterOp, uptoOp);
    if (missing.length !== uptoOp - afterOp) {
      throw this.fenced(`the primary log lacks ops ${afterOp + 1} to ${uptoOp}`);
    }
    const log = this.logOf(meta.secondary);
    for (const entry of missing) {
      if (!(await this.deps.logs.append(log, entry))) {
        const existing = await this.deps.logs.get(log, entry.op);
        if (!existing || !sameWrite(existing, entry)) throw this.fenced(`the secondary holds a different op ${entry.op}`);
      }
      this.secondaryTail = { op: entry.op, epoch: entry.epoch };
    }
  }

  private get leaseMs(): number {
    return this.deps.headLeaseMs ?? 0;
  }

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  /**
   * A head takes a lease with an append that follows its own previous op (it writes this
   * partition steadily) or starts the log, unless a writer elsewhere asked for the log
   * lately; then it lets its lease lapse for two lease lengths.
   */
  private async mayClaimLease(log: LogRef, tail: Tail): Promise<boolean> {
    // Following its own op, or starting the log: no sign of another writer.
    if (this.leaseMs <= 0 || !(tail.mine || tail.op === 0)) return false;
    return this.noWriterWaits(log);
  }

  private async noWriterWaits(log: LogRef): Promise<boolean> {
    const now = this.now();
    if (now < this.yieldUntil) return false;
    const lapsed = !this.held || now >= this.held.trustedUntil;
    if (lapsed) this.leaseRunSince = now;
    // A lease held without a break could keep a writer elsewhere out for good: it looks once
    // the lease has run a lease length, and once a lease length after that. A new lease after
    // a lapse needs no look (the writer got its chance), unless wantedCheckedAt was reset.
    const due = this.wantedCheckedAt === 0 || (!lapsed && now - this.leaseRunSince >= this.leaseMs && now - this.wantedCheckedAt >= this.leaseMs);
    if (!due) return true;
    this.wantedCheckedAt = now;
    const wanted = await this.deps.logs.leaseWanted(log);
    // Its own mark, from when it waited out another head's lease, asks it for nothing.
    if (wanted !== undefined && wanted.by !== this.holder && wanted.at > now - 2 * this.leaseMs) {
      this.yieldUntil = now + 2 * this.leaseMs;
      this.held = undefined;
      return false;
    }
    return true;
  }

  /** After this head appended op `entry.op`: with a lease, its view is the log's truth once it holds every op before. */
  private holdAfterAppend(meta: PartitionMeta, entry: WriteEntry, lease: HeadLease | undefined, sentAt: number): void {
    if (!lease) {
      this.held = undefined;
      return;
    }
    this.held = { op: entry.op, until: lease.until, trustedUntil: sentAt + this.leaseMs - LEASE_MARGIN_MS };
    if (this.meta !== meta) return;
    if (this.baseKnown && this.index.lastOp === entry.op - 1) {
      applyEntry(this.index, entry, this.noteOps);
      return;
    }
    // A head that only writes builds its view once, with its first lease (the log is short
    // then), and keeps it current with its own appends, so a flush here never reads the log.
    // Appends that land while the view is built are kept and applied once it is.
    if (this.unapplied.length < MAX_UNAPPLIED) this.unapplied.push(entry);
    this.catchingUp ??= this.refresh(meta)
      .catch(() => undefined)
      .then(() => {
        this.catchingUp = undefined;
      });
  }

  /** True while nobody else can have appended after the ops this head's view holds. */
  private trusted(meta: PartitionMeta): boolean {
    const held = this.held;
    return held !== undefined && this.meta === meta && this.baseKnown && this.index.lastOp === held.op && this.now() < held.trustedUntil;
  }

  /**
   * Extends the held lease (one renewal at a time), unless a writer elsewhere waits for the
   * log. It may have ended: every writer after a leased op ends that lease first, so a
   * renewal that still finds it intact proves nobody appended since.
   */
  private renewLease(meta: PartitionMeta): Promise<void> {
    this.renewing ??= (async () => {
      const held = this.held;
      if (!held) return;
      const log = this.logOf(meta.primary);
      const startedAt = this.now();
      // After the end a writer may be waiting to append: always look then.
      if (startedAt >= held.trustedUntil) this.wantedCheckedAt = 0;
      const renewed = (await this.noWriterWaits(log)) && (await this.deps.logs.renewLease(log, held.op, { holder: this.holder, until: held.until }, startedAt + this.leaseMs));
      if (this.held !== held) return; // an append took a newer lease meanwhile
      this.held = renewed ? { op: held.op, until: startedAt + this.leaseMs, trustedUntil: startedAt + this.leaseMs - LEASE_MARGIN_MS } : undefined;
    })()
      .catch(() => {
        this.held = undefined;
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  /**
   * Brings this process's view (chunk map and extent index) up to the primary's newest op
   * with one query of its log; the chunk map is fetched again only when its version moved.
   * A refresh that starts after a caller asked covers that caller, so concurrent readers
   * share one query, yet none of them can miss a write acknowledged before it asked.
   */
  private refresh(meta: PartitionMeta): Promise<HeadView> {
    const ticket = ++this.refreshRequests;
    return this.refreshQueue.run(async () => {
      for (;;) {
        const current = this.index;
        const viewMeta = this.meta ?? meta;
        if (this.baseKnown && this.refreshedUpTo >= ticket) return { meta: viewMeta, base: this.base, index: current };
        const covers = this.refreshRequests;
        const log = this.logOf(viewMeta.primary);
        const changes = await this.deps.logs.changesSince(log, current.lastOp);
        // Invalidated meanwhile (a fence or a failover): start again from what is there now.
        if (this.index !== current) continue;
        if (changes.retired && (await this.followFailover(viewMeta))) continue;
        let base = this.base;
        let next = current;
        // Every committed keyed note this head has seen, flushed or not: an idempotent retry
        // must find its note even after a flush moved the index past it.
        const notes = this.noteOps;
        if (!this.baseKnown || changes.chunkMapVersion !== base?.version) {
          base = await this.deps.chunkMaps.get(log);
          if (this.index !== current) continue;
          const baseOp = base?.baseOp ?? 0;
          if (baseOp < current.afterOp) {
            // A chunk map never moves back: the log was dropped under this view.
            if (await this.followFailover(viewMeta)) continue;
            throw new Error(`partition ${this.partition}: the chunk map of replica ${viewMeta.primary.replicaId} went back from op ${current.afterOp} to ${baseOp}`);
          }
          if (baseOp > current.afterOp) {
            this.forgetPayloadsThrough(baseOp);
            // A flush moved the base past the index's start: the older notes may be gone. A new
            // index is filled before it replaces the old one, so no reader sees it half-built.
            next = new ExtentIndex(baseOp);
            const entries = await this.deps.logs.range(log, baseOp);
            if (this.index !== current) continue;
            for (const entry of entries) applyEntry(next, entry, notes);
          }
        }
        for (const entry of changes.entries) applyEntry(next, entry, notes);
        // This head's own appends after the query are in the log right after what it returned.
        for (const entry of this.unapplied) if (entry.op === next.lastOp + 1) applyEntry(next, entry, notes);
        this.unapplied = this.unapplied.filter((entry) => entry.op > next.lastOp);
        if (notes.size > MAX_REMEMBERED_NOTES) {
          // Flushed notes go first; their writers' retries are long over.
          for (const [noteId, op] of notes) if (op <= next.afterOp) notes.delete(noteId);
        }
        this.index = next;
        this.base = base;
        this.baseKnown = true;
        this.refreshedUpTo = Math.max(this.refreshedUpTo, covers);
        return { meta: viewMeta, base, index: next };
      }
    });
  }

  /**
   * The primary's log was retired (its replica is lost). True when the metadata now names
   * another primary, which this head adopts; false while the failover has not reached the
   * metadata yet, when the retired log is still the newest word.
   */
  private async followFailover(meta: PartitionMeta): Promise<boolean> {
    const fresh = await this.deps.metas.get(this.volumeId, this.partition);
    if (!fresh || fresh.primary.replicaId === meta.primary.replicaId) return false;
    this.adopt(fresh);
    return true;
  }

  /** Reads [offset, offset + length) of the volume (inside this partition) into `into` at `at`. */
  async read(offset: number, length: number, into: Buffer, at: number): Promise<void> {
    try {
      await this.readOnce(offset, length, into, at);
    } catch (error) {
      // A flush may have moved the base and collected the objects this read was about to use.
      if (!collected(error)) throw error;
      this.forgetView();
      await this.readOnce(offset, length, into, at);
    }
  }

  /**
   * Reads [offset, offset + length) of the volume (inside this partition) into a new buffer.
   * Under a lease, when one note or one chunk holds the whole range, the buffer is that
   * object's bytes as they came, with no copy (a read may be 4 MiB).
   */
  async readBuffer(offset: number, length: number): Promise<Buffer> {
    const meta = this.meta;
    if (meta && this.underLease(meta)) {
      const single = this.singleSource({ meta, base: this.base, index: this.index }, offset, length);
      if (single) {
        try {
          return await single();
        } catch (error) {
          if (!collected(error)) throw error;
          this.forgetView(); // a flush collected it: the general path starts again from fresh metadata
        }
      }
    }
    const into = Buffer.alloc(length);
    await this.read(offset, length, into, 0);
    return into;
  }

  /**
   * Under its lease a head reads through its view without asking the log. Near the end, and
   * after it, it extends the lease in the background; a read after the end meanwhile asks
   * the log as any other process would (one query beside its object reads).
   */
  private underLease(meta: PartitionMeta): boolean {
    if (!this.held || this.meta !== meta) return false;
    if (this.held.trustedUntil - this.now() < this.leaseMs / 3) void this.renewLease(meta);
    return this.trusted(meta);
  }

  /** The one object read that yields the whole range, if there is one. */
  private singleSource(view: HeadView, offset: number, length: number): (() => Promise<Buffer>) | undefined {
    const extents = view.index.lookup(offset, length);
    const only = extents[0];
    if (extents.length === 1 && only && only.offset === offset && only.length === length) {
      const cached = this.cachedPayload(only.noteId);
      // A copy: the cache's buffer must never leave this process's hands.
      if (cached) return () => Promise.resolve(Buffer.from(cached.subarray(offset - only.noteOffset, offset - only.noteOffset + length)));
      const { sled } = view.meta.primary;
      const log = this.logOf(view.meta.primary);
      return () => this.deps.journal.read(sled, log, only.noteId, offset - only.noteOffset, length);
    }
    if (extents.length > 0 || !view.base) return undefined;
    const { chunkSizeBytes, start } = this.geometry;
    const chunk = Math.floor((offset - start) / chunkSizeBytes);
    const chunkStart = start + chunk * chunkSizeBytes;
    const ref = view.base.chunks[String(chunk)];
    if (!ref || offset + length > chunkStart + chunkSizeBytes) return undefined;
    const cached = this.cache?.chunk(ref.key);
    if (cached) return () => Promise.resolve(Buffer.from(cached.subarray(offset - chunkStart, offset - chunkStart + length)));
    return () => this.deps.chunks.read(ref, offset - chunkStart, length);
  }

  private async readOnce(offset: number, length: number, into: Buffer, at: number): Promise<void> {
    const meta = await this.loadMeta(false);
    if (!meta) return; // never written nor copied: the buffer's zeros are the answer
    if (this.underLease(meta)) {
      await this.readView({ meta, base: this.base, index: this.index }, offset, length, into, at);
      return;
    }
    // With a view already held, its objects are read while the log is asked what changed:
    // the answer almost always confirms the view, and the read then costs no extra round trip.
    // Objects are immutable and never reused, so a confirmed view read exactly the right bytes.
    const known: HeadView | undefined = this.baseKnown && this.meta === meta ? { meta, base: this.base, index: this.index } : undefined;
    const knownOp = this.index.lastOp;
    const speculative = known ? settle(this.readView(known, offset, length, into, at)) : undefined;
    let current: HeadView;
    try {
      current = await this.refresh(meta);
    } catch (error) {
      await speculative;
      throw error;
    }
    if (speculative && known && current.meta === known.meta && current.base === known.base && current.index === known.index) {
      // The same view, unless an op that arrived meanwhile wrote into this range.
      if (!current.index.lookup(offset, length).some((extent) => extent.op > knownOp)) {
        const outcome = await speculative;
        if (outcome.error !== undefined) throw outcome.error;
        return;
      }
    }
    await speculative;
    into.fill(0, at, at + length);
    await this.readView(current, offset, length, into, at);
  }

  private cachedPayload(noteId: string): Buffer | undefined {
    return this.cache?.note(noteId);
  }

  /** A chunk version's bytes: from the cache, else read whole from its sled. */
  chunkBytes(ref: ChunkRef, length: number): Buffer | Promise<Buffer> {
    return this.cache?.chunk(ref.key) ?? this.deps.chunks.read(ref, 0, length);
  }

  /** Keeps a chunk version this process just put, so the next flush of that chunk reads nothing back. */
  rememberChunk(key: string, bytes: Buffer): void {
    this.cache?.putChunk(key, bytes);
  }

  /** Forgets chunk versions that were collected. */
  forgetChunks(keys: Iterable<string>): void {
    this.cache?.forgetChunks(keys);
  }

  /**
   * This head's view when it is the log's truth (under its lease, renewed if it ran out): a
   * copy of the index up to the head's newest op, which later writes do not change. A flush
   * in this process works from it, without reading the log. Undefined without a lease.
   */
  async trustedView(): Promise<PartitionView | undefined> {
    const meta = this.meta;
    if (!meta || !this.held) return undefined;
    if (!this.underLease(meta)) {
      // The view may lag the lease by the ops appended while it was built: one query catches up.
      if (this.index.lastOp !== this.held.op || !this.baseKnown) await this.refresh(meta);
      if (this.held && this.now() >= this.held.trustedUntil) await this.renewLease(meta);
    }
    if (!this.trusted(meta)) return undefined;
    const images = this.images?.throughOp === this.index.lastOp ? this.images.freeze() : undefined;
    return { meta, base: this.base, index: this.index.clone(), ...(images ? { images } : {}) };
  }

  /**
   * A flush in this process moved the primary's chunk map from `before` to `after`, putting
   * `built` (chunk number to bytes): the view takes the new base if it was still on `before`,
   * so reads go on without asking the log, and the chunk images become whole chunks.
   */
  adoptFlushed(before: ChunkMap | undefined, after: ChunkMap, built: ReadonlyMap<number, Buffer> = new Map()): void {
    for (const [chunk, bytes] of built) this.images?.settle(chunk, after.baseOp, bytes);
    this.imagesPaused = false;
    this.forgetPayloadsThrough(after.baseOp);
    const meta = this.meta;
    if (!meta || !this.baseKnown || this.base?.version !== before?.version || this.index.afterOp !== (before?.baseOp ?? 0)) return;
    if (meta.primary.replicaId !== after.replicaId || this.index.lastOp < after.baseOp) return;
    this.index = this.index.rebase(after.baseOp);
    this.base = after;
  }

  /**
   * The partition as of op `uptoOp` (for a snapshot or a flush): the chunk map, and an index
   * built from only the notes up to that op, so later writes cannot leak in. `from`: the
   * metadata and the primary's chunk map the caller already read, which the view then builds
   * on (a flush's new map is that map plus the chunks it builds from the view).
   */
  async viewAsOf(uptoOp: number, from?: { readonly meta: PartitionMeta; readonly base: ChunkMap | undefined }): Promise<PartitionView> {
    const meta = from ? from.meta : await this.loadMeta(false);
    const base = from ? from.base : meta ? await this.deps.chunkMaps.get(this.logOf(meta.primary)) : undefined;
    const baseOp = base?.baseOp ?? 0;
    if (baseOp > uptoOp) throw new Error(`partition ${this.partition} was flushed past op ${uptoOp}`);
    const index = new ExtentIndex(baseOp);
    const entries = meta && uptoOp > baseOp ? await this.deps.logs.range(this.logOf(meta.primary), baseOp, uptoOp) : [];
    for (const entry of entries) applyEntry(index, entry);
    return { meta, base, index };
  }

  /** Reads a range through a view: notes first, the chunk map under them, zeros under both. */
  async readView(view: PartitionView, offset: number, length: number, into: Buffer, at: number): Promise<void> {
    await this.startViewRead(view, offset, length, into, at);
  }

  /**
   * Starts a read through a view: copies at once what this process holds in memory, and
   * returns the object reads still to make, or undefined when none are left (a flush then
   * hashes and sends the chunk without yielding to the other chunks first). `known`: the
   * view's extents over the range, when the caller already looked them up.
   */
  startViewRead(view: PartitionView, offset: number, length: number, into: Buffer, at: number, known?: Extent[]): Promise<void> | undefined {
    const { meta, base, index } = view;
    const extents = known ?? index.lookup(offset, length);
    const reads: Array<() => Promise<void>> = [];
    if (meta) {
      // The notes' parts go to the journal in one call, which batches what its store can.
      const parts: NotePart[] = [];
      const targets: number[] = [];
      for (const extent of extents) {
        const from = extent.offset - extent.noteOffset;
        const cached = this.cachedPayload(extent.noteId);
        if (cached) {
          cached.copy(into, at + (extent.offset - offset), from, from + extent.length);
          continue;
        }
        parts.push({ noteId: extent.noteId, start: from, length: extent.length });
        targets.push(at + (extent.offset - offset));
      }
      if (parts.length > 0) {
        reads.push(async () => {
          const payloads = await this.deps.journal.readMany(meta.primary.sled, this.logOf(meta.primary), parts);
          payloads.forEach((bytes, i) => bytes.copy(into, targets[i]));
        });
      }
    }
    if (base) {
      // The parts of each chunk that no note covers; a chunk with several is read once, from
      // its first part to its last (a flush over many small notes would otherwise GET each gap).
      const pieces = new Map<number, Array<[number, number]>>();
      const { chunkSizeBytes, start } = this.geometry;
      for (const [gapStart, gapEnd] of gaps(offset, offset + length, extents)) {
        for (let chunk = Math.floor((gapStart - start) / chunkSizeBytes); start + chunk * chunkSizeBytes < gapEnd; chunk++) {
          if (!base.chunks[String(chunk)]) continue;
          const chunkStart = start + chunk * chunkSizeBytes;
          const list = pieces.get(chunk) ?? [];
          list.push([Math.max(gapStart, chunkStart), Math.min(gapEnd, chunkStart + chunkSizeBytes)]);
          pieces.set(chunk, list);
        }
      }
      for (const [chunk, list] of pieces) {
        const ref = base.chunks[String(chunk)] as ChunkRef;
        const chunkStart = start + chunk * chunkSizeBytes;
        const cached = this.cache?.chunk(ref.key);
        if (cached) {
          for (const [pieceFrom, pieceTo] of list) cached.copy(into, at + (pieceFrom - offset), pieceFrom - chunkStart, pieceTo - chunkStart);
          continue;
        }
        const from = list[0]![0];
        const to = list.at(-1)![1];
        reads.push(async () => {
          const bytes = await this.deps.chunks.read(ref, from - chunkStart, to - from);
          for (const [pieceFrom, pieceTo] of list) bytes.copy(into, at + (pieceFrom - offset), pieceFrom - from, pieceTo - from);
        });
      }
    }
    return reads.length > 0 ? mapLimit(reads, READ_CONCURRENCY, (read) => read()).then(() => undefined) : undefined;
  }
}

/** A note or chunk version the view named is gone: a flush collected it (the adapters turn a sled's NoSuchKey, or a table note's absence, into these). */
const collected = (error: unknown) => error instanceof NoteGoneError || error instanceof ChunkGoneError;

function applyEntry(index: ExtentIndex, entry: LogEntry, noteOps?: Map<string, number>): void {
  if (entry.kind === 'write') {
    index.apply(entry.offset, entry.length, { op: entry.op, noteId: entry.noteId, noteOffset: entry.offset, noteLength: entry.length, sha256: entry.sha256 });
    // Only a retry of a write with an Idempotency-Key ever asks for its note's op: remembering
    // every other note would grow the map by one entry per write, forever.
    const noteKey = noteKeyOfId(entry.noteId);
    if (noteKey) noteOps?.set(noteKey, entry.op);
  } else {
    index.apply(0, 0, { op: entry.op, noteId: '', noteOffset: 0 });
  }
}

/** The parts of [start, end) that no extent covers. */
function gaps(start: number, end: number, extents: ReadonlyArray<{ offset: number; length: number }>): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  let cursor = start;
  for (const extent of extents) {
    if (extent.offset > cursor) found.push([cursor, extent.offset]);
    cursor = Math.max(cursor, extent.offset + extent.length);
  }
  if (cursor < end) found.push([cursor, end]);
  return found;
}

/**
 * Waits out another head's lease on op `op` of a log and ends it, so that head's renewals
 * fail from now on. Says first that it waits, so the holder lets the lease lapse. False when
 * the lease changed meanwhile (renewed, or the holder appended again): look at the tail again.
 */
export async function outwaitLease(
  logs: Pick<NoteLogStore, 'wantLease' | 'breakLease'>,
  log: LogRef,
  op: number,
  lease: HeadLease,
  /** Names the writer that waits (a head's lease holder name). */
  by: string,
  clock: () => number = Date.now,
): Promise<boolean> {
  await logs.wantLease(log, clock(), by);
  const wait = lease.until + LEASE_MARGIN_MS - clock();
  if (wait > 0) await sleep(wait);
  return logs.breakLease(log, op, lease);
}
