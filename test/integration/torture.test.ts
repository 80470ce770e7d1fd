import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../lib/local/local-cloud.js';
import { runSchedule, TORTURE_CLOUD } from '../support/torture/runner.js';
import { FAULT_KINDS, FLUSH_STEPS, planSchedule, REBUILD_STEPS } from '../support/torture/schedule.js';

/**
 * Seeded fault schedules (test/support/torture): concurrent HTTP, NBD and second-process
 * clients under replica losses, flush crashes at each step, duplicate flush deliveries, a
 * stalled lease holder and interrupted rebuilds; every history must check linearizable, with
 * no block left unknown. The seeds were picked so that together they cover every fault and
 * step (asserted below). Replay one: npm run torture -- --seed=S --schedules=1 --ops=150.
 */
const SEEDS = [1, 2, 3, 4, 5, 6, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26];
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
    const covered = new Set(SEEDS.flatMap((seed) => planSchedule(seed, { ops: OPS }).faults.flatMap((f) => [f.kind, `${f.kind}@${f.step ?? ''}`, `replica:${f.replica ?? ''}`])));
    const wanted = [...FAULT_KINDS, ...FLUSH_STEPS.map((s) => `flush-crash@${s}`), ...REBUILD_STEPS.map((s) => `rebuild-interrupted@${s}`), 'replica:primary', 'replica:secondary'];
    expect(wanted.filter((k) => !covered.has(k))).toEqual([]);
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
    expect(run.counts.ok).toBeGreaterThan(OPS / 2);
  }, 120_000);
});
