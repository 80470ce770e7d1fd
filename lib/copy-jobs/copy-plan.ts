/**
 * The shape of a copy plan: what the planner is given (PlanInput) and what it hands the Step
 * Functions job, the benchmark and the tests (CopyPlan, its tasks and its copies). Kept apart
 * from the planning code so that stores and the job record can name a plan without pulling
 * in the algorithm.
 */

/**
 * How the job runs. In 'rounds' each round starts once the previous one has finished. In
 * 'pipelined' every task starts at once, and a child copies a chunk as soon as its parent has it.
 * In 'swarm' every task copies one chunk, from any copy that already holds it (the snapshot's or
 * another target's), and each sled sends and receives its copies one at a time in the plan's
 * order (swarm-schedule.ts); there are no intermediaries.
 */
export type PlanMode = 'rounds' | 'pipelined' | 'swarm';

/** Whether every task of the plan starts at once, a child waiting for its parent's chunks. */
export function startsAtOnce(mode: PlanMode): boolean {
  return mode !== 'rounds';
}

/** What to copy, how many copies to make, and the limits that the plan must respect. */
export interface PlanInput {
  /** The partitions to copy, in any order, each with the sled that holds its snapshot copy. */
  readonly partitions: ReadonlyArray<{ readonly partition: number; readonly chunks: readonly number[]; readonly sourceSled: number }>;
  /** N >= 1: how many target volumes to make. */
  readonly targets: number;
  /** S >= 1: sleds are numbered 0..S-1. */
  readonly sledCount: number;
  /** F >= 1: the most concurrent reads that one copy of a partition may serve. */
  readonly maxSourceFanout: number;
  /** How the job is run; it decides the shape of the fan-out tree. */
  readonly mode: PlanMode;
}

/** One copy of one partition, and the sled it lives on. */
export type CopyNode =
  | { readonly kind: 'snapshot'; readonly sled: number }
  | { readonly kind: 'intermediary'; readonly id: string; readonly sled: number }
  | { readonly kind: 'target'; readonly target: number; readonly sled: number };

/** Copy a partition's chunks from one copy to a new one. */
export interface CopyTask {
  /**
   * Unique and stable: `p3-t12` writes target 12's partition 3, `p3-i7` writes intermediary `p3-i7`,
   * and in a swarm plan `p3-t12-c5` writes chunk 5 of target 12's partition 3.
   */
  readonly id: string;
  readonly partition: number;
  /** Chunk indices that hold data, in copy order; empty when the partition holds no data. */
  readonly chunks: readonly number[];
  readonly from: CopyNode;
  readonly to: CopyNode;
  /** 1-based. In 'pipelined' plans it equals `depth`, in 'swarm' plans the copy's slot + 1; for reporting only. */
  readonly round: number;
  /** Distance of `to` from the snapshot in the tree; 1 means it reads the snapshot. */
  readonly depth: number;
  /** The task that writes `from`; absent when `from` is the snapshot. */
  readonly parentTask?: string;
}

/** The tasks of a copy job, in an order that executors may start them in. */
export interface CopyPlan {
  readonly mode: PlanMode;
  /** Number of rounds (the highest task round; 0 without tasks); for 'pipelined' plans, the tree depth; for 'swarm' plans, the slots. */
  readonly rounds: number;
  /** Every parent task comes before its children, so executors can start tasks in order. */
  readonly tasks: readonly CopyTask[];
  /** Temporary copies, to be removed when the job ends, whether it succeeds or fails. */
  readonly intermediaries: ReadonlyArray<{ readonly partition: number; readonly id: string; readonly sled: number }>;
  /**
   * `[target][partition number]` -> the sled that holds that target's copy of that partition;
   * -1 for a partition number below the highest that the input did not list.
   */
  readonly targetSleds: ReadonlyArray<ReadonlyArray<number>>;
  /** A human-readable summary of the fan-out, level by level, for `npm run demo`. */
  readonly fanoutTree: string;
}
