import { VolumeNotFoundError, VolumeStateError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import { mapLimit } from '../shared/concurrency.js';
import { chunkLocation } from './chunk-locations.js';
import { batchesOf } from './copy-job-batches.js';
import type { ChunkSwap } from './borrowed-chunks.js';
import { copiesFor, type CopyJobContext } from './copy-job-context.js';
import type { CopyNode, CopyTask } from './copy-plan.js';
import { ChecksumMismatchError } from './errors.js';
import type { Hydration } from './hydration.js';
import { transient } from './transient.js';

/** Target partitions finalize verifies at once (reading the batches' records). */
const FINALIZE_CONCURRENCY = 32;

/**
 * Finalize state: every target chunk must match the snapshot's SHA-256; only then does a
 * target become `available`. The SHA-256 of each target chunk is the one its sled reported
 * for the copy that wrote it, recorded by the copy batch; a chunk with none recorded counts
 * as a mismatch. Only the targets still hydrating are checked (a retry leaves the available
 * ones alone). Once every chunk checks out, each target's maps take its own copies in place
 * of the borrowed refs, only where they still name them (see borrowed-chunks.ts), and it is
 * marked available (the hydration swap). A crash anywhere leaves the rest `hydrating`, still
 * serving through the snapshot; the catch keeps them so, and a retry finishes them.
 */
export async function finalizeTargets(ctx: CopyJobContext, hydration: Hydration, jobId: string): Promise<{ verifiedChunks: number }> {
  const [job, plan] = await Promise.all([ctx.job(jobId), ctx.plan(jobId)]);
  const snapshot = await ctx.completedSnapshot(job.snapshotId);
  const partitions = new Map((await ctx.snapshotPartitions(snapshot)).map((p) => [p.partition, p]));
  const active = await ctx.activeTargets(job);
  // Each batch's record is read once, when the first of its target tasks is checked.
  const batchOf = new Map<CopyTask, { round: number; batch: number }>();
  for (const [round, batches] of batchesOf(plan)) batches.forEach((tasks, batch) => tasks.forEach((task) => batchOf.set(task, { round, batch })));
  const records = new Map<string, Promise<Record<string, string> | undefined>>();
  const recordOf = (task: CopyTask) => {
    const { round, batch } = batchOf.get(task)!;
    let record = records.get(`${round}/${batch}`);
    if (!record) records.set(`${round}/${batch}`, (record = transient('read verified chunks', () => ctx.deps.verified.get(jobId, round, batch))));
    return record;
  };
  const targetTasks = plan.tasks.filter((task) => task.to.kind === 'target' && copiesFor(job, task, active));
  let verifiedChunks = 0;
  const swaps = new Map<string, Map<number, Record<string, ChunkSwap>>>();
  await mapLimit(targetTasks, FINALIZE_CONCURRENCY, async (task) => {
    const target = task.to as Extract<CopyNode, { kind: 'target' }>;
    const volumeId = job.volumeIds[target.target]!;
    const record = await recordOf(task);
    const chunks: Record<string, ChunkSwap> = {};
    for (const chunk of task.chunks) {
      const at = chunkLocation(job, task.to, task.partition, chunk);
      const borrowed = partitions.get(task.partition)?.chunks[String(chunk)];
      const expected = borrowed?.sha256;
      const actual = record?.[`${at.sled}/${at.key}`];
      if (!borrowed || !expected || actual !== expected) {
        throw new ChecksumMismatchError(
          `target ${volumeId} partition ${task.partition} chunk ${chunk}: ` +
            `SHA-256 ${actual === undefined ? 'never verified' : actual || 'missing'} does not match the snapshot's ${expected ?? 'missing'}`,
        );
      }
      chunks[String(chunk)] = { borrowed, own: { ...at, sha256: expected } };
    }
    verifiedChunks += task.chunks.length;
    const byPartition = swaps.get(volumeId) ?? new Map<number, Record<string, ChunkSwap>>();
    // A swarm plan copies a partition in one task per chunk.
    byPartition.set(task.partition, { ...byPartition.get(task.partition), ...chunks });
    swaps.set(volumeId, byPartition);
  });
  await failpoint(FAILPOINTS.finalize, { jobId });
  const states = await ctx.deps.volumes.getMany(job.volumeIds.filter((volumeId) => active.has(volumeId)));
  const hydrating = job.volumeIds.filter((volumeId) => states.get(volumeId)?.state === 'hydrating');
  const ahead = await transient('read the targets’ chunk maps', () =>
    hydration.readAhead(new Map(hydrating.map((volumeId) => [volumeId, swaps.get(volumeId)?.keys() ?? []]))),
  );
  await mapLimit(hydrating, 16, async (volumeId) => {
    const completed = await transient('hydrate a target', () => hydration.complete(volumeId, swaps.get(volumeId) ?? new Map(), ahead)).catch(
      (error: unknown) => {
        // Deleted (or failed by the job's catch) since its state was read: nothing to finish.
        if (error instanceof VolumeNotFoundError || error instanceof VolumeStateError) return undefined;
        throw error;
      },
    );
    if (!completed) return;
    await failpoint(FAILPOINTS.targetAvailable, { jobId, volumeId });
  });
  await ctx.deps.jobs.update(jobId, { progress: { ...(await ctx.job(jobId)).progress, targetsVerified: job.volumeIds.length } });
  return { verifiedChunks };
}
