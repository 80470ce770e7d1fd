import { FAILPOINTS, failpoint } from '../faults.js';
import { initialMeta } from '../notes/partition-head.js';
import type { ChunkRef, NewPartition } from '../notes/ports.js';
import { mapLimit } from '../shared/concurrency.js';
import { chunkLocation } from './chunk-locations.js';
import { batchesOf } from './copy-job-batches.js';
import type { CopyJobContext } from './copy-job-context.js';
import type { CopyNode, CopyTask } from './copy-plan.js';
import { ChecksumMismatchError } from './errors.js';
import { transient } from './transient.js';

/** Target partitions finalize verifies at once (reading the batches' records). */
const FINALIZE_CONCURRENCY = 32;

/**
 * Finalize state: every target chunk must match the snapshot's SHA-256; only then are the
 * volumes marked available. The SHA-256 of each target chunk is the one its sled reported
 * for the copy that wrote it, recorded by the copy batch; a chunk with none recorded counts
 * as a mismatch. Once every chunk checks out, the head-node items of the target partitions
 * (metadata, then both replicas' chunk maps) are written in batches, unconditionally: a
 * volume in `creating` serves nothing and no writer touches it, and a retry writes the same
 * items again. A volume that is no longer `creating` (a retry after some were marked
 * available) gets no writes. A crash anywhere before the volumes are marked available leaves
 * them `creating`, and the job's catch removes their data, head-node items included.
 */
export async function finalizeTargets(ctx: CopyJobContext, jobId: string): Promise<{ verifiedChunks: number }> {
  const [job, plan] = await Promise.all([ctx.job(jobId), ctx.plan(jobId)]);
  const snapshot = await ctx.completedSnapshot(job.snapshotId);
  const partitions = new Map((await ctx.snapshotPartitions(snapshot)).map((p) => [p.partition, p]));
  const creating = new Set<string>();
  await mapLimit(job.volumeIds, 16, async (volumeId) => {
    if ((await ctx.deps.volumes.get(volumeId))?.state === 'creating') creating.add(volumeId);
  });
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
  const targetTasks = plan.tasks.filter((task) => task.to.kind === 'target');
  let verifiedChunks = 0;
  const verified: NewPartition[] = [];
  await mapLimit(targetTasks, FINALIZE_CONCURRENCY, async (task) => {
    const target = task.to as Extract<CopyNode, { kind: 'target' }>;
    const volumeId = job.volumeIds[target.target]!;
    const record = await recordOf(task);
    const chunks: Record<string, ChunkRef> = {};
    for (const chunk of task.chunks) {
      const at = chunkLocation(job, task.to, task.partition, chunk);
      const expected = partitions.get(task.partition)?.chunks[String(chunk)]?.sha256;
      const actual = record?.[`${at.sled}/${at.key}`];
      if (!expected || actual !== expected) {
        throw new ChecksumMismatchError(
          `target ${volumeId} partition ${task.partition} chunk ${chunk}: ` +
            `SHA-256 ${actual === undefined ? 'never verified' : actual || 'missing'} does not match the snapshot's ${expected ?? 'missing'}`,
        );
      }
      chunks[String(chunk)] = { ...at, sha256: expected };
    }
    verifiedChunks += task.chunks.length;
    if (!creating.has(volumeId)) return;
    // Both head-node replicas of the target partition start from the copied chunks.
    const meta = initialMeta(volumeId, task.partition, ctx.deps.sledCount);
    verified.push({
      meta,
      chunkMaps: [meta.primary, meta.secondary].map((replica) => ({
        volumeId,
        partition: task.partition,
        replicaId: replica.replicaId,
        baseOp: 0,
        chunks,
        version: 1,
      })),
    });
  });
  await transient('write the targets\' head-node items', () => ctx.deps.newPartitions.putNewPartitions(verified));
  await failpoint(FAILPOINTS.finalize, { jobId });
  await mapLimit(job.volumeIds, 16, async (volumeId) => {
    const volume = await ctx.deps.volumes.get(volumeId);
    if (volume?.state === 'creating') await ctx.deps.volumes.transition(volumeId, ['creating'], 'available', ctx.now());
    await failpoint(FAILPOINTS.targetAvailable, { jobId, volumeId });
  });
  await ctx.deps.jobs.update(jobId, { progress: { ...(await ctx.job(jobId)).progress, targetsVerified: job.volumeIds.length } });
  return { verifiedChunks };
}
