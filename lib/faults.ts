/**
 * Failpoints: named places where a test can make the service fail on purpose (a copy task
 * that throws, a process that dies mid-protocol), the way etcd's gofail or FoundationDB's
 * buggify do. Nothing is armed outside tests, and an unarmed failpoint costs a map lookup.
 */
export type FailpointAction = (context: Readonly<Record<string, unknown>>) => void | Promise<void>;

const armed = new Map<string, FailpointAction>();

/** Arms `name`; returns the function that disarms it. */
export function armFailpoint(name: FailpointName, action: FailpointAction): () => void {
  armed.set(name, action);
  return () => {
    if (armed.get(name) === action) armed.delete(name);
  };
}

/**
 * Runs the action armed at `name`, if any. Unarmed, it returns at once without a promise, so
 * `await failpoint(...)` on a hot path costs what `await undefined` does.
 */
export function failpoint(name: FailpointName, context: Readonly<Record<string, unknown>> = {}): void | Promise<void> {
  return armed.get(name)?.(context);
}

/**
 * The failpoints the service has, and what each passes as its context. The write, flush and
 * rebuild failpoints pass a `step` (where in the protocol it is) with the volume and partition,
 * so a test can arm one step of one partition.
 */
export const FAILPOINTS = {
  /**
   * A head's write protocol (lib/notes/head/replica-commit.ts); steps: 'after-payload' (both replicas' journals hold the note,
   * pending: a table note put in one request, a sled note with two puts at once), 'after-pending-note' (the same state,
   * just before the primary's commit), 'after-primary-commit', 'after-secondary-commit'.
   */
  write: 'write',
  /** A flush (lib/flush/flush-service.ts sequences the steps); steps: 'chunks-written', 'primary-map-updated', 'secondary-map-updated', 'checkpointed'. */
  flush: 'flush',
  /** A rebuild (lib/checkpoints/rebuild-service.ts); steps: 'fenced', 'promoted', 'base-restored', 'notes-copied', 'ops-copied', 'dropped'. */
  rebuild: 'rebuild',
  /** A snapshot's materialization of one partition (lib/snapshots/snapshot-service.ts; no step). */
  materialize: 'materialize',
  /** Between the two halves of a copy job's new head-node items (lib/aws/dynamodb-partition-meta-store.ts; context: partitions). */
  newPartitionsHalfWritten: 'new-partitions-half-written',
  /** A copy task starts (lib/copy-jobs/batch-copier.ts; context: jobId, taskId, round, batch). */
  copyTask: 'copy-task',
  /** A chunk is about to be copied (context: jobId, taskId, from, to, kind, fromKind). */
  chunkCopying: 'chunk-copying',
  /** A chunk was copied (context: jobId, taskId, to, kind). */
  chunkCopied: 'chunk-copied',
  /** A batch recorded its verified chunks (context: jobId, round, batch). */
  batchRecorded: 'batch-recorded',
  /** Finalize starts (context: jobId). */
  finalize: 'finalize',
  /** Finalize is about to swap a target's maps, its metadata read ahead (lib/copy-jobs/hydration.ts; context: volumeId). */
  targetSwapping: 'target-swapping',
  /** A target is about to be marked available (context: jobId, volumeId). */
  targetAvailable: 'target-available',
} as const;

export type FailpointName = (typeof FAILPOINTS)[keyof typeof FAILPOINTS];
