/**
 * Plan validation: the planner's input invariants (whole counts of at least 1, partitions and
 * chunks listed once, source sleds that exist), checked before any tree is built so that a bad
 * request fails with a ValidationError rather than a malformed plan.
 */
import { ValidationError } from '../errors.js';
import type { PlanInput } from './copy-plan.js';

/** Throws a ValidationError unless `value` is a whole number of at least 1. */
export function requireCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a whole number of at least 1; got ${String(value)}.`);
  }
}

/** Throws a ValidationError unless the input describes partitions, chunks and sleds the planner can plan for. */
export function validate(input: Omit<PlanInput, 'mode'>): void {
  requireCount('targets', input.targets);
  requireCount('sledCount', input.sledCount);
  requireCount('maxSourceFanout', input.maxSourceFanout);
  const { partitions, sledCount } = input;
  // An empty list is a snapshot with nothing to copy (callers may leave out partitions
  // without data), so it gives an empty plan rather than an error.
  if (!Array.isArray(partitions)) throw new ValidationError('partitions must be a list.');
  const seen = new Set<number>();
  for (const { partition, chunks, sourceSled } of partitions) {
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new ValidationError(`Partition numbers are whole numbers from 0; got ${String(partition)}.`);
    }
    if (seen.has(partition)) throw new ValidationError(`Partition ${partition} is listed more than once.`);
    seen.add(partition);
    if (!Number.isSafeInteger(sourceSled) || sourceSled < 0 || sourceSled >= sledCount) {
      throw new ValidationError(
        `Partition ${partition} has source sled ${String(sourceSled)}, but sleds are numbered 0 to ${sledCount - 1}.`,
      );
    }
    const seenChunks = new Set<number>();
    for (const chunk of chunks) {
      if (!Number.isSafeInteger(chunk) || chunk < 0) {
        throw new ValidationError(`Partition ${partition} lists chunk ${String(chunk)}; chunk indices are whole numbers from 0.`);
      }
      if (seenChunks.has(chunk)) throw new ValidationError(`Partition ${partition} lists chunk ${chunk} more than once.`);
      seenChunks.add(chunk);
    }
  }
}
