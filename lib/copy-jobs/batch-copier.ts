import { ChunkGoneError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import { mapLimit } from '../shared/concurrency.js';
import type { ChunkLocation } from '../sleds/ports.js';
import { ChunkArrivals } from './chunk-arrivals.js';
import { chunkLocation } from './chunk-locations.js';
import type { CopyJob } from './copy-job.js';
import { batchesOf } from './copy-job-batches.js';
import { copiesFor, type CopyJobContext } from './copy-job-context.js';
import { startsAtOnce, type CopyPlan, type CopyTask } from './copy-plan.js';
import { TransientCopyError } from './errors.js';
import { ProgressReporter } from './progress-reporter.js';
import { swarmOrder } from './swarm-sequence.js';
import { transient } from './transient.js';

/**
 * How long a swarm copy waits for the copy before it on its sleds when that one runs in another
 * process and does not show up: the order only paces the links, so past this it goes anyway.
 */
const TURN_WAIT_MS = 60_000;

/** A swarm task's source target stopped hydrating (deleted, or available after a retry): its copies are its own now. */
function sourceGone(job: CopyJob, task: CopyTask, active: ReadonlySet<string>): boolean {
  return task.from.kind === 'target' && !active.has(String(job.volumeIds[task.from.target]));
}

/**
 * The Copy state's work: copying one batch of partition copies with server-side chunk copies,
 * recording the SHA-256 each target chunk was stored with (finalize verifies against it), and
 * stopping, and removing what it wrote, once the job has ended.
 */
export class BatchCopier {
  /** Chunks this process wrote or is writing, for pipelined children in the same process. */
  private readonly arrivals: ChunkArrivals;
  /** Jobs this process has failed: its own copy tasks of those stop at once. */
  private readonly ended = new Set<string>();

  constructor(private readonly ctx: CopyJobContext) {
    this.arrivals = new ChunkArrivals(ctx.deps.chunks);
  }

  /** The job failed (in this process): its running tasks here stop, and waiting children wake to see it. */
  jobEnded(jobId: string): void {
    this.ended.add(jobId);
    // Children waiting for a parent chunk wake up and find the job ended (or, another job's, wait again).
    this.arrivals.wakeAll();
  }

  /**
   * The job's intermediaries and target copies no map took are gone (its catch removed them): a
   * retry's children, and swarm copies waiting their turn, must not take them for written.
   * Every such key names the job: `copy-jobs/{job}/…` and `…/{chunk}-{job}`.
   */
  forgetJob(jobId: string): void {
    this.arrivals.forget(jobId);
  }

  /** The job runs again (POST /copy-jobs/{id}/retry): its tasks here copy again. */
  jobRestarted(jobId: string): void {
    this.ended.delete(jobId);
  }

  /** A swarm copy goes once the copies before it on its sending and its receiving sled are done (swarm-sequence.ts). */
  private async waitTurn(job: CopyJob, plan: CopyPlan, task: CopyTask, active: ReadonlySet<string>, stillRunning: () => void): Promise<void> {
    for (const before of swarmOrder(plan).before.get(task.id) ?? []) {
      if (!copiesFor(job, before, active)) continue;
      const at = chunkLocation(job, before.to, before.partition, before.chunks[0]!);
      await this.arrivals.waitTurn(at, TURN_WAIT_MS, async () => stillRunning());
    }
  }

  /** Copy state: one batch of partition copies, all at once, chunk by chunk with server-side copies. */
  async copyBatch(jobId: string, round: number, batch: number): Promise<{ tasks: number; chunks: number }> {
    const started = performance.now();
    const [job, plan] = await Promise.all([this.ctx.job(jobId), this.ctx.plan(jobId)]);
    const planned = batchesOf(plan).get(round)?.[batch];
    if (!planned) throw new Error(`job ${jobId} has no batch ${batch} in round ${round}`);
    const snapshot = await this.ctx.completedSnapshot(job.snapshotId);
    const active = await this.ctx.activeTargets(job);
    const tasks = planned.filter((task) => copiesFor(job, task, active));
    const progress = new ProgressReporter(this.ctx.deps.jobs, jobId, snapshot.chunkSizeBytes, job.taskChunksDone !== undefined);
    // Tasks for targets already available (a retry) are done without copying.
    for (const task of planned) if (!tasks.includes(task)) progress.task(task.round, false);
    for (const task of tasks) {
      for (const chunk of task.chunks) {
        const to = chunkLocation(job, task.to, task.partition, chunk);
        this.arrivals.expect(to);
      }
    }
    const writtenHere: ChunkLocation[] = [];
    /** The SHA-256 the sled reported for each target chunk this batch wrote. */
    const checksums: Record<string, string> = {};
    // Tasks still running when a job fails are not cancelled. Each one learns that the job ended
    // from this process's own catch handler at once, or from the batch's next progress report
    // (the report is conditional on the job running), and stops; the batch's last report then
    // finds the job ended and the batch removes all it wrote, since the job's clean-up may
    // already have passed by.
    const stillRunning = (): void => {
      if (progress.running && !this.ended.has(jobId)) return;
      throw new Error(`copy job ${jobId} has ended; stopping batch ${batch} of round ${round}`);
    };
    let settled: Array<PromiseSettledResult<void>>;
    try {
      // Settle every task before returning: a task left running would copy after the check below.
      settled = await Promise.allSettled(
        tasks.map(async (task) => {
          await failpoint(FAILPOINTS.copyTask, { jobId, taskId: task.id, round, batch });
          for (const chunk of task.chunks) {
            const to = chunkLocation(job, task.to, task.partition, chunk);
            // A swarm copy whose source target is gone reads the snapshot, which holds the same bytes.
            const fromSnapshot = (): ChunkLocation =>
              chunkLocation(job, { kind: 'snapshot', sled: swarmOrder(plan).snapshotSleds.get(task.partition)! }, task.partition, chunk);
            const gone = sourceGone(job, task, active);
            const from = gone ? fromSnapshot() : chunkLocation(job, task.from, task.partition, chunk);
            if (task.from.kind !== 'snapshot' && !gone && startsAtOnce(plan.mode)) await this.arrivals.waitFor(from, async () => stillRunning());
            if (plan.mode === 'swarm') await this.waitTurn(job, plan, task, active, stillRunning);
            await failpoint(FAILPOINTS.chunkCopying, { jobId, taskId: task.id, from, to, kind: task.to.kind, fromKind: task.from.kind });
            const copy = (source: ChunkLocation) =>
              transient(`copy chunk ${chunk} of partition ${task.partition}`, () => this.ctx.deps.chunks.copy(source, to, snapshot.chunkSizeBytes));
            const reported = await copy(from).catch((error: unknown) => {
              // The source target was deleted while this copy waited for it.
              if (error instanceof ChunkGoneError && plan.mode === 'swarm' && task.from.kind === 'target') return copy(fromSnapshot());
              throw error;
            });
            writtenHere.push(to);
            await failpoint(FAILPOINTS.chunkCopied, { jobId, taskId: task.id, to, kind: task.to.kind });
            if (task.to.kind === 'target') {
              // S3 answers a copy with the SHA-256 of what it stored (so does fauxqs with scripts/patch-emulators.mjs);
              // a store that does not (fauxqs unpatched) is asked once.
              const sha256 = reported ?? (await transient('verify a chunk', () => this.ctx.deps.chunks.sha256(to)));
              if (sha256 === undefined) throw new TransientCopyError(`chunk ${to.key} on sled ${to.sled} is missing right after its copy`);
              checksums[`${to.sled}/${to.key}`] = sha256;
            }
            this.arrivals.wrote(to);
            progress.chunk(task.id);
            stillRunning();
          }
          progress.task(task.round, task.to.kind === 'intermediary');
        }),
      );
    } finally {
      // What this batch did not write is no longer on its way: waiting children go back to asking the sled.
      for (const task of tasks) {
        for (const chunk of task.chunks) {
          const to = chunkLocation(job, task.to, task.partition, chunk);
          this.arrivals.settle(to);
        }
      }
    }
    const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    // Recorded before the last report, so that a job failing meanwhile finds the record and removes it.
    const recorded = !failed && Object.keys(checksums).length > 0;
    if (recorded) {
      await transient('record verified chunks', () => this.ctx.deps.verified.put(jobId, round, batch, checksums));
      await failpoint(FAILPOINTS.batchRecorded, { jobId, round, batch });
    }
    // The last report counts what is left and says whether the job still runs.
    if (!(await progress.report()) || this.ended.has(jobId)) {
      await mapLimit(writtenHere, 16, (at) => this.ctx.deps.chunks.remove(at));
      if (recorded) await this.ctx.deps.verified.remove(jobId, [{ round, batch }]);
      throw new Error(`copy job ${jobId} has ended; batch ${batch} of round ${round} removed the ${writtenHere.length} chunks it wrote`);
    }
    if (failed) throw failed.reason;
    const bytes = writtenHere.length * snapshot.chunkSizeBytes;
    this.ctx.deps.telemetry?.copyProgress({ jobId, round, batch, bytes, millis: performance.now() - started });
    return { tasks: tasks.length, chunks: writtenHere.length };
  }
}
