import { describe, expect, it } from 'vitest';
import { isTableNote, keyedNoteId, noteKeyOf, noteKeyOfId, randomNoteId } from '../../lib/notes/note-ids.js';

describe('note ids', () => {
  it('gives each attempt at a keyed write a note id of its own that leads back to the key', () => {
    const key = noteKeyOf('vol-0123456789abcdef0', 'retry-1', 3);
    expect(key).toMatch(/^k[0-9a-f]{24}$/);
    expect(noteKeyOf('vol-0123456789abcdef0', 'retry-1', 3)).toBe(key);
    expect(noteKeyOf('vol-0123456789abcdef0', 'retry-1', 4)).not.toBe(key);
    const [first, second] = [keyedNoteId(key), keyedNoteId(key)];
    expect(first).not.toBe(second);
    expect([noteKeyOfId(first), noteKeyOfId(second)]).toEqual([key, key]);
  });

  it('reads the key of a note named before attempts were, and none from a random id', () => {
    const key = noteKeyOf('vol-0123456789abcdef0', 'old', 0);
    expect(noteKeyOfId(key)).toBe(key);
    expect(noteKeyOfId(randomNoteId())).toBeUndefined();
  });

  it('says in the id whether a note is kept in the table, for random and keyed notes alike', () => {
    const key = noteKeyOf('vol-0123456789abcdef0', 'placed', 1);
    expect(isTableNote(randomNoteId('table'))).toBe(true);
    expect(isTableNote(randomNoteId('sled'))).toBe(false);
    expect(isTableNote(randomNoteId())).toBe(false);
    const keyed = keyedNoteId(key, 'table');
    expect(isTableNote(keyed)).toBe(true);
    expect(isTableNote(keyedNoteId(key, 'sled'))).toBe(false);
    // The key is still found at the start of a table note's id.
    expect(noteKeyOfId(keyed)).toBe(key);
  });
});
