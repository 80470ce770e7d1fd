import { createHash, randomBytes } from 'node:crypto';
import type { LogEntry } from './ports.js';

/**
 * Note ids. A write with an Idempotency-Key names its note after the key and the attempt, so
 * that a retry after a crash can look up the op its key was committed under; any other note
 * gets a random id, which nothing ever looks up. Either way, no note id is ever put twice: a
 * sweep may then take a note nothing names for an orphan, once it is old enough.
 */

/** A note key's length: `k` and 24 hex digits of a SHA-256. */
const NOTE_KEY_LENGTH = 25;

/** How a write made with `idempotencyKey` is known in one partition's notes: the start of each attempt's note id. */
export function noteKeyOf(volumeId: string, idempotencyKey: string, partition: number): string {
  return `k${createHash('sha256').update(`${volumeId}/${idempotencyKey}/${partition}`).digest('hex')}`.slice(0, NOTE_KEY_LENGTH);
}

/** A fresh note id for one attempt at the write known as `noteKey`. */
export function keyedNoteId(noteKey: string): string {
  return `${noteKey}-${randomBytes(6).toString('hex')}`;
}

/** A fresh note id for a write without an Idempotency-Key. */
export function randomNoteId(): string {
  return `n${randomBytes(12).toString('hex')}`;
}

/** The note key a keyed note id starts with (ids made before attempts were named are the key alone); undefined for a random one. */
export function noteKeyOfId(noteId: string): string | undefined {
  return noteId.startsWith('k') ? noteId.slice(0, NOTE_KEY_LENGTH) : undefined;
}

/** The notes these log entries commit (epoch entries commit none). */
export function noteIdsOf(entries: readonly LogEntry[]): string[] {
  return entries.flatMap((entry) => (entry.kind === 'write' ? [entry.noteId] : []));
}
