import { describe, expect, it } from 'vitest';
import { randomNoteId } from '../../lib/notes/note-ids.js';
import type { JournalStore, LogRef, NotePart } from '../../lib/notes/ports.js';
import { TieredJournalStore } from '../../lib/notes/tiered-journal.js';

/** A journal in memory that records which notes each call named. */
class MemoryJournal implements JournalStore {
  readonly notes = new Map<string, Buffer>();
  readonly calls: Array<{ call: string; noteIds: string[] }> = [];

  private record(call: string, noteIds: readonly string[]): void {
    this.calls.push({ call, noteIds: [...noteIds] });
  }

  put(_sled: number, _log: LogRef, noteId: string, payload: Buffer): Promise<void> {
    this.record('put', [noteId]);
    this.notes.set(noteId, payload);
    return Promise.resolve();
  }

  read(_sled: number, _log: LogRef, noteId: string, start: number, length: number): Promise<Buffer> {
    this.record('read', [noteId]);
    return Promise.resolve(this.notes.get(noteId)!.subarray(start, start + length));
  }

  readMany(_sled: number, _log: LogRef, parts: readonly NotePart[]): Promise<Buffer[]> {
    this.record('readMany', parts.map((part) => part.noteId));
    return Promise.resolve(parts.map((part) => this.notes.get(part.noteId)!.subarray(part.start, part.start + part.length)));
  }

  list(): Promise<string[]> {
    return Promise.resolve([...this.notes.keys()]);
  }

  listWithTimes(): Promise<Array<{ noteId: string; modifiedAt: number }>> {
    return Promise.resolve([...this.notes.keys()].map((noteId) => ({ noteId, modifiedAt: 1 })));
  }

  remove(_sled: number, _log: LogRef, noteIds: readonly string[]): Promise<void> {
    this.record('remove', noteIds);
    for (const noteId of noteIds) this.notes.delete(noteId);
    return Promise.resolve();
  }

  copyAll(_from: unknown, _to: unknown, noteIds: readonly string[]): Promise<void> {
    this.record('copyAll', noteIds);
    return Promise.resolve();
  }

  copyToChunk(_from: unknown, noteId: string): Promise<void> {
    this.record('copyToChunk', [noteId]);
    return Promise.resolve();
  }

  drop(): Promise<void> {
    this.record('drop', []);
    this.notes.clear();
    return Promise.resolve();
  }
}

const LOG: LogRef = { volumeId: 'vol-0123456789abcdef0', partition: 0, replicaId: 'r1' };
const meta = { offset: 0, sha256: 'unused' };

describe('a journal in the table and on the sleds', () => {
  it('sends each note where its id says, and reads mixed parts back in the order asked', async () => {
    const table = new MemoryJournal();
    const sled = new MemoryJournal();
    const journal = new TieredJournalStore(table, sled);
    const ids = [randomNoteId('table'), randomNoteId('sled'), randomNoteId('table'), randomNoteId('sled')];
    for (const [i, noteId] of ids.entries()) await journal.put(0, LOG, noteId, Buffer.from(`note ${i} bytes`), meta);
    expect([...table.notes.keys()]).toEqual([ids[0], ids[2]]);
    expect([...sled.notes.keys()]).toEqual([ids[1], ids[3]]);

    const parts = [ids[3]!, ids[0]!, ids[1]!, ids[2]!, ids[0]!].map((noteId, i) => ({ noteId, start: 0, length: 6 + (i % 2) }));
    const read = await journal.readMany(0, LOG, parts);
    expect(read.map(String)).toEqual(['note 3', 'note 0 ', 'note 1', 'note 2 ', 'note 0']);
    // One call per place, each with only its own notes.
    expect(table.calls.filter((c) => c.call === 'readMany')).toEqual([{ call: 'readMany', noteIds: [ids[0], ids[2], ids[0]] }]);
    expect(sled.calls.filter((c) => c.call === 'readMany')).toEqual([{ call: 'readMany', noteIds: [ids[3], ids[1]] }]);
    // A place with no part is not asked at all.
    await journal.readMany(0, LOG, [{ noteId: ids[1]!, start: 0, length: 4 }]);
    expect(table.calls.filter((c) => c.call === 'readMany')).toHaveLength(1);

    expect((await journal.list(0, LOG)).sort()).toEqual([...ids].sort());
    await journal.remove(0, LOG, ids.slice(0, 3));
    expect(table.calls.at(-1)).toEqual({ call: 'remove', noteIds: [ids[0], ids[2]] });
    expect(sled.calls.at(-1)).toEqual({ call: 'remove', noteIds: [ids[1]] });
    await journal.copyAll({ sled: 0, log: LOG }, { sled: 1, log: LOG }, ids);
    expect(table.calls.at(-1)).toEqual({ call: 'copyAll', noteIds: [ids[0], ids[2]] });
    expect(sled.calls.at(-1)).toEqual({ call: 'copyAll', noteIds: [ids[1], ids[3]] });
    await journal.copyToChunk({ sled: 0, log: LOG }, ids[3]!, { sled: 1, key: 'chunk' });
    expect(sled.calls.at(-1)).toEqual({ call: 'copyToChunk', noteIds: [ids[3]] });
    await journal.drop(0, LOG);
    expect([table.calls.at(-1)?.call, sled.calls.at(-1)?.call]).toEqual(['drop', 'drop']);
  });
});
