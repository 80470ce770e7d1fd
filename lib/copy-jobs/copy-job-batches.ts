/**
 * How a plan's tasks are grouped into the batches the state machine's Map state runs: one
 * Lambda invocation copies one batch. Plan, copy, finalize and clean-up all derive the same
 * batches from the stored plan, so batch numbers mean the same thing in every step.
 */
import { startsAtOnce, type CopyPlan, type CopyTask } from './copy-plan.js';
import { COPY_BATCH_CONCURRENCY } from './states.js';

/** The most tasks in one batch, so that one invocation stays well within its time limit. */
const MAX_BATCH_TASKS = 32;

/** The round in which the state machine runs a task: all at once when pipelined or swarm. */
function executionRound(plan: CopyPlan, task: CopyTask): number {
  return startsAtOnce(plan.mode) ? 1 : task.round;
}

/** Splits each execution round's tasks, in plan order, into batches. */
export function batchesOf(plan: CopyPlan): Map<number, CopyTask[][]> {
  const byRound = new Map<number, CopyTask[]>();
  for (const task of plan.tasks) {
    const round = executionRound(plan, task);
    const tasks = byRound.get(round);
    if (tasks) tasks.push(task);
    else byRound.set(round, [task]);
  }
  const batches = new Map<number, CopyTask[][]>();
  for (const [round, tasks] of byRound) {
    const size = Math.min(MAX_BATCH_TASKS, Math.max(1, Math.ceil(tasks.length / COPY_BATCH_CONCURRENCY)));
    const split: CopyTask[][] = [];
    for (let i = 0; i < tasks.length; i += size) split.push(tasks.slice(i, i + size));
    batches.set(round, split);
  }
  return batches;
}
