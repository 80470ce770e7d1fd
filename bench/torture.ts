import { parseArgs } from 'node:util';
import { startLocalCloud } from '../lib/local/local-cloud.js';
import { runSchedule, TORTURE_CLOUD } from '../test/support/torture/runner.js';
import { describeFault } from '../test/support/torture/schedule.js';

/**
 * npm run torture -- --schedules=N [--seed=S] [--ops=M] [--verbose]
 * Runs N seeded fault schedules (seeds S, S+1, ...; S random when absent), each on a cloud of
 * its own, and prints each schedule's seed and verdict. Replay one with --seed=S --schedules=1:
 * the same ops and faults (not the same timing).
 */
const { values } = parseArgs({
  options: { schedules: { type: 'string', default: '1' }, seed: { type: 'string' }, ops: { type: 'string', default: '200' }, verbose: { type: 'boolean', default: false } },
});
const schedules = Number(values.schedules);
const first = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const ops = Number(values.ops);
let bad = 0;
let checked = 0;
for (let i = 0; i < schedules; i++) {
  const seed = first + i;
  const cloud = await startLocalCloud(TORTURE_CLOUD);
  try {
    const run = await runSchedule(seed, { cloud, ops, ...(values.verbose ? { log: (line: string) => console.log(line) } : {}) });
    checked += run.result.stats.ops;
    const { geometry } = run.plan;
    console.log(
      `seed ${seed}: ${run.result.status.toUpperCase()} — ${run.result.stats.ops} ops (ok ${run.counts.ok}, fail ${run.counts.fail}, info ${run.counts.info}; ${run.retries} keyed retries), ` +
        `${geometry.partitions} partitions × ${geometry.partitionChunks} chunks, skew ${run.plan.clockSkewMs} ms, ${(run.ms / 1000).toFixed(1)} s`,
    );
    console.log(`    op time by transport: ${Object.entries(run.timeSpent).map(([t, { ops, ms }]) => `${t} ${ops} ops ${(ms / 1000).toFixed(1)} s (${(ms / ops).toFixed(0)} ms/op)`).join(', ')}`);
    for (const fault of run.faults) console.log(`    ${fault.fault}: ${fault.outcome} (${fault.ms} ms)`);
    if (run.faults.length < run.plan.faults.length) for (const f of run.plan.faults.slice(run.faults.length)) console.log(`    ${describeFault(f)}: not run`);
    if (run.result.status !== 'ok') {
      bad++;
      console.log(run.report);
      console.log(`replay: npm run torture -- --seed=${seed} --schedules=1 --ops=${ops}`);
    }
  } finally {
    await cloud.stop();
  }
}
console.log(`${schedules} schedules, ${checked} ops checked, ${bad} not ok (first seed ${first})`);
process.exitCode = bad === 0 ? 0 : 1;
