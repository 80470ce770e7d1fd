/**
 * Typed errors. Every error the service raises on purpose is a SledsError with a stable
 * `code` and the HTTP status a handler answers with; anything else is a 500. Every error class
 * in lib/ extends it (domain-specific ones live in their concept's folder); the generic ones
 * are here.
 */
export class SledsError extends Error {
  readonly code: string;
  readonly status: number;
  /**
   * True when the same request may succeed if it is simply tried again (a lost race, a
   * throttled backend): callers classify errors by this, never by their messages.
   */
  readonly retryable: boolean = false;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** The request is malformed or a value is out of range (400). */
export class ValidationError extends SledsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ValidationError', 400, message, options);
  }
}

/** The body is not JSON, or not the JSON object the route expects (400). */
export class MalformedJsonError extends SledsError {
  constructor(message = 'The request body is not valid JSON.') {
    super('MalformedJson', 400, message);
  }
}

/** The body is larger than the route accepts (413). */
export class PayloadTooLargeError extends SledsError {
  constructor(limitBytes: number) {
    super('PayloadTooLarge', 413, `The request body exceeds the limit of ${limitBytes} bytes.`);
  }
}

/** The body's content type is not what the route takes (415). */
export class UnsupportedMediaTypeError extends SledsError {
  constructor(got: string, expected: string) {
    super('UnsupportedMediaType', 415, `The body must be sent as ${expected}, not ${got}.`);
  }
}

/** No route has this path (404). */
export class RouteNotFoundError extends SledsError {
  constructor(method: string, path: string) {
    super('RouteNotFound', 404, `No route for ${method} ${path}.`);
  }
}

/** The path exists but not with this method (405). */
export class MethodNotAllowedError extends SledsError {
  readonly allowed: readonly string[];

  constructor(method: string, path: string, allowed: readonly string[]) {
    super('MethodNotAllowed', 405, `${method} is not allowed on ${path}; use ${allowed.join(', ')}.`);
    this.allowed = allowed;
  }
}

/** The volume id is well formed but no such volume exists (404). */
export class VolumeNotFoundError extends SledsError {
  constructor(volumeId: string) {
    super('VolumeNotFound', 404, `Volume ${volumeId} does not exist.`);
  }
}

/** The volume exists but its state forbids the operation (409). */
export class VolumeStateError extends SledsError {
  constructor(volumeId: string, state: string, operation: string) {
    super('VolumeStateConflict', 409, `Volume ${volumeId} is ${state}; cannot ${operation}.`);
  }
}

/**
 * A conditional write lost a race, or a step took too long to stay safe, and nothing was
 * done: the caller may retry (409). This is the one retryable-conflict error.
 */
export class ConcurrentModificationError extends SledsError {
  override readonly retryable: boolean = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super('ConcurrentModification', 409, message, options);
  }
}

/** A backing service (S3, DynamoDB, SQS) failed or throttled (503). */
export class BackendUnavailableError extends SledsError {
  override readonly retryable: boolean = true;

  constructor(service: string, options?: { cause?: unknown }) {
    super('BackendUnavailable', 503, `The ${service} backend is unavailable; retry later.`, options);
  }
}

/** A required setting is missing or invalid; raised at startup. */
export class ConfigError extends SledsError {
  constructor(message: string) {
    super('ConfigError', 500, message);
  }
}

/** An offset or length is not a multiple of the block size, or a size is out of bounds (400). */
export class MisalignedIoError extends SledsError {
  constructor(message: string) {
    super('MisalignedIo', 400, message);
  }
}

/** The byte range does not lie inside the volume (400). */
export class RangeOutOfBoundsError extends SledsError {
  constructor(message: string) {
    super('RangeOutOfBounds', 400, message);
  }
}

/** The partition number does not exist in the volume (404). */
export class PartitionNotFoundError extends SledsError {
  constructor(volumeId: string, partition: number, partitionCount: number) {
    super('PartitionNotFound', 404, `Volume ${volumeId} has partitions 0 to ${partitionCount - 1}; there is no partition ${partition}.`);
  }
}

/**
 * A head-node replica's epoch was superseded (a failover happened), so it may commit nothing.
 * Nothing was acknowledged; the caller may retry, which goes to the new primary (503).
 * `committed` says whether the write can have taken effect: 'no' when the head was fenced
 * before its op was appended on the primary (a plain retry is then safe), 'unknown' once it
 * had been (the primary may hold it and survive the failover; only a retry that can find
 * that commit, under an Idempotency-Key, is safe).
 */
export class FencedError extends SledsError {
  override readonly retryable: boolean = true;

  constructor(
    message: string,
    readonly committed: 'no' | 'unknown' = 'unknown',
  ) {
    super('Fenced', 503, message);
  }
}

/** An Idempotency-Key was reused for a different request (422). */
export class IdempotencyKeyMismatchError extends SledsError {
  constructor(key: string) {
    super('IdempotencyKeyMismatch', 422, `Idempotency-Key "${key}" was already used for a different write.`);
  }
}

/** A request with this Idempotency-Key is still running (409). */
export class IdempotencyInProgressError extends SledsError {
  override readonly retryable: boolean = true;

  constructor(key: string) {
    super('IdempotencyInProgress', 409, `A write with Idempotency-Key "${key}" is still in progress; retry shortly.`);
  }
}

/**
 * A note a view named is no longer in the partitions table: a flush trimmed it since (the
 * table's counterpart of a sled's NoSuchKey). A reader starts again from fresh metadata; one
 * that still meets it answers 500.
 */
export class NoteGoneError extends SledsError {
  constructor(noteId: string, where = 'the partitions table', options?: { cause?: unknown }) {
    super('NoteGone', 500, `Note ${noteId} is not in ${where}.`, options);
  }
}

/**
 * A chunk version a view named is no longer on its sled: a flush collected it since (the
 * adapter's translation of S3's NoSuchKey). A reader starts again from fresh metadata (500).
 */
export class ChunkGoneError extends SledsError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('ChunkGone', 500, `Chunk object ${key} is not on its sled.`, options);
  }
}
