/**
 * The fan-out summary: a human-readable account of a plan, level by level, shown by
 * `npm run demo` and stored on the job record for the CLI and the console.
 */
import type { CopyPlan, CopyTask, PlanInput } from './copy-plan.js';

/** Describes the plan's fan-out for one sample partition, and its totals. */
export function renderFanout(
  input: Omit<PlanInput, 'mode'>,
  plan: Omit<CopyPlan, 'fanoutTree'>,
  notes: readonly string[],
): string {
  const { tasks } = plan;
  const P = input.partitions.length;
  const withData = input.partitions.filter((p) => p.chunks.length > 0);
  const level = plan.mode === 'pipelined' ? 'depth' : 'round';
  const lines: string[] = [
    `${plan.mode} copy plan: ${count(P, 'partition')} (${withData.length} with data), ${count(input.targets, 'target')}, ` +
      `at most ${count(input.maxSourceFanout, 'concurrent read')} per source copy, ${count(input.sledCount, 'sled')}; ` +
      (plan.mode === 'pipelined' ? `tree depth ${plan.rounds}.` : `${count(plan.rounds, 'round')}.`),
    ...notes,
  ];
  const sample = withData.map((p) => p.partition).sort((a, b) => a - b)[0];
  if (sample !== undefined) {
    lines.push(`Every partition with data fans out alike; partition ${sample}:`);
    const byLevel = new Map<number, CopyTask[]>();
    for (const task of tasks) {
      if (task.partition !== sample) continue;
      const key = plan.mode === 'pipelined' ? task.depth : task.round;
      const group = byLevel.get(key);
      if (group) group.push(task);
      else byLevel.set(key, [task]);
    }
    for (const [key, group] of [...byLevel].sort((a, b) => a[0] - b[0])) {
      const readers = new Map<string, number>();
      for (const task of group) {
        const source = task.from.kind === 'intermediary' ? task.from.id : 'snapshot';
        readers.set(source, (readers.get(source) ?? 0) + 1);
      }
      const fromSnapshot = readers.has('snapshot') ? 1 : 0;
      const fromIntermediaries = readers.size - fromSnapshot;
      const made = group.filter((task) => task.to.kind === 'intermediary').length;
      const targets = group.length - made;
      const sources = [fromSnapshot ? 'snapshot' : '', fromIntermediaries ? count(fromIntermediaries, 'intermediary', 'intermediaries') : '']
        .filter(Boolean)
        .join(' + ');
      const writes = [made ? count(made, 'intermediary', 'intermediaries') : '', targets ? count(targets, 'target') : '']
        .filter(Boolean)
        .join(' + ');
      lines.push(`  ${level} ${key}: ${sources} -> ${writes} (busiest source serves ${Math.max(...readers.values())})`);
    }
  }
  if (withData.length < P) {
    lines.push(`Partitions without data: each target's copy is made in round 1 and reads nothing.`);
  }
  const written = new Map<number, number>();
  for (const task of tasks) written.set(task.to.sled, (written.get(task.to.sled) ?? 0) + 1);
  const chunkCopies = tasks.reduce((sum, task) => sum + task.chunks.length, 0);
  lines.push(
    `Totals: ${count(plan.intermediaries.length, 'intermediary copy', 'intermediary copies')} (removed after the job), ` +
      `${count(tasks.length - plan.intermediaries.length, 'target copy', 'target copies')}, ${count(chunkCopies, 'chunk copy', 'chunk copies')}; ` +
      `the busiest sled receives ${count(Math.max(0, ...written.values()), 'copy', 'copies')}.`,
  );
  return lines.join('\n');
}

function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
