import { SerialQueue } from '../../shared/concurrency.js';
import { journalSleds } from '../../sleds/placement.js';
import { ExtentIndex, type ExtentPart } from '../extent-index.js';
import { extentsOf } from '../note-extents.js';
import { noteKeyOfId } from '../note-ids.js';
import type { ChunkMap, ChunkMapStore, LogEntry, LogRef, NoteLogStore, PartitionMeta, PartitionMetaStore, ReplicaPlacement, WriteEntry } from '../ports.js';
import type { LeaseKeeper } from './head-lease.js';
import type { HeadView, PartitionView } from './types.js';

/** Note ids a head remembers for idempotent retries before it forgets the flushed ones. */
const MAX_REMEMBERED_NOTES = 65_536;
/** Own appends kept while the view is built; past this the next refresh asks the log for them. */
const MAX_UNAPPLIED = 4096;

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
 * The ranges a write entry's note wrote, in its order, as the index names them: a note of the
 * old shape is its payload at `offset` (the flush may copy it whole); a data extent's bytes
 * begin at volume offset `offset - at` of its payload; a zero extent has none.
 */
export function indexParts(entry: WriteEntry): ExtentPart[] {
  const { op, noteId } = entry;
  if (!entry.extents) {
    return [{ offset: entry.offset, length: entry.length, source: { op, noteId, noteOffset: entry.offset, noteLength: entry.length, sha256: entry.sha256 } }];
  }
  return extentsOf(entry).map((extent) => ({
    offset: extent.offset,
    length: extent.length,
    source: extent.zero ? { op, noteId, noteOffset: extent.offset, zero: true } : { op, noteId, noteOffset: extent.offset - extent.at },
  }));
}

/** Adds a log entry to an index; a keyed note's op is remembered in `noteOps` for idempotent retries. */
export function applyEntry(index: ExtentIndex, entry: LogEntry, noteOps?: Map<string, number>): void {
  if (entry.kind === 'write') {
    index.applyAll(entry.op, indexParts(entry));
    // Only a retry of a write with an Idempotency-Key ever asks for its note's op: remembering
    // every other note would grow the map by one entry per write, forever.
    const noteKey = noteKeyOfId(entry.noteId);
    if (noteKey) noteOps?.set(noteKey, entry.op);
  } else {
    index.apply(0, 0, { op: entry.op, noteId: '', noteOffset: 0 });
  }
}

/** The stores and names the view tracker reads. */
export interface ViewSources {
  readonly metas: PartitionMetaStore;
  readonly logs: NoteLogStore;
  readonly chunkMaps: ChunkMapStore;
  readonly sledCount: number;
  readonly volumeId: string;
  readonly partition: number;
  logOf(replica: ReplicaPlacement): LogRef;
  /** New metadata replaces the old: every other part of the head forgets what it believed. */
  onNewMeta(): void;
  /** A base moved past `op`: cached payloads up to it may go. */
  basePassed(op: number): void;
}

/**
 * This process's view of one partition: its metadata, the primary's chunk map and an extent
 * index of the ops after it. It follows the log (one query per refresh), failovers (a retired
 * primary log) and this process's own flushes. It is a cache: correctness rests on the log's
 * conditional writes, and a stale view only costs a re-read.
 */
export class ViewTracker {
  private metaNow: PartitionMeta | undefined;
  private metaLoading: Promise<PartitionMeta | undefined> | undefined;
  private readonly refreshQueue = new SerialQueue();
  private indexNow = new ExtentIndex();
  /** The primary's chunk map that the index starts from; meaningful once `baseKnown`. */
  private baseNow: ChunkMap | undefined;
  private baseKnown = false;
  /** The op of each write made with an Idempotency-Key that this head has seen, by its note key. */
  noteOps = new Map<string, number>();
  /** This head's own appends that came after its view while the view was being built. */
  private unapplied: WriteEntry[] = [];
  private catchingUp: Promise<void> | undefined;
  private refreshRequests = 0;
  private refreshedUpTo = 0;

  constructor(
    private readonly sources: ViewSources,
    private readonly lease: LeaseKeeper,
  ) {}

  /** The metadata this head works under, if loaded. */
  get meta(): PartitionMeta | undefined {
    return this.metaNow;
  }

  /** The extent index of the current view. */
  get index(): ExtentIndex {
    return this.indexNow;
  }

  /** The current view under `meta`, when it is built and `meta` is still the head's. */
  known(meta: PartitionMeta): HeadView | undefined {
    return this.baseKnown && this.metaNow === meta ? { meta, base: this.baseNow, index: this.indexNow } : undefined;
  }

  /** The current view as it stands (it may lag the log). */
  current(meta: PartitionMeta): HeadView {
    return { meta, base: this.baseNow, index: this.indexNow };
  }

  /** The partition metadata; with `create`, places the replicas on first use. */
  async loadMeta(create: boolean): Promise<PartitionMeta | undefined> {
    if (this.metaNow) return this.metaNow;
    // One load at a time: concurrent first writers must share one view, or each would reset the other's.
    this.metaLoading ??= (async () => {
      try {
        const { metas, volumeId, partition, sledCount } = this.sources;
        let meta = await metas.get(volumeId, partition);
        if (!meta && create) meta = await metas.createIfAbsent(initialMeta(volumeId, partition, sledCount));
        if (meta) this.adopt(meta);
        return meta;
      } finally {
        this.metaLoading = undefined;
      }
    })();
    const meta = await this.metaLoading;
    return meta ?? (create ? this.loadMeta(true) : undefined);
  }

  /** Forgets the metadata and the view (a fence or a failover): nothing is covered any more. */
  reset(): void {
    this.metaNow = undefined;
    this.noteOps = new Map();
    this.forgetView();
  }

  /** Forgets the chunk map and the index (an object they named is gone), keeping the metadata and lease. */
  forgetView(): void {
    this.unapplied = [];
    this.indexNow = new ExtentIndex();
    this.baseNow = undefined;
    this.baseKnown = false;
    // The next refresh fills the new, empty index.
    this.refreshedUpTo = 0;
  }

  private adopt(meta: PartitionMeta): void {
    this.reset();
    this.sources.onNewMeta();
    this.metaNow = meta;
  }

  /** True while nobody else can have appended after the ops this view holds (the lease covers its newest op). */
  trusted(meta: PartitionMeta): boolean {
    return this.metaNow === meta && this.baseKnown && this.lease.trusts(this.indexNow.lastOp);
  }

  /**
   * Under its lease a head reads through its view without asking the log. Near the end, and
   * after it, it extends the lease in the background; a read after the end meanwhile asks
   * the log as any other process would (one query beside its object reads).
   */
  underLease(meta: PartitionMeta): boolean {
    if (!this.lease.held || this.metaNow !== meta) return false;
    this.lease.renewIfDue(this.sources.logOf(meta.primary));
    return this.trusted(meta);
  }

  /**
   * This head appended `entry` under a lease: its view is the log's truth once it holds every
   * op before. A head that only writes builds its view once, with its first lease (the log is
   * short then), and keeps it current with its own appends, so a flush here never reads the
   * log. Appends that land while the view is built are kept and applied once it is.
   */
  ownAppend(meta: PartitionMeta, entry: WriteEntry): void {
    if (this.metaNow !== meta) return;
    if (this.baseKnown && this.indexNow.lastOp === entry.op - 1) {
      applyEntry(this.indexNow, entry, this.noteOps);
      return;
    }
    if (this.unapplied.length < MAX_UNAPPLIED) this.unapplied.push(entry);
    this.catchingUp ??= this.refresh(meta)
      .catch(() => undefined)
      .then(() => {
        this.catchingUp = undefined;
      });
  }

  /**
   * Brings the view up to the primary's newest op with one query of its log; the chunk map is
   * fetched again only when its version moved. A refresh that starts after a caller asked
   * covers that caller, so concurrent readers share one query, yet none of them can miss a
   * write acknowledged before it asked.
   */
  refresh(meta: PartitionMeta): Promise<HeadView> {
    const ticket = ++this.refreshRequests;
    return this.refreshQueue.run(async () => {
      for (;;) {
        const current = this.indexNow;
        const viewMeta = this.metaNow ?? meta;
        if (this.baseKnown && this.refreshedUpTo >= ticket) return { meta: viewMeta, base: this.baseNow, index: current };
        const covers = this.refreshRequests;
        const log = this.sources.logOf(viewMeta.primary);
        const changes = await this.sources.logs.changesSince(log, current.lastOp);
        // Invalidated meanwhile (a fence or a failover): start again from what is there now.
        if (this.indexNow !== current) continue;
        if (changes.retired && (await this.followFailover(viewMeta))) continue;
        let base = this.baseNow;
        let next = current;
        // Every committed keyed note this head has seen, flushed or not: an idempotent retry
        // must find its note even after a flush moved the index past it.
        const notes = this.noteOps;
        if (!this.baseKnown || changes.chunkMapVersion !== base?.version) {
          base = await this.sources.chunkMaps.get(log);
          if (this.indexNow !== current) continue;
          const baseOp = base?.baseOp ?? 0;
          if (baseOp < current.afterOp) {
            // A chunk map never moves back: the log was dropped under this view.
            if (await this.followFailover(viewMeta)) continue;
            throw new Error(`partition ${this.sources.partition}: the chunk map of replica ${viewMeta.primary.replicaId} went back from op ${current.afterOp} to ${baseOp}`);
          }
          if (baseOp > current.afterOp) {
            this.sources.basePassed(baseOp);
            // A flush moved the base past the index's start: the older notes may be gone. A new
            // index is filled before it replaces the old one, so no reader sees it half-built.
            next = new ExtentIndex(baseOp);
            const entries = await this.sources.logs.range(log, baseOp);
            if (this.indexNow !== current) continue;
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
        this.indexNow = next;
        this.baseNow = base;
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
    const fresh = await this.sources.metas.get(this.sources.volumeId, this.sources.partition);
    if (!fresh || fresh.primary.replicaId === meta.primary.replicaId) return false;
    // A refresh that began before a fence asks about the metadata it began with; a write may
    // have loaded the new metadata meanwhile, and adopting it again would fence that write.
    const now = this.metaNow;
    if (now && now.primary.replicaId === fresh.primary.replicaId && now.epoch === fresh.epoch) return true;
    this.adopt(fresh);
    return true;
  }

  /** Brings the view to date when the lease holds newer ops than it (the ops appended while it was built). */
  async catchUpToLease(meta: PartitionMeta): Promise<void> {
    const held = this.lease.held;
    if (held && (this.indexNow.lastOp !== held.op || !this.baseKnown)) await this.refresh(meta);
  }

  /**
   * A flush in this process moved the primary's chunk map from `before` to `after`: the view
   * takes the new base if it was still on `before`, so reads go on without asking the log.
   */
  adoptFlushed(before: ChunkMap | undefined, after: ChunkMap): void {
    const meta = this.metaNow;
    if (!meta || !this.baseKnown || this.baseNow?.version !== before?.version || this.indexNow.afterOp !== (before?.baseOp ?? 0)) return;
    if (meta.primary.replicaId !== after.replicaId || this.indexNow.lastOp < after.baseOp) return;
    this.indexNow = this.indexNow.rebase(after.baseOp);
    this.baseNow = after;
  }

  /**
   * The partition as of op `uptoOp`: the chunk map, and an index built from only the notes up
   * to that op, so later writes cannot leak in. `from`: metadata and chunk map already read.
   */
  async viewAsOf(uptoOp: number, from?: { readonly meta: PartitionMeta; readonly base: ChunkMap | undefined }): Promise<PartitionView> {
    const meta = from ? from.meta : await this.loadMeta(false);
    const base = from ? from.base : meta ? await this.sources.chunkMaps.get(this.sources.logOf(meta.primary)) : undefined;
    const baseOp = base?.baseOp ?? 0;
    if (baseOp > uptoOp) throw new Error(`partition ${this.sources.partition} was flushed past op ${uptoOp}`);
    const index = new ExtentIndex(baseOp);
    const entries = meta && uptoOp > baseOp ? await this.sources.logs.range(this.sources.logOf(meta.primary), baseOp, uptoOp) : [];
    for (const entry of entries) applyEntry(index, entry);
    return { meta, base, index };
  }
}
