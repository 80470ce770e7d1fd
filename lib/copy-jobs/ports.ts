import type { CopyJob, CopyJobProgress, CopyJobState } from './copy-job.js';
import type { CopyPlan } from './copy-plan.js';

/** Copy jobs (DynamoDB). */
export interface CopyJobRepository {
  create(job: CopyJob): Promise<void>;
  get(jobId: string): Promise<CopyJob | undefined>;
  /**
   * The ids of the jobs whose state is `running` (a table scan: only the embedded cloud calls
   * it, once at start, to resume the jobs whose executions died with the previous process).
   */
  running(): Promise<string[]>;
  /** Claims a clientToken for a job; returns the job id that holds it (ours or an earlier one). */
  claimToken(snapshotId: string, clientToken: string, jobId: string): Promise<string>;
  /**
   * Adds to the progress counters and to the finished tasks per round, in one conditional
   * write that succeeds only while the job is `running`; returns false (adding nothing) once
   * the job has ended or does not exist.
   */
  reportProgress(jobId: string, delta: ProgressDelta): Promise<boolean>;
  /** Sets fields; `state` only moves from `running`. */
  update(
    jobId: string,
    fields: Partial<Pick<CopyJob, 'plan' | 'roundTaskCounts' | 'taskChunksDone' | 'error' | 'startedCopyingAt' | 'finishedAt' | 'progress'>> & {
      state?: CopyJobState;
    },
  ): Promise<void>;
  setExecution(jobId: string, executionArn: string): Promise<void>;
  /**
   * Moves the job from `from` back to `running` for a retry (clearing its error and end), with
   * these counters; returns the attempt number (1 for the first retry), or undefined if the job
   * was no longer in `from`.
   */
  restart(jobId: string, from: CopyJobState, progress: CopyJobProgress): Promise<number | undefined>;
  /** Replaces the progress counters, whatever the job's state. */
  setProgress(jobId: string, progress: CopyJobProgress): Promise<void>;
}

/** What a copy batch adds to its job's progress in one report. */
export interface ProgressDelta {
  readonly chunksCopied: number;
  readonly bytesCopied: number;
  readonly intermediariesCreated: number;
  /** Finished tasks by (1-based) round, so the job can tell which rounds are done. */
  readonly roundTasks: Readonly<Record<number, number>>;
  /** Chunks copied per task id, for jobs that track them (`taskChunksDone` exists). */
  readonly taskChunks?: Readonly<Record<string, number>>;
}

/** Where plans are kept between the Plan state and the copy tasks (S3). */
export interface PlanStore {
  put(jobId: string, plan: CopyPlan): Promise<void>;
  get(jobId: string): Promise<CopyPlan>;
}

/**
 * The SHA-256 of each target chunk a copy batch wrote, as the store reported it right after
 * the copy: one record per batch, written before the batch reports success. Finalize checks
 * them against the snapshot instead of asking the sleds about every chunk again.
 */
export interface VerifiedChunkRecords {
  /** Records a batch's target chunks: `${sled}/${key}` → SHA-256 (hex). */
  put(jobId: string, round: number, batch: number, checksums: Readonly<Record<string, string>>): Promise<void>;
  /** A batch's record, or undefined if it has none. */
  get(jobId: string, round: number, batch: number): Promise<Record<string, string> | undefined>;
  /** Removes these batches' records (those already gone are no error). */
  remove(jobId: string, batches: ReadonlyArray<{ readonly round: number; readonly batch: number }>): Promise<void>;
}

/** One state transition of an execution, as the Step Functions console lists it. */
export interface WorkflowEvent {
  readonly timestamp: string;
  readonly type: string;
  readonly state?: string;
  readonly index?: number;
  readonly error?: string;
  readonly cause?: string;
  /** The child execution (a batch of a Distributed Map, on AWS) the event happened in; absent for the job's own. */
  readonly execution?: string;
}

/** A job's events in order, its Distributed Map children's merged in, and what was left out. */
export interface WorkflowTimeline {
  readonly events: WorkflowEvent[];
  /** Present when some child executions' events were left out to keep the answer bounded. */
  readonly truncated?: { readonly childExecutions: number; readonly included: number; readonly note: string };
}

/** Runs the copy-job workflow: Step Functions on AWS, the in-process runner locally. */
export interface WorkflowRunner {
  /** Starts an execution named `name`; starting the same name again returns the same execution. */
  start(name: string, input: Record<string, unknown>): Promise<{ executionArn: string }>;
  history(executionArn: string): Promise<WorkflowEvent[]>;
  /** The execution's events with those of its child executions merged in (a Distributed Map on AWS); history() where absent. */
  timeline?(executionArn: string): Promise<WorkflowTimeline>;
}
