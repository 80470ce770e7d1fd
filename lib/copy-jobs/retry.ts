import { copyJobStatus, type CopyJobProgress, type CopyJobStatus } from './copy-job.js';
import { CopyJobNotFoundError } from './errors.js';
import type { CopyJobRepository, WorkflowEvent, WorkflowRunner } from './ports.js';

/** What `POST /copy-jobs/{id}/retry` answers. */
export interface JobRestart {
  /** False when the job succeeded or still runs: nothing was started. */
  readonly restarted: boolean;
  readonly job: CopyJobStatus;
}

const ENDED = /^Execution(Succeeded|Failed|Aborted|Timeout|TimedOut)$/;

/**
 * Whether an execution has ended. An execution the runner does not know (the embedded cloud
 * restarted: its executions lived in the process that died) has ended too.
 */
export function executionEnded(events: readonly WorkflowEvent[]): boolean {
  return events.length === 0 || events.some((event) => ENDED.test(event.type));
}

/** The counters a retried run starts from: rounds and chunks count again; what the job removed stays counted. */
function restartedProgress(progress: CopyJobProgress): CopyJobProgress {
  return { ...progress, roundsDone: 0, chunksCopied: 0, bytesCopied: 0, targetsVerified: 0 };
}

/**
 * Restarts a copy job that failed, or whose execution ended without ending the job (the process
 * that ran it died): the job goes back to `running` and a new execution, named after the job and
 * the attempt, runs the whole workflow again. Its Plan state is deterministic (the same plan),
 * its copy batches copy only for the targets still hydrating, and its clean-up (or catch)
 * removes every intermediary by the plan's keys and the job's prefix.
 */
export async function copyJobRestarts(jobs: CopyJobRepository, runner: WorkflowRunner, jobId: string, now: Date): Promise<JobRestart> {
  const job = await jobs.get(jobId);
  if (!job) throw new CopyJobNotFoundError(jobId);
  if (job.state === 'succeeded') return { restarted: false, job: copyJobStatus(job, now) };
  if (job.state === 'running' && job.executionArn && !executionEnded(await runner.history(job.executionArn))) {
    return { restarted: false, job: copyJobStatus(job, now) };
  }
  const attempt = await jobs.restart(jobId, job.state, restartedProgress(job.progress));
  if (attempt === undefined) {
    // Someone else restarted (or ended) it first: answer as it stands.
    const latest = await jobs.get(jobId);
    return { restarted: false, job: copyJobStatus(latest ?? job, now) };
  }
  const { executionArn } = await runner.start(`${jobId}-retry-${attempt}`, { jobId });
  await jobs.setExecution(jobId, executionArn);
  const latest = (await jobs.get(jobId)) ?? job;
  return { restarted: true, job: copyJobStatus(latest, now) };
}
