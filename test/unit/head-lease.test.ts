import { describe, expect, it } from 'vitest';
import { LEASE_MARGIN_MS, LeaseKeeper, outwaitLease } from '../../lib/notes/head/head-lease.js';
import type { LogRef } from '../../lib/notes/ports.js';
import { FakeNoteLogStore } from '../support/fakes/in-memory-stores.js';
import { ManualClock, settle } from '../support/fakes/manual-clock.js';

const LEASE_MS = 3000;
const log: LogRef = { volumeId: 'vol-1', partition: 0, replicaId: 'r1' };
const entry = (op: number) => ({ kind: 'write' as const, op, epoch: 1, noteId: `n${op}`, offset: 0, length: 4096, sha256: 'x' });

/** A holder with a lease on op 1 of the log, claimed at the clock's start. */
async function holding(leaseMs = LEASE_MS) {
  const clock = new ManualClock();
  const logs = new FakeNoteLogStore();
  const keeper = new LeaseKeeper(logs, leaseMs, clock, 'holder');
  const claim = await keeper.claim(log, { op: 0 });
  if (claim) expect(await logs.append(log, entry(1), claim.lease)).toBe(true);
  keeper.hold(1, claim);
  return { clock, logs, keeper, claim };
}

describe('the head lease', () => {
  it('is claimed by an append that starts the log or follows the head\'s own op, never after another writer\'s', async () => {
    const { clock, keeper, claim } = await holding();
    expect(claim?.lease).toEqual({ holder: 'holder', until: clock.now() + LEASE_MS });
    expect(keeper.held?.op).toBe(1);
    expect(keeper.trusts(1)).toBe(true);
    // The view must hold exactly the leased op: a view behind it is not the log's truth.
    expect(keeper.trusts(0)).toBe(false);
    expect(await keeper.claim(log, { op: 1, mine: true })).toBeDefined();
    expect(await keeper.claim(log, { op: 1 })).toBeUndefined();
  });

  it('is never claimed with leases off', async () => {
    const { keeper, claim } = await holding(0);
    expect(claim).toBeUndefined();
    expect(keeper.held).toBeUndefined();
    expect(await keeper.claim(log, { op: 1, mine: true })).toBeUndefined();
  });

  it('stops being trusted the margin before it ends', async () => {
    const { clock, keeper } = await holding();
    await clock.advance(LEASE_MS - LEASE_MARGIN_MS - 1);
    expect(keeper.trusts(1)).toBe(true);
    expect(keeper.expired).toBe(false);
    await clock.advance(1);
    expect(keeper.trusts(1)).toBe(false);
    expect(keeper.expired).toBe(true);
  });

  it('is renewed in the background near its end, and the log carries the new end', async () => {
    const { clock, logs, keeper, claim } = await holding();
    keeper.renewIfDue(log); // a third of a lease left at most: not yet
    await settle();
    expect(logs.calls.get('renewLease')).toBeUndefined();
    await clock.advance(LEASE_MS - LEASE_MARGIN_MS - 500);
    keeper.renewIfDue(log);
    await keeper.renew(log); // joins the renewal under way
    expect(logs.calls.get('renewLease')).toBe(1);
    const renewedAt = clock.now();
    expect(keeper.held).toEqual({ op: 1, until: renewedAt + LEASE_MS, trustedUntil: renewedAt + LEASE_MS - LEASE_MARGIN_MS });
    expect((await logs.tail(log))?.lease).toEqual({ holder: 'holder', until: renewedAt + LEASE_MS });
    // Past the first lease's end, the renewed one is trusted.
    await clock.advance(1000);
    expect(clock.now()).toBeGreaterThan(claim!.lease.until);
    expect(keeper.trusts(1)).toBe(true);
  });

  it('is gone once a writer elsewhere broke it: the renewal fails', async () => {
    const { logs, keeper, claim } = await holding();
    expect(await logs.breakLease(log, 1, claim!.lease)).toBe(true);
    await keeper.renew(log);
    expect(keeper.held).toBeUndefined();
    expect(keeper.trusts(1)).toBe(false);
  });

  it('yields to a waiter once it has run a lease length, for two lease lengths, then takes a lease again', async () => {
    const { clock, logs, keeper } = await holding();
    await clock.advance(100);
    await logs.wantLease(log, clock.now(), 'waiter');
    // Appending every second, it holds its lease without a break; it looks for waiters only
    // once the lease has run a lease length (one query per lease length at most).
    for (const op of [2, 3]) {
      await clock.advance(1000);
      const claim = await keeper.claim(log, { op: op - 1, mine: true });
      expect(claim).toBeDefined();
      keeper.hold(op, claim);
    }
    expect(logs.calls.get('leaseWanted')).toBe(1);
    await clock.advance(900);
    expect(await keeper.claim(log, { op: 3, mine: true })).toBeUndefined();
    expect(logs.calls.get('leaseWanted')).toBe(2);
    expect(keeper.held).toBeUndefined();
    await clock.advance(2 * LEASE_MS - 1);
    expect(await keeper.claim(log, { op: 3, mine: true })).toBeUndefined();
    await clock.advance(1);
    expect(await keeper.claim(log, { op: 3, mine: true })).toBeDefined();
  });

  it('does not yield to its own mark', async () => {
    const { clock, logs, keeper } = await holding();
    await logs.wantLease(log, clock.now(), 'holder');
    await clock.advance(LEASE_MS);
    await keeper.renew(log);
    expect(keeper.held?.op).toBe(1);
    expect(await keeper.claim(log, { op: 1, mine: true })).toBeDefined();
  });

  it('is waited out by a writer elsewhere until its end plus the margin, then ended', async () => {
    const { clock, logs, claim } = await holding();
    let done: boolean | undefined;
    void outwaitLease(logs, log, 1, claim!.lease, 'waiter', clock).then((ended) => (done = ended));
    await settle();
    expect(await logs.leaseWanted(log)).toEqual({ at: clock.now(), by: 'waiter' });
    await clock.advance(LEASE_MS + LEASE_MARGIN_MS - 1);
    expect(done).toBeUndefined();
    expect(logs.calls.get('breakLease')).toBeUndefined();
    await clock.advance(1);
    await settle();
    expect(done).toBe(true);
    expect((await logs.tail(log))?.lease).toBeUndefined();
  });

  it('makes a waiter look again when the holder renewed meanwhile', async () => {
    const { clock, logs, keeper, claim } = await holding();
    let done: boolean | undefined;
    void outwaitLease(logs, log, 1, claim!.lease, 'waiter', clock).then((ended) => (done = ended));
    await settle();
    await clock.advance(LEASE_MS / 2);
    await keeper.renew(log); // the holder looked for waiters a lease length ago at most: it renews
    await clock.advance(LEASE_MS);
    await settle();
    expect(done).toBe(false);
  });
});
