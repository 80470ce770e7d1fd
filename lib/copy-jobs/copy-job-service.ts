import { sha256Hex } from '../shared/hashing.js';
import { ConcurrentModificationError } from '../errors.js';
import { mapLimit } from '../shared/concurrency.js';
import type { Volume } from '../volumes/volume.js';
import { BatchCopier } from './batch-copier.js';
import { chunkLocation } from './chunk-locations.js';
import { MAX_TRACKED_TASKS, copyJobStatus, newCopyJobId, type CopyJobTree, type CopyJobStatus, type CopyRequest } from './copy-job.js';
import { batchesOf } from './copy-job-batches.js';
import { CopyJobContext, copiesFor, type CopyJobDeps } from './copy-job-context.js';
import { copyJobTree } from './copy-job-tree.js';
import { CopyJobNotFoundError, SnapshotNotReadyError } from './errors.js';
import type { WorkflowTimeline } from './ports.js';
import { planCopyJob, planDirectCopy } from './planner.js';
import { checkSwarmSize } from './swarm-schedule.js';
import { finalizeTargets } from './target-verification.js';
import { transient } from './transient.js';
import type { ChunkRef } from '../notes/ports.js';
import { Hydration, jobHydration, targetHydration, type HydrationProgress, type JobHydration } from './hydration.js';
import { copyJobRestarts, executionEnded, type JobRestart } from './retry.js';

/** What `POST /snapshots/{id}/copies` answers. */
export interface CopyJobCreated {
  readonly jobId: string;
  readonly volumeIds: readonly string[];
  readonly executionArn: string;
}

/** The Plan state's result: per round, the batch numbers the Map iterates over. */
export interface PlannedRounds {
  readonly rounds: ReadonlyArray<{ readonly round: number; readonly batches: readonly number[] }>;
}

/** Target `index` of job `jobId` gets a volume id derived from both, so a retried request makes the same volumes. */
export function targetVolumeId(jobId: string, index: number): string {
  return `vol-${sha256Hex(`${jobId}/${index}`).slice(0, 17)}`;
}

/**
 * Copy jobs: the request (volumes in `creating`, one execution), and the work of each state
 * of the workflow. Every step is idempotent, because Step Functions retries them. This class
 * is the job's lifecycle (create, plan, clean up, fail) and its read side; the Copy state is
 * in batch-copier.ts and the Finalize state in target-verification.ts.
 */
export class CopyJobService {
  private readonly ctx: CopyJobContext;
  private readonly batches: BatchCopier;
  private readonly hydration: Hydration;

  constructor(deps: CopyJobDeps) {
    this.ctx = new CopyJobContext(deps);
    this.batches = new BatchCopier(this.ctx);
    this.hydration = new Hydration({ ...deps, clock: () => this.ctx.now() });
  }

  /**
   * Starts a copy job: N volumes in `creating`, a job record, an execution. With a
   * clientToken, a second request returns the first job, and finishes starting it if the
   * first request died half-way.
   */
  async create(snapshotId: string, request: CopyRequest): Promise<CopyJobCreated> {
    const snapshot = await this.ctx.completedSnapshot(snapshotId);
    if (request.mode === 'swarm') checkSwarmSize(request.count, snapshot.progress.chunksStored);
    let jobId = newCopyJobId();
    if (request.clientToken) jobId = await this.ctx.deps.jobs.claimToken(snapshotId, request.clientToken, jobId);
    let job = await this.ctx.deps.jobs.get(jobId);
    if (job && job.snapshotId !== snapshotId) throw new ConcurrentModificationError(`clientToken belongs to job ${jobId}`);
    const volumeIds = job?.volumeIds ?? Array.from({ length: request.count }, (_, i) => targetVolumeId(jobId, i));
    // A job this request creates has targets nobody else can know of yet: they are written in batches.
    const newJob = !job;
    if (!job) {
      job = {
        jobId,
        snapshotId,
        volumeIds,
        maxSourceFanout: request.maxSourceFanout,
        mode: request.mode,
        state: 'running',
        executionArn: '',
        progress: {
          roundsPlanned: 0,
          roundsDone: 0,
          intermediariesCreated: 0,
          intermediariesRemoved: 0,
          chunksCopied: 0,
          chunksTotal: 0,
          bytesCopied: 0,
          bytesTotal: 0,
          targetsVerified: 0,
        },
        createdAt: this.ctx.now().toISOString(),
      };
      await this.ctx.deps.jobs.create(job);
    }
    const timestamp = this.ctx.now().toISOString();
    const targets = volumeIds.map(
      (volumeId, i): Volume => ({
        volumeId,
        name: `copy ${i + 1} of ${snapshotId}`,
        sizeBytes: snapshot.sizeBytes,
        chunkSizeBytes: snapshot.chunkSizeBytes,
        partitionChunks: snapshot.partitionChunks,
        partitionCount: snapshot.partitionCount,
        state: 'creating',
        source: { snapshotId, jobId },
        createdAt: timestamp,
        updatedAt: timestamp,
      }),
    );
    const fresh = new Set<string>();
    if (newJob) {
      await this.ctx.deps.volumes.putFresh(targets);
      for (const volumeId of volumeIds) fresh.add(volumeId);
    } else {
      // A repeated request: only the targets its first attempt did not create.
      await mapLimit(targets, 16, (volume) =>
        this.ctx.deps.volumes.create(volume).then(
          () => fresh.add(volume.volumeId),
          (error: unknown) => {
            if (!(error instanceof ConcurrentModificationError)) throw error;
          },
        ),
      );
    }
    // A snapshot delete marks the snapshot first and then looks for dependents: checking again
    // now that the targets exist means one of the two sees the other.
    const latest = await this.ctx.deps.snapshots.get(snapshotId);
    if (latest?.state !== 'completed') {
      await mapLimit([...fresh], 16, (volumeId) => this.ctx.deps.volumes.transition(volumeId, ['creating'], 'failed', this.ctx.now()));
      await this.ctx.deps.jobs.update(jobId, { state: 'failed', error: `snapshot ${snapshotId} is ${latest?.state ?? 'gone'}`, finishedAt: this.ctx.now().toISOString() });
      throw new SnapshotNotReadyError(snapshotId, latest?.state ?? 'deleted');
    }
    // Usable at once: the targets borrow the snapshot's chunks before the answer (see hydration.ts).
    await this.hydration.borrow(await this.ctx.snapshotPartitions(snapshot), volumeIds, fresh, newJob ? targets : []);
    // A repeated request for a job a retry (or a resume at start) already runs again joins that run.
    const runner = this.ctx.deps.runner();
    if (job.executionArn && job.executionArn.endsWith(`${jobId}-retry-${job.attempts ?? 0}`) && !executionEnded(await runner.history(job.executionArn))) {
      return { jobId, volumeIds, executionArn: job.executionArn };
    }
    const { executionArn } = await runner.start(jobId, { jobId });
    if (job.executionArn !== executionArn) await this.ctx.deps.jobs.setExecution(jobId, executionArn);
    return { jobId, volumeIds, executionArn };
  }

  /** The job with its rate and ETA. */
  async status(jobId: string): Promise<CopyJobStatus & { hydration?: JobHydration }> {
    const job = await this.ctx.deps.jobs.get(jobId);
    if (!job) throw new CopyJobNotFoundError(jobId);
    const status = copyJobStatus(job, this.ctx.now());
    if (job.plan === undefined) return status;
    return { ...status, hydration: jobHydration({ ...status, taskChunksDone: job.taskChunksDone }, await this.ctx.plan(jobId)) };
  }

  /** A copy target's hydration (its job's progress for it); undefined for a volume no job made. */
  async volumeHydration(volumeId: string, state: string, jobId: string | undefined): Promise<HydrationProgress | undefined> {
    if (!jobId) return undefined;
    const job = await this.ctx.deps.jobs.get(jobId);
    const target = job?.volumeIds.indexOf(volumeId) ?? -1;
    if (!job || target < 0 || job.plan === undefined) return undefined;
    const status = { ...copyJobStatus(job, this.ctx.now()), taskChunksDone: job.taskChunksDone };
    return targetHydration(status, await this.ctx.plan(jobId), target, state === 'available');
  }

  /**
   * POST /copy-jobs/{id}/retry: finishes the hydration of the targets a failed job (or one
   * whose execution died with its process) left hydrating, in a new execution that copies only
   * for them and removes what the earlier run left behind. Idempotent: a job that succeeded or
   * still runs is answered as it is.
   */
  async retry(jobId: string): Promise<JobRestart> {
    this.batches.forgetJob(jobId);
    const restart = await copyJobRestarts(this.ctx.deps.jobs, this.ctx.deps.runner(), jobId, this.ctx.now());
    if (restart.restarted) this.batches.jobRestarted(jobId);
    return restart;
  }

  /**
   * Restarts every job that reads `running` but whose execution has ended or is unknown to the
   * runner: the embedded cloud calls it once at start, since its executions lived in the process
   * that ran them (a kill -9 ends them). Each is a retry (see retry.ts), so a job another runner
   * still runs is left alone. Returns the jobs restarted; one that cannot be is reported, not thrown.
   */
  async resumeInterrupted(): Promise<{ resumed: string[]; failed: Array<{ jobId: string; error: string }> }> {
    const resumed: string[] = [];
    const failed: Array<{ jobId: string; error: string }> = [];
    await mapLimit(await this.ctx.deps.jobs.running(), 4, async (jobId) => {
      try {
        if ((await this.retry(jobId)).restarted) resumed.push(jobId);
      } catch (error) {
        failed.push({ jobId, error: error instanceof Error ? error.message : String(error) });
      }
    });
    return { resumed, failed };
  }

  /**
   * The job's fan-out tree, read-only: the stored plan's tasks as nodes (one snapshot node per
   * partition), each with its chunks copied so far. Undefined until the job is planned.
   */
  async tree(jobId: string): Promise<CopyJobTree | undefined> {
    const job = await this.ctx.job(jobId);
    if (job.plan === undefined) return undefined;
    const plan = await this.ctx.plan(jobId);
    return copyJobTree(job, plan);
  }

  /** The execution's state transitions, with its batches' child executions on AWS. */
  async events(jobId: string): Promise<WorkflowTimeline> {
    const job = await this.ctx.deps.jobs.get(jobId);
    if (!job) throw new CopyJobNotFoundError(jobId);
    if (!job.executionArn) return { events: [] };
    const runner = this.ctx.deps.runner();
    return runner.timeline ? runner.timeline(job.executionArn) : { events: await runner.history(job.executionArn) };
  }

  /** Plan state: the fan-out tree, stored for the copy tasks; returns the batches per round. */
  async planJob(jobId: string): Promise<PlannedRounds> {
    const job = await this.ctx.job(jobId);
    const snapshot = await this.ctx.completedSnapshot(job.snapshotId);
    const partitions = await this.ctx.snapshotPartitions(snapshot);
    // A target whose request died before it borrowed the snapshot's chunks borrows them now.
    await this.hydration.borrow(partitions, job.volumeIds, new Set());
    const active = await this.ctx.activeTargets(job);
    const input = {
      partitions: partitions.map((p) => ({
        partition: p.partition,
        chunks: Object.keys(p.chunks).map(Number).sort((a, b) => a - b),
        sourceSled: p.sled,
      })),
      targets: job.volumeIds.length,
      sledCount: this.ctx.deps.sledCount,
      maxSourceFanout: job.maxSourceFanout,
    };
    const plan = job.mode === 'direct' ? planDirectCopy(input) : planCopyJob({ ...input, mode: job.mode });
    await this.ctx.deps.plans.put(jobId, plan);
    this.ctx.cachePlan(jobId, plan);
    // A retry copies nothing for the targets already available.
    const chunksTotal = plan.tasks.filter((task) => copiesFor(job, task, active)).reduce((sum, task) => sum + task.chunks.length, 0);
    const roundTaskCounts = Array.from({ length: plan.rounds }, (_, i) => plan.tasks.filter((task) => task.round === i + 1).length);
    await this.ctx.deps.jobs.update(jobId, {
      plan: plan.fanoutTree,
      roundTaskCounts,
      ...(plan.tasks.length <= MAX_TRACKED_TASKS ? { taskChunksDone: {} } : {}),
      startedCopyingAt: this.ctx.now().toISOString(),
      progress: { ...job.progress, roundsPlanned: plan.rounds, chunksTotal, bytesTotal: chunksTotal * snapshot.chunkSizeBytes },
    });
    const rounds = [...batchesOf(plan)].sort(([a], [b]) => a - b).map(([round, batches]) => ({ round, batches: batches.map((_, i) => i) }));
    return { rounds };
  }

  /** Copy state: one batch of partition copies, all at once, chunk by chunk with server-side copies. */
  copyBatch(jobId: string, round: number, batch: number): Promise<{ tasks: number; chunks: number }> {
    return this.batches.copyBatch(jobId, round, batch);
  }

  /** Finalize state: verifies every target chunk against the snapshot, then swaps in the targets' own copies and marks them available (see finalizeTargets). */
  finalize(jobId: string): Promise<{ verifiedChunks: number }> {
    return finalizeTargets(this.ctx, this.hydration, jobId);
  }

  /** Clean-up state: removes the intermediaries, by the keys the plan gave them; the job has succeeded. */
  async cleanUp(jobId: string): Promise<{ objectsRemoved: number }> {
    const [job, plan] = await Promise.all([this.ctx.job(jobId), this.ctx.plan(jobId)]);
    const intermediaries = plan.tasks
      .filter((task) => task.to.kind === 'intermediary')
      .flatMap((task) => task.chunks.map((chunk) => chunkLocation(job, task.to, task.partition, chunk)));
    const objectsRemoved = await transient('remove intermediaries', () => this.ctx.deps.chunks.removeAll(intermediaries));
    const batches = [...batchesOf(plan)].flatMap(([round, split]) => split.map((_, batch) => ({ round, batch })));
    await transient('remove verified-chunk records', () => this.ctx.deps.verified.remove(jobId, batches));
    await this.ctx.deps.jobs.update(jobId, {
      state: 'succeeded',
      finishedAt: this.ctx.now().toISOString(),
      progress: { ...job.progress, intermediariesRemoved: plan.intermediaries.length, roundsDone: plan.rounds },
    });
    return { objectsRemoved };
  }

  /**
   * Catch: the job is failed; intermediaries are removed. A target that already borrowed the
   * snapshot's chunks stays `hydrating` and keeps serving (its writes included): only the job's
   * own copies that no map names are removed, and a retry finishes it. A target still
   * `creating` (its request died before it borrowed) is failed and its partial data removed.
   */
  async fail(jobId: string, error: { Error?: string; Cause?: string } | undefined): Promise<void> {
    const job = await this.ctx.job(jobId);
    this.batches.jobEnded(jobId);
    const cause = typeof error?.Cause === 'string' ? describeCause(error.Cause) : undefined;
    // Failed first: tasks still running see it after each copy and stop (see copyBatch).
    await this.ctx.deps.jobs.update(jobId, {
      state: 'failed',
      error: [error?.Error, cause].filter(Boolean).join(': ') || 'the copy job failed',
      finishedAt: this.ctx.now().toISOString(),
    });
    await this.ctx.deps.chunks.removePrefix(`copy-jobs/${jobId}/`);
    this.batches.forgetJob(jobId);
    const plan = job.plan === undefined ? undefined : await this.ctx.plan(jobId).catch(() => undefined);
    await mapLimit(job.volumeIds, 8, async (volumeId, target) => {
      const volume = await this.ctx.deps.volumes.get(volumeId);
      if (volume?.state === 'hydrating') {
        const copies = new Map<number, ChunkRef[]>();
        for (const task of plan?.tasks ?? []) {
          if (task.to.kind !== 'target' || task.to.target !== target) continue;
          // A swarm plan copies a partition in one task per chunk.
          const refs = task.chunks.map((chunk) => ({ ...chunkLocation(job, task.to, task.partition, chunk), sha256: '' }));
          copies.set(task.partition, [...(copies.get(task.partition) ?? []), ...refs]);
        }
        await this.hydration.abandon(volumeId, copies);
        return;
      }
      if (volume?.state !== 'creating') return;
      for (const store of this.ctx.deps.volumeData) await store.removeVolumeData(volumeId);
      await this.ctx.deps.volumes.transition(volumeId, ['creating'], 'failed', this.ctx.now());
    });
    const latest = await this.ctx.job(jobId);
    await this.ctx.deps.jobs.setProgress(jobId, { ...latest.progress, intermediariesRemoved: latest.progress.intermediariesCreated });
  }
}

/** Lambda error causes arrive as JSON with an errorMessage; keep just the message. */
function describeCause(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}