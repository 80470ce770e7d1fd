/**
 * The copy-job planner: turns "make N volumes from this snapshot" into copy tasks.
 *
 * It is pure (no I/O, no clock, no randomness), so the same input always gives the same plan.
 * The Step Functions job runs the plan, the benchmark models it, and tests check it.
 *
 * A snapshot partition lives on one sled, and one copy of a partition can serve at most F
 * concurrent reads (`maxSourceFanout`). Reading it N times directly takes ceil(N/F) waves. The
 * planner instead duplicates the partition into intermediaries, which then serve as extra
 * sources (DESIGN.md, "Intermediary duplication for copy requests").
 */
import { ValidationError } from '../errors.js';
import type { CopyPlan, PlanInput } from './copy-plan.js';
import { buildPipelinedTree, buildRoundsTree, pipelinedArity, pipelinedDepth } from './fanout-trees.js';
import { assemble } from './plan-assembly.js';
import { requireCount, validate } from './plan-validation.js';
import { scheduleSwarm, swarmPlan } from './swarm-schedule.js';

/**
 * The fewest rounds that can make `targets` copies when each source serves at most
 * `maxSourceFanout` reads per round: the smallest R >= 1 with (F+1)^(R-1) × F >= N. Each
 * duplication round multiplies the sources by at most F+1, and the last round serves F
 * targets per source; targets are never sources, so no plan can do better.
 */
export function minimumRounds(targets: number, maxSourceFanout: number): number {
  requireCount('targets', targets);
  requireCount('maxSourceFanout', maxSourceFanout);
  let rounds = 1;
  let servable = maxSourceFanout;
  while (servable < targets) {
    servable *= maxSourceFanout + 1;
    rounds += 1;
  }
  return rounds;
}

/**
 * Plans a copy job. 'rounds' builds the round-by-round tree of intermediaries, which takes
 * minimumRounds(N, F) rounds. 'pipelined' builds a tree of minimal depth in which no copy
 * serves more than F reads in total, because all of its tasks run at the same time. 'swarm'
 * schedules every chunk copy from any copy that holds the chunk (swarm-schedule.ts): no
 * intermediaries, and each copy serves one read at a time, so within any F.
 */
export function planCopyJob(input: PlanInput): CopyPlan {
  validate(input);
  if (input.mode === 'swarm') return swarmPlan(scheduleSwarm(input));
  if (input.mode !== 'rounds' && input.mode !== 'pipelined') {
    throw new ValidationError(`mode must be 'rounds', 'pipelined' or 'swarm'; got ${JSON.stringify(input.mode)}.`);
  }
  const N = input.targets;
  const F = input.maxSourceFanout;
  // With F = 1 a copy may feed only one other copy for the whole job, and targets cannot feed
  // anything, so a pipelined tree could make only one target. The round tree can reuse each
  // source once per round, so it is the plan that is run.
  if (input.mode === 'pipelined' && (F >= 2 || N === 1)) {
    const depth = pipelinedDepth(N, F);
    const arity = pipelinedArity(N, F, depth);
    return assemble(input, 'pipelined', depth, (builder, snapshot) => buildPipelinedTree(builder, snapshot, N, arity), [
      `Tree of depth ${depth}: each copy feeds at most ${arity} others in total (F = ${F}).`,
    ]);
  }
  const notes =
    input.mode === 'pipelined'
      ? [`Pipelined mode was asked for, but with F = 1 a copy can feed only one other copy, so this is the round-by-round plan; run it as rounds.`]
      : [];
  return assemble(input, 'rounds', minimumRounds(N, F), (builder, snapshot) => buildRoundsTree(builder, snapshot, N, F), notes);
}

/**
 * The baseline without intermediaries: every target reads the snapshot, in waves of at most
 * F concurrent reads, so the job takes ceil(N/F) rounds. Benchmarks compare against it.
 */
export function planDirectCopy(input: Omit<PlanInput, 'mode'>): CopyPlan {
  validate(input);
  const N = input.targets;
  const F = input.maxSourceFanout;
  return assemble(input, 'rounds', Math.ceil(N / F), (builder, snapshot) => {
    for (let t = 0; t < N; t++) builder.addTask(snapshot, builder.target(t, 1), Math.floor(t / F) + 1);
  }, ['Direct copy: no intermediaries; each snapshot partition serves its targets in waves.']);
}
