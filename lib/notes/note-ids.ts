import { createHash, randomBytes } from 'node:crypto';
import type { LogEntry } from './ports.js';

/**
 * Note ids. A write with an Idempotency-Key names its note after the key, so that a retry
 * after a crash can look up the op its note was committed under; any other note gets a
 * random id, which nothing ever looks up.
 */

/** The note id of one partition's slice of a write made with `idempotencyKey`. */
export function keyedNoteId(volumeId: string, idempotencyKey: string, partition: number): string {
  return `k${createHash('sha256').update(`${volumeId}/${idempotencyKey}/${partition}`).digest('hex').slice(0, 24)}`;
}

/** A fresh note id for a write without an Idempotency-Key. */
export function randomNoteId(): string {
  return `n${randomBytes(12).toString('hex')}`;
}

/** True for the notes a retry may look up (those named after an Idempotency-Key). */
export function isKeyedNote(noteId: string): boolean {
  return noteId.startsWith('k');
}

/** The notes these log entries commit (epoch entries commit none). */
export function noteIdsOf(entries: readonly LogEntry[]): string[] {
  return entries.flatMap((entry) => (entry.kind === 'write' ? [entry.noteId] : []));
}
