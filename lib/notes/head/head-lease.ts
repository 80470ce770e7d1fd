import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import type { HeadLease, LogRef, NoteLogStore } from '../ports.js';

/**
 * How far two processes' clocks may disagree, and more: a holder stops trusting its lease this
 * long before it ends, and a waiting writer appends only this long after.
 */
export const LEASE_MARGIN_MS = 100;

/** The lease a head holds: on op `op` of the primary's log, stored as `until`; trusted until `trustedUntil`. */
export interface HeldLease {
  readonly op: number;
  readonly until: number;
  readonly trustedUntil: number;
}

/** A lease to carry in an append, and when the append was sent (the lease's clock starts then). */
export interface LeaseClaim {
  readonly lease: HeadLease;
  readonly sentAt: number;
}

/** What the lease needs of the log: the lease items beside it. */
export type LeaseLog = Pick<NoteLogStore, 'leaseWanted' | 'renewLease' | 'wantLease' | 'breakLease'>;

/**
 * One head's lease on its partition's primary log, as a small state machine over an injected
 * clock: none → claimed (carried by an append) → renewed … → lapsed (expired, broken by a
 * waiter, or yielded to one). The lease only ever lets the holder skip asking the log; the log's
 * conditional writes keep ops correct whatever this believes.
 */
export class LeaseKeeper {
  /** Names this head in the leases it takes; unique per process and partition. */
  readonly holder: string;
  private current: HeldLease | undefined;
  private renewing: Promise<void> | undefined;
  private wantedCheckedAt = 0;
  /** Since when this head has held its lease without a lapse. */
  private runSince = 0;
  /** A writer elsewhere asked for the log: no new lease before this. */
  private yieldUntil = 0;

  constructor(
    private readonly logs: LeaseLog,
    /** The lease length; 0 turns leases off. */
    readonly leaseMs: number,
    private readonly clock: Clock,
    holder = `h${randomBytes(8).toString('hex')}`,
  ) {
    this.holder = holder;
  }

  /** The lease held now, if any (it may have run past its trusted end). */
  get held(): HeldLease | undefined {
    return this.current;
  }

  /** True while the lease is held on op `op` and not within the margin of its end. */
  trusts(op: number): boolean {
    const held = this.current;
    return held !== undefined && held.op === op && this.clock.now() < held.trustedUntil;
  }

  /** The held lease's trusted time is over (a renewal may still extend it). */
  get expired(): boolean {
    return this.current !== undefined && this.clock.now() >= this.current.trustedUntil;
  }

  /** Gives the lease up in this head's mind (a fence, a failover, an append of unknown outcome). */
  drop(): void {
    this.current = undefined;
  }

  /**
   * The lease to carry in an append after `tail`: only one that follows the head's own previous
   * op (it writes this partition steadily) or starts the log, and only when no writer elsewhere
   * asked for the log lately; then the lease lapses for two lease lengths.
   */
  async claim(log: LogRef, tail: { readonly op: number; readonly mine?: boolean }): Promise<LeaseClaim | undefined> {
    // Following its own op, or starting the log: no sign of another writer.
    const may = this.leaseMs > 0 && (tail.mine === true || tail.op === 0) && (await this.noWriterWaits(log));
    const sentAt = this.clock.now();
    return may ? { lease: { holder: this.holder, until: sentAt + this.leaseMs }, sentAt } : undefined;
  }

  /** The append of op `op` landed, carrying `claim` (or no lease). */
  hold(op: number, claim: LeaseClaim | undefined): void {
    this.current = claim ? { op, until: claim.lease.until, trustedUntil: this.trustedEnd(claim.sentAt) } : undefined;
  }

  /** Renews in the background once the trusted end is within a third of a lease. */
  renewIfDue(log: LogRef): void {
    if (this.current && this.current.trustedUntil - this.clock.now() < this.leaseMs / 3) void this.renew(log);
  }

  /**
   * Extends the held lease (one renewal at a time), unless a writer elsewhere waits for the
   * log. It may have ended: every writer after a leased op ends that lease first, so a
   * renewal that still finds it intact proves nobody appended since.
   */
  renew(log: LogRef): Promise<void> {
    this.renewing ??= (async () => {
      const held = this.current;
      if (!held) return;
      const startedAt = this.clock.now();
      // After the end a writer may be waiting to append: always look then.
      if (startedAt >= held.trustedUntil) this.wantedCheckedAt = 0;
      const until = startedAt + this.leaseMs;
      const renewed = (await this.noWriterWaits(log)) && (await this.logs.renewLease(log, held.op, { holder: this.holder, until: held.until }, until));
      if (this.current !== held) return; // an append took a newer lease meanwhile
      this.current = renewed ? { op: held.op, until, trustedUntil: this.trustedEnd(startedAt) } : undefined;
    })()
      .catch(() => {
        this.current = undefined;
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  /** Waits out another head's lease on op `op` and ends it (see outwaitLease). */
  outwait(log: LogRef, op: number, lease: HeadLease): Promise<boolean> {
    return outwaitLease(this.logs, log, op, lease, this.holder, this.clock);
  }

  private trustedEnd(sentAt: number): number {
    return sentAt + this.leaseMs - LEASE_MARGIN_MS;
  }

  private async noWriterWaits(log: LogRef): Promise<boolean> {
    const now = this.clock.now();
    if (now < this.yieldUntil) return false;
    const lapsed = !this.current || now >= this.current.trustedUntil;
    if (lapsed) this.runSince = now;
    // A lease held without a break could keep a writer elsewhere out for good: it looks once
    // the lease has run a lease length, and once a lease length after that. A new lease after
    // a lapse needs no look (the writer got its chance), unless wantedCheckedAt was reset.
    const due = this.wantedCheckedAt === 0 || (!lapsed && now - this.runSince >= this.leaseMs && now - this.wantedCheckedAt >= this.leaseMs);
    if (!due) return true;
    this.wantedCheckedAt = now;
    const wanted = await this.logs.leaseWanted(log);
    // Its own mark, from when it waited out another head's lease, asks it for nothing.
    if (wanted !== undefined && wanted.by !== this.holder && wanted.at > now - 2 * this.leaseMs) {
      this.yieldUntil = now + 2 * this.leaseMs;
      this.current = undefined;
      return false;
    }
    return true;
  }
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
  clock: Clock,
): Promise<boolean> {
  await logs.wantLease(log, clock.now(), by);
  const wait = lease.until + LEASE_MARGIN_MS - clock.now();
  if (wait > 0) await clock.sleep(wait);
  return logs.breakLease(log, op, lease);
}
