import { ConcurrentModificationError, FencedError } from '../../errors.js';
import { FAILPOINTS, failpoint } from '../../faults.js';
import type { Clock } from '../../shared/clock.js';
import { SerialQueue } from '../../shared/concurrency.js';
import { MAX_UNNAMED_MS } from '../../shared/orphan-limits.js';
import type { HeadLease, JournalPlace, JournalStore, LogEntry, LogRef, NoteLogStore, PartitionMeta, ReplicaPlacement, TailEntry, WriteEntry } from '../ports.js';
import { spanOf } from '../note-extents.js';
import type { LeaseClaim, LeaseKeeper } from './head-lease.js';
import type { CrashPoint, Note } from './types.js';

/** What this head last saw at the end of a log. */
export interface Tail {
  readonly op: number;
  readonly epoch: number;
  readonly lease?: HeadLease;
  /** This head appended it. */
  readonly mine?: boolean;
}

const EMPTY_TAIL: Tail = { op: 0, epoch: 0 };
const MAX_APPEND_ATTEMPTS = 64;
/** How long a write waits for a replica rebuild before it gives up (503 Fenced). */
const REBUILD_WAIT_MS = 30_000;
/** How often a waiting write looks whether the rebuild is over. */
const REBUILD_POLL_MS = 25;

/** The tail as a log store reports it (no entry: the log is empty). */
export const tailOf = (entry: TailEntry | undefined): Tail =>
  entry ? { op: entry.op, epoch: entry.epoch, ...(entry.lease ? { lease: entry.lease } : {}) } : EMPTY_TAIL;

/** True when two log entries record the same op (the same note, or the same epoch change). */
export function sameWrite(a: LogEntry, b: LogEntry): boolean {
  if (a.kind !== b.kind || a.op !== b.op) return false;
  return a.kind === 'epoch' || (a.noteId === (b as WriteEntry).noteId && a.offset === (b as WriteEntry).offset);
}

/** What the protocol needs of the head around it. */
export interface ReplicationHooks {
  /** The metadata the head writes under now; a write that began under another is fenced. */
  currentMeta(): PartitionMeta | undefined;
  /** The metadata, loaded (and the replicas placed) if the head has none. */
  loadMeta(): Promise<PartitionMeta>;
  /** The metadata as stored now, read without touching what the head holds. */
  storedMeta(): Promise<PartitionMeta | undefined>;
  /** The log of one replica. */
  logOf(replica: ReplicaPlacement): LogRef;
  /** This head was superseded or found the logs disagree: it forgets what it believed. */
  fence(): void;
  /** Op `entry.op` is on the primary, made by this head, carrying `claim`'s lease if any. */
  appended(meta: PartitionMeta, entry: WriteEntry, payload: Buffer, claim: LeaseClaim | undefined): void;
  /** The primary holds op `entry.op`: its payload may stay in memory until a flush passes it. */
  committed(entry: WriteEntry, payload: Buffer): void;
}

/**
 * The replica commit protocol of one partition: the primary's next op taken with a conditional
 * append, the secondary's commit under the same op, and the catch-up of a secondary that an
 * interrupted write left behind.
 *
 * The rule that keeps op numbers dense and fencing sound with single-item writes: op n is
 * appended to a log only by a writer that has seen that log's op n-1 and checked its epoch.
 * A failover appends an epoch entry, so an older writer either finds its slot taken or sees
 * the newer epoch in the entry before it. The tails kept here are only hints: the primary's is
 * used without a fresh read only under this head's lease on it (a trimmed log frees old slots).
 */
export class ReplicationProtocol {
  private primaryTail: Tail | undefined;
  private secondaryTail: Tail | undefined;
  private readonly primaryQueue = new SerialQueue();
  private readonly secondaryQueue = new SerialQueue();

  constructor(
    private readonly logs: NoteLogStore,
    private readonly journal: JournalStore,
    private readonly lease: LeaseKeeper,
    private readonly clock: Clock,
    private readonly hooks: ReplicationHooks,
    private readonly partitionName: { readonly volumeId: string; readonly partition: number },
  ) {}

  /** Forgets both tails (after a fence or a failover the next append reads them again). */
  forgetTails(): void {
    this.primaryTail = undefined;
    this.secondaryTail = undefined;
  }

  /**
   * A fence: the head forgets everything, and the writer is told its write was not acknowledged.
   * `committed`: 'no' before the op's append on the primary, 'unknown' after it.
   */
  private fenced(why: string, committed: 'no' | 'unknown'): FencedError {
    this.hooks.fence();
    const { partition, volumeId } = this.partitionName;
    return new FencedError(`Partition ${partition} of ${volumeId}: ${why}. The write was not acknowledged; retry it.`, committed);
  }

  /**
   * Runs the write protocol for one note: payload to both replicas' journals at once (pending),
   * commit on the primary under the next op, commit on the secondary under the same op. Returns the op once both hold it. `appended`: called once
   * the primary's append is over, whether it landed or not (group commit starts the next group).
   */
  async write(note: Note, appended: () => void = () => undefined): Promise<number> {
    let entry: WriteEntry;
    let meta: PartitionMeta;
    try {
      ({ meta, entry } = await this.append(note));
    } finally {
      // The primary's append is over (or will never be): a group commit may start the next group.
      appended();
    }
    this.hooks.committed(entry, note.payload);
    await this.crashPoint('after-primary-commit');
    await this.commitSecondary(meta, entry);
    await this.crashPoint('after-secondary-commit');
    return entry.op;
  }

  /** The note's payload on both journals (unless it has none), then its op on the primary. */
  private async append(note: Note): Promise<{ meta: PartitionMeta; entry: WriteEntry }> {
    const meta = await this.settledMeta();
    const journalMeta = { offset: note.offset, sha256: note.sha256 };
    const notedAt = this.clock.now();
    // A note of zero extents only has no payload: nothing to put, and nothing for a sweep to find.
    const payloadless = note.extents !== undefined && note.payload.length === 0;
    const primary = { sled: meta.primary.sled, log: this.hooks.logOf(meta.primary) };
    const secondary = { sled: meta.secondary.sled, log: this.hooks.logOf(meta.secondary) };
    if (!payloadless) await this.putPending([primary, secondary], note.noteId, note.payload, journalMeta);
    // Both points now see the same state (the note pending in both journals); both are kept
    // so that crash tests and torture seeds that name either still mean what they did.
    await this.crashPoint('after-payload');
    await this.crashPoint('after-pending-note');
    const entry = await this.commitPrimary(meta, note, notedAt);
    return { meta, entry };
  }

  /**
   * The note pending in both journals: a table note in one request, a sled note with two puts
   * at once. Either way the write goes on only once both hold it. When one put fails, the
   * other is still waited for, so nothing of a failed write is left in flight: a copy that
   * landed is a note no log names, which the orphan sweep removes on either replica.
   */
  private async putPending(places: readonly [JournalPlace, JournalPlace], noteId: string, payload: Buffer, meta: { offset: number; sha256: string }): Promise<void> {
    if (await this.journal.putBoth?.(places, noteId, payload, meta)) return;
    const puts = await Promise.allSettled(places.map((place) => this.journal.put(place.sled, place.log, noteId, payload, meta)));
    const failed = puts.find((put): put is PromiseRejectedResult => put.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private crashPoint(step: CrashPoint): void | Promise<void> {
    return failpoint(FAILPOINTS.write, { step, ...this.partitionName });
  }

  /**
   * The metadata once no rebuild is running: while a new secondary is built, writes wait,
   * so that every acknowledged write is on two replicas.
   */
  private async settledMeta(): Promise<PartitionMeta> {
    let meta = await this.hooks.loadMeta();
    const deadline = this.clock.now() + REBUILD_WAIT_MS;
    while (meta.rebuild) {
      if (this.clock.now() > deadline) {
        const { partition, volumeId } = this.partitionName;
        throw new FencedError(`Partition ${partition} of ${volumeId} is rebuilding a replica; the write waited ${REBUILD_WAIT_MS} ms. Retry it.`, 'no');
      }
      await this.clock.sleep(REBUILD_POLL_MS);
      // Polled from the store, not by fencing the head: a fence resets the view, and one every
      // poll restarted every reader's refresh, so reads waited for the whole rebuild.
      if ((await this.hooks.storedMeta())?.rebuild) continue;
      // Over: the head takes the new metadata once (another waiting write may have already).
      if (this.hooks.currentMeta() === meta) this.hooks.fence();
      meta = await this.hooks.loadMeta();
    }
    return meta;
  }

  /** Commits `note` on the primary under the next op; `notedAt`: when its payload was put (orphan limit). */
  commitPrimary(meta: PartitionMeta, note: Note, notedAt: number): Promise<WriteEntry> {
    return this.primaryQueue.run(async () => {
      const log = this.hooks.logOf(meta.primary);
      const { partition } = this.partitionName;
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
        if (this.hooks.currentMeta() !== meta) throw this.fenced('its metadata changed during the write', 'no');
        // A sweep takes a note no log names for an orphan once it is old enough (orphans.ts).
        if (this.clock.now() - notedAt > MAX_UNNAMED_MS) {
          throw new ConcurrentModificationError(`Partition ${partition}: the write took too long to commit its note; it was not acknowledged, retry it`);
        }
        // A remembered tail is trusted only under this head's lease on it: without one, others
        // may have appended since, and a flush's garbage collection may have trimmed the log
        // below its oldest checkpoint, freeing the slot after a tail seen long ago, so the
        // conditional append there would land under an op below the chunk map's base.
        let tail = this.primaryTail;
        if (!tail || !this.lease.trusts(tail.op)) {
          const read = tailOf(await this.logs.tail(log));
          tail = tail?.mine === true && read.op === tail.op ? { ...read, mine: true } : read;
        }
        this.primaryTail = tail;
        if (tail.epoch > meta.epoch) throw this.fenced(`epoch ${meta.epoch} was superseded by epoch ${tail.epoch}`, 'no');
        if (tail.lease && tail.lease.holder !== this.lease.holder) {
          // Another head reads through its own view until its lease ends: wait it out, end it, then append.
          if (!(await this.lease.outwait(log, tail.op, tail.lease))) {
            this.primaryTail = undefined;
            continue;
          }
          tail = { op: tail.op, epoch: tail.epoch };
          this.primaryTail = tail;
        }
        const claim = await this.lease.claim(log, tail);
        const entry: WriteEntry = {
          kind: 'write',
          op: tail.op + 1,
          epoch: meta.epoch,
          noteId: note.noteId,
          ...(note.extents ? { ...spanOf(note.extents), sha256: note.sha256, extents: note.extents } : { offset: note.offset, length: note.payload.length, sha256: note.sha256 }),
        };
        let appended: boolean;
        try {
          appended = await this.logs.append(log, entry, claim?.lease);
        } catch (error) {
          // The append may or may not have landed; only a fresh read of the tail can tell.
          this.primaryTail = undefined;
          this.lease.drop();
          throw error;
        }
        if (appended) {
          this.primaryTail = { op: entry.op, epoch: entry.epoch, mine: true, ...(claim ? { lease: claim.lease } : {}) };
          this.hooks.appended(meta, entry, note.payload, claim);
          return entry;
        }
        this.primaryTail = undefined;
      }
      throw new ConcurrentModificationError(`Partition ${partition}: too many writers raced for the next op`);
    });
  }

  /** Commits `entry` (the primary's op) on the secondary under the same op, catching it up first if it lags. */
  commitSecondary(meta: PartitionMeta, entry: LogEntry): Promise<void> {
    return this.secondaryQueue.run(async () => {
      const log = this.hooks.logOf(meta.secondary);
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
        const remembered = this.secondaryTail;
        const tail = remembered ?? tailOf(await this.logs.tail(log));
        this.secondaryTail = tail;
        if (remembered && remembered.op < entry.op - 1) {
          // Behind by a remembered tail only: other writers may have committed there since
          // (and the log below a checkpoint may be trimmed): read it before catching up.
          this.secondaryTail = undefined;
          continue;
        }
        if (tail.op >= entry.op) {
          const existing = await this.logs.get(log, entry.op);
          if (existing && sameWrite(existing, entry)) return;
          throw this.fenced(`the secondary holds a different op ${entry.op}`, 'unknown');
        }
        if (tail.epoch > entry.epoch) throw this.fenced(`epoch ${entry.epoch} was superseded by epoch ${tail.epoch}`, 'unknown');
        if (tail.op < entry.op - 1) {
          await this.catchUp(meta, tail.op, entry.op - 1);
          continue;
        }
        let appended: boolean;
        try {
          appended = await this.logs.append(log, entry);
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
      throw new ConcurrentModificationError(`Partition ${this.partitionName.partition}: the secondary did not settle`);
    });
  }

  /**
   * Makes sure the secondary holds every op of the primary up to `op`, copying what a write
   * that stopped between its two commits left out. A flush never passes the secondary: a
   * failover keeps only the secondary's ops, and new ops would come after the base.
   */
  async replicateThrough(op: number): Promise<void> {
    const meta = this.hooks.currentMeta();
    if (!meta || (this.secondaryTail?.op ?? 0) >= op) return;
    await this.secondaryQueue.run(async () => {
      if (this.hooks.currentMeta() !== meta) throw new ConcurrentModificationError(`Partition ${this.partitionName.partition}: its metadata changed; retry`);
      const tail = this.secondaryTail ?? tailOf(await this.logs.tail(this.hooks.logOf(meta.secondary)));
      this.secondaryTail = tail;
      if (tail.op < op) await this.catchUp(meta, tail.op, op);
    });
  }

  /** Copies ops (afterOp, uptoOp] from the primary's log: an earlier writer stopped between its two commits. */
  private async catchUp(meta: PartitionMeta, afterOp: number, uptoOp: number): Promise<void> {
    const missing = await this.logs.range(this.hooks.logOf(meta.primary), afterOp, uptoOp);
    if (missing.length !== uptoOp - afterOp) {
      throw this.fenced(`the primary log lacks ops ${afterOp + 1} to ${uptoOp}`, 'unknown');
    }
    const log = this.hooks.logOf(meta.secondary);
    for (const entry of missing) {
      if (!(await this.logs.append(log, entry))) {
        const existing = await this.logs.get(log, entry.op);
        if (!existing || !sameWrite(existing, entry)) throw this.fenced(`the secondary holds a different op ${entry.op}`, 'unknown');
      }
      this.secondaryTail = { op: entry.op, epoch: entry.epoch };
    }
  }
}
