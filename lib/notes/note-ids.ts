import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../shared/hashing.js';
import { hasPayload } from './note-extents.js';
import type { LogEntry } from './ports.js';

/**
 * Note ids. A write with an Idempotency-Key names its note after the key and the attempt, so
 * that a retry after a crash can look up the op its key was committed under; any other note
 * gets a random id, which nothing ever looks up. Either way, no note id is ever put twice: a
 * sweep may then take a note nothing names for an orphan, once it is old enough.
 */

/**
 * How a note's id says that the note is kept in the partitions table (DynamoDB), beside its
 * log, rather than on the replica's journal sled (S3): fixed when the note is made, so reading,
 * copying and removing it never depend on today's configuration.
 */
const TABLE_NOTE_SUFFIX = '.t';

/** A note key's length: `k` and 24 hex digits of a SHA-256. */
const NOTE_KEY_LENGTH = 25;

/** How a write made with `idempotencyKey` is known in one partition's notes: the start of each attempt's note id. */
export function noteKeyOf(volumeId: string, idempotencyKey: string, partition: number): string {
  return `k${sha256Hex(`${volumeId}/${idempotencyKey}/${partition}`)}`.slice(0, NOTE_KEY_LENGTH);
}

/** Where a new note is kept. */
export type NotePlace = 'table' | 'sled';

const placed = (id: string, place: NotePlace) => (place === 'table' ? `${id}${TABLE_NOTE_SUFFIX}` : id);

/** A fresh note id for one attempt at the write known as `noteKey`. */
export function keyedNoteId(noteKey: string, place: NotePlace = 'sled'): string {
  return placed(`${noteKey}-${randomBytes(6).toString('hex')}`, place);
}

/** A fresh note id for a write without an Idempotency-Key. */
export function randomNoteId(place: NotePlace = 'sled'): string {
  return placed(`n${randomBytes(12).toString('hex')}`, place);
}

/** Whether the note is kept in the partitions table (see TABLE_NOTE_SUFFIX). */
export function isTableNote(noteId: string): boolean {
  return noteId.endsWith(TABLE_NOTE_SUFFIX);
}

/** The note key a keyed note id starts with (ids made before attempts were named are the key alone); undefined for a random one. */
export function noteKeyOfId(noteId: string): string | undefined {
  return noteId.startsWith('k') ? noteId.slice(0, NOTE_KEY_LENGTH) : undefined;
}

/** The notes these log entries commit that have a payload in a journal (epoch entries and zero notes have none). */
export function noteIdsOf(entries: readonly LogEntry[]): string[] {
  return entries.flatMap((entry) => (hasPayload(entry) ? [entry.noteId] : []));
}
