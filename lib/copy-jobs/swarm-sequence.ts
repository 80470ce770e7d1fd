/**
 * The order a swarm plan's copies keep on each sled's link. The swarm schedule's timing holds
 * only if every sled receives its copies one after another, and sends them one after another,
 * in the plan's (slot) order: left to share the links freely, every chunk lands late and the
 * forwarding behind it starts late (docs/benchmarks.md measures 2.9× the bound against 1.05×).
 * The executor (batch-copier.ts) and the planner's model (bandwidth-model.ts) both follow it.
 */
import type { CopyPlan, CopyTask } from './copy-plan.js';

/**
 * Task id -> the tasks it follows: the one before it on the same receiving sled and the one
 * before it on the same sending sled. Empty for plans other than 'swarm'.
 */
export function swarmSequence(plan: CopyPlan): ReadonlyMap<string, readonly string[]> {
  const after = new Map<string, string[]>();
  if (plan.mode !== 'swarm') return after;
  const lastIn = new Map<number, string>();
  const lastOut = new Map<number, string>();
  for (const task of plan.tasks) {
    const before = [lastIn.get(task.to.sled), lastOut.get(task.from.sled)].filter((id): id is string => id !== undefined);
    if (before.length > 0) after.set(task.id, [...new Set(before)]);
    lastIn.set(task.to.sled, task.id);
    lastOut.set(task.from.sled, task.id);
  }
  return after;
}

/** What the executor needs of a swarm plan beside each task, worked out once per plan (and kept while the plan is). */
export interface SwarmOrder {
  /** Task id -> the tasks before it on its receiving and its sending sled. */
  readonly before: ReadonlyMap<string, readonly CopyTask[]>;
  /** Partition -> its snapshot copy's sled, for copies whose source target has gone. */
  readonly snapshotSleds: ReadonlyMap<number, number>;
}

const swarmOrders = new WeakMap<CopyPlan, SwarmOrder>();

export function swarmOrder(plan: CopyPlan): SwarmOrder {
  let order = swarmOrders.get(plan);
  if (!order) {
    const byId = new Map(plan.tasks.map((task) => [task.id, task]));
    const before = new Map([...swarmSequence(plan)].map(([id, ids]) => [id, ids.map((earlier) => byId.get(earlier)!)]));
    const snapshotSleds = new Map<number, number>();
    for (const task of plan.tasks) if (task.from.kind === 'snapshot') snapshotSleds.set(task.partition, task.from.sled);
    order = { before, snapshotSleds };
    swarmOrders.set(plan, order);
  }
  return order;
}
