import { SledsError } from '../errors.js';
import { TransientCopyError } from './errors.js';

/**
 * Runs one backend call of a workflow step and turns a retryable failure into a
 * TransientCopyError, the error the state machine retries the step on; anything else fails
 * the step (and so the job) at once.
 */
export function transient<T>(what: string, call: () => Promise<T>): Promise<T> {
  return call().catch((error: unknown) => {
    // The adapters turn throttling, timeouts and dropped connections into BackendUnavailableError.
    if (error instanceof SledsError && error.retryable && !(error instanceof TransientCopyError)) {
      throw new TransientCopyError(`${what}: ${error.message}`, { cause: error });
    }
    throw error;
  });
}
