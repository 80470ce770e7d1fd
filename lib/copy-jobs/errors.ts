import { SledsError } from '../errors.js';
import { COPY_ERRORS } from './states.js';

/**
 * A copy task failed in a way worth retrying (throttling, a parent chunk not there yet).
 * Its `name` stays COPY_ERRORS.transient: Step Functions matches Retry and Catch on it.
 */
export class TransientCopyError extends SledsError {
  override readonly retryable: boolean = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super('TransientCopy', 500, message, options);
    // Step Functions matches Retry and Catch on the error's name.
    this.name = COPY_ERRORS.transient;
  }
}

/** A target chunk does not match the snapshot's SHA-256: never retried, the job fails. */
export class ChecksumMismatchError extends SledsError {
  constructor(message: string) {
    super('ChecksumMismatch', 500, message);
    this.name = COPY_ERRORS.checksumMismatch;
  }
}

/** The snapshot exists but is still being materialized (409). */
export class SnapshotNotReadyError extends SledsError {
  constructor(snapshotId: string, state: string) {
    super('SnapshotNotReady', 409, `Snapshot ${snapshotId} is ${state}; it can be copied once it is completed.`);
  }
}

/** No copy job has this id (404). */
export class CopyJobNotFoundError extends SledsError {
  constructor(jobId: string) {
    super('CopyJobNotFound', 404, `Copy job ${jobId} does not exist.`);
  }
}
