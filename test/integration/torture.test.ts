import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../lib/local/local-cloud.js';
import { runSchedule, TORTURE_CLOUD } from '../support/torture/runner.js';
import { FAULT_KINDS, FLUSH_STEPS, planSchedule, REBUILD_STEPS, WRITE_STEPS } from '../support/torture/schedule.js';

/**
 * Seeded fault schedules (test/support/torture): concurrent HTTP, NBD and second-process
 * clients under replica losses, flush crashes at each step, duplicate flush deliveries, a
 * stalled lease holder, interrupted rebuilds and head processes killed at each write step then
 * restarted; one HTTP client and process B retry unknown writes under their Idempotency-Key.
 * Every history must check linearizable, with no block left unknown. Seeds 1-15 and five that
 * together cover every fault and step (asserted below). Replay one:
 * npm run torture -- --seed=S --schedules=1 --ops=150.
 */
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 23, 57, 90, 100];
const OPS = 150;

describe('torture: seeded fault schedules', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await startLocalCloud(TORTURE_CLOUD);
  });
  afterAll(async () => {
    await cloud?.stop();
  });

  it('covers every fault, flush step and rebuild step with its seeds', () => {
    const covered = new Set(
      SEEDS.flatMap((seed) => planSchedule(seed, { ops: OPS }).faults.flatMap((f) => [f.kind, `${f.kind}@${f.step ?? ''}`, `replica:${f.replica ?? ''}`, ...(f.spans ? ['write-crash:spans'] : [])])),
    );
    const wanted = [
      ...FAULT_KINDS,
      ...FLUSH_STEPS.map((s) => `flush-crash@${s}`),
      ...REBUILD_STEPS.map((s) => `rebuild-interrupted@${s}`),
      ...WRITE_STEPS.map((s) => `write-crash@${s}`),
      'replica:primary',
      'replica:secondary',
      'write-crash:spans',
    ];
    expect(wanted.filter((k) => !covered.has(k))).toEqual([]);
  });

  it('keys the writes of one HTTP client and of process B, never NBD', () => {
    const clients = planSchedule(7, { ops: OPS }).clients;
    expect(clients.filter((c) => c.keyed).map((c) => c.transport).sort()).toEqual(['http', 'process-b']);
  });

  it('derives the same ops and faults from the same seed', () => {
    expect(planSchedule(7, { ops: OPS })).toEqual(planSchedule(7, { ops: OPS }));
    expect(planSchedule(7, { ops: OPS })).not.toEqual(planSchedule(8, { ops: OPS }));
  });

  it.each(SEEDS)('schedule %i: linearizable, no block unknown', async (seed) => {
    const run = await runSchedule(seed, { cloud, ops: OPS });
    expect(run.result.status, `seed ${seed}\n${run.faults.map((f) => `${f.fault}: ${f.outcome}`).join('\n')}\n${run.report}`).toBe('ok');
    expect(run.result.unknown).toEqual([]);
    expect(run.faults).toHaveLength(run.plan.faults.length);
    // A write-crash that never reached its step proved nothing: every one must have crashed and been retried.
    for (const fault of run.faults.filter((f) => f.fault.startsWith('write-crash'))) expect(fault.outcome, fault.fault).toMatch(/^crashed at .*; restarted, the retry acknowledged/);
    expect(run.counts.ok).toBeGreaterThan(OPS / 2);
  }, 120_000);
});
