import type { CopyJob, CopyJobTree, CopyTreeNode } from './copy-job.js';
import type { CopyPlan } from './copy-plan.js';

/**
 * A job's fan-out tree, read-only: the stored plan's tasks as nodes (one snapshot node per
 * partition), each with its chunks copied so far (from the job's per-task counts).
 */
export function copyJobTree(job: CopyJob, plan: CopyPlan): CopyJobTree {
  const done = job.taskChunksDone;
  const finished = job.state === 'succeeded';
  const nodes: CopyTreeNode[] = [];
  const snapshots = new Set<number>();
  for (const task of plan.tasks) {
    if (task.from.kind === 'snapshot' && !snapshots.has(task.partition)) {
      snapshots.add(task.partition);
      const chunks = task.chunks.length;
      nodes.push({ id: `p${task.partition}-s`, partition: task.partition, kind: 'snapshot', sled: task.from.sled, depth: 0, round: 0, chunks, chunksDone: chunks });
    }
    const chunks = task.chunks.length;
    // A retried batch copies (and counts) again, hence the cap; untracked plans are known only once done.
    const counted = done !== undefined ? Math.min(chunks, done[task.id] ?? 0) : finished ? chunks : null;
    const volumeId = task.to.kind === 'target' ? job.volumeIds[task.to.target] : undefined;
    nodes.push({
      id: task.id,
      partition: task.partition,
      kind: task.to.kind,
      sled: task.to.sled,
      depth: task.depth,
      round: task.round,
      parent: task.parentTask ?? `p${task.partition}-s`,
      ...(volumeId === undefined ? {} : { volumeId }),
      chunks,
      chunksDone: counted,
    });
  }
  return { mode: plan.mode, rounds: plan.rounds, nodes };
}
