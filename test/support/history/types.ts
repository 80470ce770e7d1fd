/**
 * The history format of the linearizability checker: what concurrent clients did to a block
 * device, operation by operation, with the times each was invoked and (if known) completed.
 */

/** The unit of the model: each 4 KiB block of the device is one register. */
export const BLOCK_SIZE = 4096;

/** The identity a writer stamps at the start of a block: who wrote it, in which op, where. */
export interface BlockTag {
  readonly client: number;
  readonly seq: number;
  /** The absolute block index on the device (offset / 4096), so a tag is unique per block. */
  readonly block: number;
}

/**
 * The content of one block: a tagged write, zeros (never written, or a zero write), or bytes
 * that are neither (torn, corrupt, or not written by a tagging client).
 */
export type BlockValue = { readonly tag: BlockTag } | 'zero' | 'unknown';

/** write: tagged data; zero: write-zeroes, discard or trim; read: what the device returned. */
export type OpKind = 'write' | 'zero' | 'read';

/** One client operation on a byte range aligned to {@link BLOCK_SIZE}. */
export interface Operation {
  /** Unique within the history; reports name ops by it. */
  readonly id: number;
  readonly client: number;
  readonly kind: OpKind;
  readonly offset: number;
  readonly length: number;
  /** Monotonic time of the invocation (any unit, as long as one clock serves the whole history). */
  readonly invokedAt: number;
  /**
   * Monotonic time of the acknowledgement. Absent: the outcome is unknown (the client crashed,
   * the connection dropped, the server was killed); the op may take effect at any time after
   * its invocation, or never.
   */
  readonly completedAt?: number;
  /**
   * write: the value of each block written (zero writes need none). read: the value of each
   * block read (absent for a pending read, which constrains nothing).
   */
  readonly values?: readonly BlockValue[];
}

/** A whole recorded history. Ops that definitely failed (4xx, EINVAL) are left out of it. */
export interface History {
  readonly ops: readonly Operation[];
}

/** Thrown for a history the checker cannot interpret (misaligned range, wrong number of values). */
export class MalformedHistoryError extends Error {
  override readonly name = 'MalformedHistoryError';
}

/** The block indexes an op covers. */
export function blocksOf(op: Pick<Operation, 'offset' | 'length'>): { first: number; count: number } {
  return { first: op.offset / BLOCK_SIZE, count: op.length / BLOCK_SIZE };
}

/** Throws {@link MalformedHistoryError} unless the op is well-formed. */
export function validateOperation(op: Operation): void {
  const where = `op ${op.id} (client ${op.client}, ${op.kind})`;
  if (op.offset % BLOCK_SIZE !== 0 || op.length % BLOCK_SIZE !== 0 || op.offset < 0 || op.length <= 0) {
    throw new MalformedHistoryError(`${where}: range ${op.offset}+${op.length} is not a non-empty range aligned to ${BLOCK_SIZE}`);
  }
  if (op.completedAt !== undefined && op.completedAt < op.invokedAt) {
    throw new MalformedHistoryError(`${where}: completed at ${op.completedAt}, before its invocation at ${op.invokedAt}`);
  }
  const count = op.length / BLOCK_SIZE;
  const needsValues = op.kind === 'write' || (op.kind === 'read' && op.completedAt !== undefined);
  if (needsValues && op.values?.length !== count) {
    throw new MalformedHistoryError(`${where}: has ${op.values?.length ?? 'no'} block values for ${count} blocks`);
  }
}
