import type { CopyJob, CopyJobProgress, CopyJobState } from './copy-job.js';
import type { CopyPlan } from './planner.js';

/** Copy jobs (DynamoDB). */
export interface CopyJobRepository {
  create(job: CopyJob): Promise<void>;
  get(jobId: string): Promise<CopyJob | undefined>;
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
    fields: Partial<Pick<CopyJob, 'plan' | 'roundTaskCounts' | 'error' | 'startedCopyingAt' | 'finishedAt' | 'progress'>> & {
      state?: CopyJobState;
    },
  ): Promise<void>;
  setExecution(jobId: string, executionArn: string): Promise<void>;
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
}

/** Where plans are kept between the Plan state and the copy tasks (S3). */
export interface PlanStore {
  put(jobId: string, plan: CopyPlan): Promise<void>;
  get(jobId: string): Promise<CopyPlan>;
}

/** One state transition of an execution, as the Step Functions console lists it. */
export interface WorkflowEvent {
  readonly timestamp: string;
  readonly type: string;
  readonly state?: string;
  readonly index?: number;
  readonly error?: string;
  readonly cause?: string;
}

/** Runs the copy-job workflow: Step Functions on AWS, the in-process runner locally. */
export interface WorkflowRunner {
  /** Starts an execution named `name`; starting the same name again returns the same execution. */
  start(name: string, input: Record<string, unknown>): Promise<{ executionArn: string }>;
  history(executionArn: string): Promise<WorkflowEvent[]>;
}
