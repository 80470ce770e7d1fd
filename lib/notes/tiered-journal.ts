import { isTableNote } from './note-ids.js';
import type { JournalPlace, JournalStore, LogRef, NotePart } from './ports.js';

/**
 * A replica's journal in two places: notes whose id says so (isTableNote) in the partitions
 * table, the others on the replica's journal sled. Each call goes where its notes are.
 */
export class TieredJournalStore implements JournalStore {
  constructor(
    private readonly table: JournalStore,
    private readonly sled: JournalStore,
  ) {}

  private of(noteId: string): JournalStore {
    return isTableNote(noteId) ? this.table : this.sled;
  }

  put(sled: number, log: LogRef, noteId: string, payload: Buffer, meta: { offset: number; sha256: string }): Promise<void> {
    return this.of(noteId).put(sled, log, noteId, payload, meta);
  }

  async putBoth(places: readonly [JournalPlace, JournalPlace], noteId: string, payload: Buffer, meta: { offset: number; sha256: string }): Promise<boolean> {
    return (await this.of(noteId).putBoth?.(places, noteId, payload, meta)) ?? false;
  }

  read(sled: number, log: LogRef, noteId: string, start: number, length: number): Promise<Buffer> {
    return this.of(noteId).read(sled, log, noteId, start, length);
  }

  async readMany(sled: number, log: LogRef, parts: readonly NotePart[]): Promise<Buffer[]> {
    const [inTable, onSled] = split(parts, (part) => part.noteId);
    const [fromTable, fromSled] = await Promise.all([
      inTable.length > 0 ? this.table.readMany(sled, log, inTable) : [],
      onSled.length > 0 ? this.sled.readMany(sled, log, onSled) : [],
    ]);
    // Back in the order asked.
    let table = 0;
    let other = 0;
    return parts.map((part) => (isTableNote(part.noteId) ? fromTable[table++] : fromSled[other++]) as Buffer);
  }

  async list(sled: number, log: LogRef): Promise<string[]> {
    return (await Promise.all([this.table.list(sled, log), this.sled.list(sled, log)])).flat();
  }

  async listWithTimes(sled: number, log: LogRef): Promise<Array<{ readonly noteId: string; readonly modifiedAt: number }>> {
    return (await Promise.all([this.table.listWithTimes(sled, log), this.sled.listWithTimes(sled, log)])).flat();
  }

  async remove(sled: number, log: LogRef, noteIds: readonly string[]): Promise<void> {
    const [inTable, onSled] = split(noteIds, (noteId) => noteId);
    await Promise.all([
      inTable.length > 0 ? this.table.remove(sled, log, inTable) : undefined,
      onSled.length > 0 ? this.sled.remove(sled, log, onSled) : undefined,
    ]);
  }

  async copyAll(from: { sled: number; log: LogRef }, to: { sled: number; log: LogRef }, noteIds: readonly string[]): Promise<void> {
    const [inTable, onSled] = split(noteIds, (noteId) => noteId);
    await Promise.all([
      inTable.length > 0 ? this.table.copyAll(from, to, inTable) : undefined,
      onSled.length > 0 ? this.sled.copyAll(from, to, onSled) : undefined,
    ]);
  }

  copyToChunk(from: { sled: number; log: LogRef }, noteId: string, to: { sled: number; key: string }): Promise<void> {
    return this.of(noteId).copyToChunk(from, noteId, to);
  }

  async drop(sled: number, log: LogRef): Promise<void> {
    await Promise.all([this.table.drop(sled, log), this.sled.drop(sled, log)]);
  }
}

/** The items of table notes, and the others. */
function split<T>(items: readonly T[], noteIdOf: (item: T) => string): [T[], T[]] {
  const inTable: T[] = [];
  const onSled: T[] = [];
  for (const item of items) (isTableNote(noteIdOf(item)) ? inTable : onSled).push(item);
  return [inTable, onSled];
}
