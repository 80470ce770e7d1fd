/**
 * Plan assembly: drafts every partition's tree with the chosen shape, orders the tasks so
 * parents come first, places the copies on sleds and freezes the result into a CopyPlan.
 */
import type { CopyPlan, CopyTask, PlanInput, PlanMode } from './copy-plan.js';
import { renderFanout } from './fanout-summary.js';
import { copyNode, draftNode, type DraftNode, type DraftTask, type PartitionBuilder, type TreeShape } from './plan-drafts.js';
import { place } from './sled-placement.js';

/** Builds the plan: one tree of `shape` per partition, placed on sleds, with its fan-out summary. */
export function assemble(
  input: Omit<PlanInput, 'mode'>,
  mode: PlanMode,
  slotRounds: number,
  shape: TreeShape,
  notes: readonly string[],
): CopyPlan {
  const partitions = [...input.partitions].sort((a, b) => a.partition - b.partition);
  // A slot is a span of time in which tasks run together: a round, or the whole pipelined job.
  const slotOf = (round: number): number => (mode === 'pipelined' ? 0 : round - 1);
  const drafts: DraftTask[] = [];
  const snapshots: DraftNode[] = [];

  for (const partitionInput of partitions) {
    const { partition, sourceSled } = partitionInput;
    // Every task of a partition carries the same list; one frozen copy keeps callers from
    // changing a plan after the fact.
    const chunks = Object.freeze([...partitionInput.chunks]);
    const weight = chunks.length;
    const snapshot = draftNode('snapshot', '', -1, 0, weight, sourceSled);
    snapshots.push(snapshot);
    let nextIntermediary = 1;
    const builder: PartitionBuilder = {
      intermediary: (depth) => draftNode('intermediary', `p${partition}-i${nextIntermediary++}`, -1, depth, weight, -1),
      target: (target, depth) => draftNode('target', '', target, depth, weight, -1),
      addTask(from, to, round) {
        const id = to.kind === 'target' ? `p${partition}-t${to.target}` : to.id;
        const task: DraftTask = { id, partition, chunks, from, to, round };
        to.writtenBy = task;
        if (chunks.length > 0) from.reads.set(slotOf(round), (from.reads.get(slotOf(round)) ?? 0) + 1);
        drafts.push(task);
      },
    };
    if (chunks.length === 0) {
      // Nothing to read: each target's empty partition is made straight away, and no
      // intermediary is worth creating and removing.
      for (let t = 0; t < input.targets; t++) builder.addTask(snapshot, builder.target(t, 1), 1);
    } else {
      shape(builder, snapshot);
    }
  }

  // Stable sort: within a round (or depth) tasks keep partition order, then creation order,
  // and a parent is always in an earlier round or at a smaller depth than its children.
  const ordered = drafts
    .map((task, index) => ({ task, index }))
    .sort((a, b) => a.task.round - b.task.round || a.task.partition - b.task.partition || a.index - b.index)
    .map(({ task }) => task);

  place(ordered, snapshots, input.sledCount, mode === 'pipelined' ? 1 : slotRounds, slotOf);
  // The tree's round count; 1 when no partition holds data (every task is then in round 1).
  const rounds = ordered.at(-1)?.round ?? 0;

  const tasks: CopyTask[] = ordered.map((draft) => {
    const parent = draft.from.writtenBy;
    const task: CopyTask = {
      id: draft.id,
      partition: draft.partition,
      chunks: draft.chunks,
      from: copyNode(draft.from),
      to: copyNode(draft.to),
      round: draft.round,
      depth: draft.to.depth,
      ...(parent ? { parentTask: parent.id } : {}),
    };
    return task;
  });
  const intermediaries = tasks.flatMap(({ partition, to }) => (to.kind === 'intermediary' ? [{ partition, id: to.id, sled: to.sled }] : []));
  const columns = (partitions.at(-1)?.partition ?? -1) + 1;
  const targetSleds = Array.from({ length: input.targets }, () => new Array<number>(columns).fill(-1));
  for (const task of tasks) {
    if (task.to.kind === 'target') targetSleds[task.to.target]![task.partition] = task.to.sled;
  }

  const plan = { mode, rounds, tasks, intermediaries, targetSleds };
  return { ...plan, fanoutTree: renderFanout(input, plan, notes) };
}
