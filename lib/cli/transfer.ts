/**
 * The parts of `sleds volume write|read` that do not touch files or the network: splitting a
 * range into requests, retrying what is safe to retry, running requests a few at a time,
 * and the summary line. Pure or clock-injected, so unit tests drive them directly.
 */
import { SledsError } from '../errors.js';
import { MIB, formatSize } from '../units/sizes.js';
import { ApiError, ApiUnreachableError } from './api-errors.js';
import { formatCount } from './format.js';
import { formatElapsed, formatRate } from './progress.js';

/** Offsets and lengths of data I/O are multiples of this (the API's block size). */
export const BLOCK_SIZE = 4096;
/** The API takes at most this much in one data request. */
export const MAX_REQUEST_BYTES = 4 * MIB;
export const DEFAULT_REQUEST_BYTES = MAX_REQUEST_BYTES;
export const DEFAULT_CONCURRENCY = 8;
export const MAX_CONCURRENCY = 64;
/** Attempts per request, the first one included. */
export const MAX_TRIES = 5;

/** One data request: a range of the volume and where it sits in the file (or buffer). */
export interface TransferPiece {
  readonly index: number;
  /** Volume offset. */
  readonly offset: number;
  readonly length: number;
  /** Offset from the start of the transfer: the position in the file. */
  readonly position: number;
}

/**
 * Splits [offset, offset + length) into requests of at most `requestSize` bytes. Pieces end
 * on multiples of `requestSize` in the volume, not of the file: with a power-of-two size
 * they then never straddle a chunk or partition boundary that a 4 KiB shift would cross.
 */
export function splitRequests(offset: number, length: number, requestSize: number): TransferPiece[] {
  if (!Number.isSafeInteger(requestSize) || requestSize <= 0) {
    throw new RangeError(`request size must be a positive whole number, got ${requestSize}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`offset and length must be non-negative whole numbers, got ${offset} and ${length}`);
  }
  const pieces: TransferPiece[] = [];
  const end = offset + length;
  let cursor = offset;
  while (cursor < end) {
    const boundary = (Math.floor(cursor / requestSize) + 1) * requestSize;
    const pieceEnd = Math.min(end, boundary);
    pieces.push({ index: pieces.length, offset: cursor, length: pieceEnd - cursor, position: cursor - offset });
    cursor = pieceEnd;
  }
  return pieces;
}

/**
 * True for failures that a retry may cure: nothing answered, the service said 503 (Fenced,
 * BackendUnavailable), or an earlier attempt with the same Idempotency-Key is still running.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ApiUnreachableError) return true;
  if (error instanceof ApiError) return error.status === 503 || error.code === 'IdempotencyInProgress';
  return false;
}

export interface RetryOptions {
  /** Attempts, the first one included (default MAX_TRIES). */
  readonly tries?: number;
  /** The first backoff; each retry doubles it, up to maxDelayMs. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Injected by tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Checked before each retry: once true, the last error is thrown at once. */
  readonly stopped?: () => boolean;
  /** Told about each retry, e.g. to count them. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds, fails with an error that is not retryable, or has been
 * tried `tries` times. Backoff is exponential with full jitter, so parallel requests that
 * failed together do not retry together.
 */
export async function withRetries<T>(attempt: (tryNumber: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const tries = options.tries ?? MAX_TRIES;
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 5_000;
  const sleep = options.sleep ?? sleepMs;
  const random = options.random ?? Math.random;
  for (let tryNumber = 1; ; tryNumber++) {
    try {
      return await attempt(tryNumber);
    } catch (error) {
      if (tryNumber >= tries || !isRetryable(error) || options.stopped?.()) throw error;
      const delay = Math.round(random() * Math.min(max, base * 2 ** (tryNumber - 1)));
      options.onRetry?.(error, tryNumber, delay);
      await sleep(delay);
    }
  }
}

/**
 * Runs `task(0) .. task(count - 1)` with at most `concurrency` running at once. After the
 * first failure no new task starts; the running ones finish, then that failure is thrown.
 */
export async function runPool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
  onFailure?: (error: unknown) => void,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < count) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        if (failure === undefined) {
          failure = { error };
          onFailure?.(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  if (failure !== undefined) throw failure.error;
}

export interface TransferSummary {
  readonly verb: 'wrote' | 'read';
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly requests: number;
  /** Partitions that took ops (writes only). */
  readonly partitions?: number;
  readonly retries?: number;
}

/** "wrote 256 MiB in 3.2 s (80 MiB/s), 64 requests, ops on 16 partitions". */
export function formatTransferSummary(summary: TransferSummary): string {
  const seconds = summary.elapsedMs / 1000;
  const rate = seconds > 0 ? summary.bytes / seconds : Number.NaN;
  const parts = [
    `${summary.verb} ${formatSize(summary.bytes)} in ${formatElapsed(summary.elapsedMs)} (${formatRate(rate)})`,
    formatCount(summary.requests, 'request'),
  ];
  if (summary.partitions !== undefined) parts.push(`ops on ${formatCount(summary.partitions, 'partition')}`);
  if (summary.retries) parts.push(formatCount(summary.retries, 'retry', 'retries'));
  return parts.join(', ');
}

/** A failure to tell apart from API errors: the local file could not be read or written. */
export class LocalFileError extends SledsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LocalFileError', 500, message, options);
  }
}
