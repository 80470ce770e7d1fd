/**
 * The copy-job state machine's state names: readable sentences, shared by the CDK construct
 * that defines the machine and the embedded cloud's runner, which maps Task states to local
 * handlers by name.
 */
export const COPY_JOB_STATES = {
  job: 'Run the copy job',
  plan: 'Plan the copy job',
  rounds: 'Run the copy rounds',
  batches: 'Copy the partition batches',
  copyBatch: 'Copy a partition batch',
  finalize: 'Verify the targets and mark them available',
  cleanUp: 'Remove the intermediaries',
  succeeded: 'Copy job succeeded',
  markFailed: 'Mark the job failed and clean up',
  failed: 'Copy job failed',
} as const;

/** The Lambda functions behind the Task states, by role. */
export const COPY_JOB_TASKS = {
  plan: { state: COPY_JOB_STATES.plan, handler: 'plan-copy-job' },
  copyBatch: { state: COPY_JOB_STATES.copyBatch, handler: 'copy-partition-batch' },
  finalize: { state: COPY_JOB_STATES.finalize, handler: 'finalize-copy-job' },
  cleanUp: { state: COPY_JOB_STATES.cleanUp, handler: 'clean-up-copy-job' },
  markFailed: { state: COPY_JOB_STATES.markFailed, handler: 'fail-copy-job' },
} as const;

export type CopyJobTask = keyof typeof COPY_JOB_TASKS;

/** Errors a copy task throws on purpose; the state machine retries the first, not the second. */
export const COPY_ERRORS = {
  transient: 'Sleds.Transient',
  checksumMismatch: 'Sleds.ChecksumMismatch',
} as const;

/** How many batches of partition copies run at once. */
export const COPY_BATCH_CONCURRENCY = 16;
