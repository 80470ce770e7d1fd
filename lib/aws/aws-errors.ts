import { BackendUnavailableError, SledsError } from '../errors.js';

/** True when the SDK error is a lost conditional write. */
export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** True when S3 answers that the object does not exist (GetObject's NoSuchKey, HeadObject's NotFound). */
export function isNoSuchKey(error: unknown): boolean {
  return error instanceof Error && (error.name === 'NoSuchKey' || error.name === 'NotFound');
}

const UNAVAILABLE = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'InternalServerError',
  'InternalFailure',
  'TimeoutError',
  'ECONNREFUSED',
  'ECONNRESET',
]);

/**
 * Turns a throttling or connection error that outlived the SDK's own retries into a 503 the
 * caller may retry; domain errors and anything unrecognised pass through unchanged.
 */
export function translateAwsError(service: string, error: unknown): unknown {
  if (error instanceof SledsError) return error;
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    if (UNAVAILABLE.has(error.name) || (code !== undefined && UNAVAILABLE.has(code))) {
      return new BackendUnavailableError(service, { cause: error });
    }
  }
  return error;
}

/** Runs an SDK call, turning what outlived the SDK's retries into domain errors. */
export async function callAws<T>(service: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translateAwsError(service, error);
  }
}
