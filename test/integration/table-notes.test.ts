import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { DynamoDbJournalStore } from '../../lib/aws/dynamodb-journal-store.js';
import { NoteGoneError } from '../../lib/errors.js';
import { DynamoDbNoteLogStore } from '../../lib/aws/dynamodb-note-log-store.js';
import { isTableNote, randomNoteId } from '../../lib/notes/note-ids.js';
import type { LogRef } from '../../lib/notes/ports.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { countCommands } from '../support/processes.js';
import { LogInspector } from '../support/write-path.js';

const KIB = 1024;
const SIZE = 256 * KIB;
const pattern = (length: number, seed: number) => Buffer.from(Array.from({ length }, (_, i) => (i * 13 + seed) % 251));

/** Notes of at most SLEDS_TABLE_NOTE_BYTES are kept in the partitions table, beside their replica's log. */
describe('notes kept in the partitions table', () => {
  const cloud = useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 1024, headCacheMib: 0, headLeaseMs: 0 });
  let table: DynamoDbJournalStore;
  let logs: DynamoDbNoteLogStore;
  let clients: Services['clients'];
  beforeAll(() => {
    clients = createAwsClients(cloud().config);
    table = new DynamoDbJournalStore(clients.documents, cloud().config.tables.partitions);
    logs = new DynamoDbNoteLogStore(clients.documents, cloud().config.tables.partitions);
  });
  const aLog = (): LogRef => ({ volumeId: `vol-${randomBytes(8).toString('hex')}0`, partition: 0, replicaId: 'r1' });

  it('reads many parts in batches of a hundred notes, each note once however many parts it serves, in the order asked', async () => {
    const log = aLog();
    const notes = Array.from({ length: 250 }, (_, i) => ({ noteId: randomNoteId('table'), payload: pattern(4 * KIB, i) }));
    await Promise.all(notes.map((note, i) => table.put(0, log, note.noteId, note.payload, { offset: i * 4 * KIB, sha256: 'unused' })));
    // Backwards, and every note's second half asked again.
    const parts = [...notes].reverse().flatMap((note) => [
      { noteId: note.noteId, start: 0, length: 4 * KIB },
      { noteId: note.noteId, start: 2 * KIB, length: KIB },
    ]);
    const counts = countCommands(clients);
    const read = await table.readMany(0, log, parts);
    expect(counts.get('BatchGetItem')).toBe(3);
    const byId = new Map(notes.map((note) => [note.noteId, note.payload]));
    read.forEach((bytes, i) => {
      const part = parts[i]!;
      expect(bytes.equals(byId.get(part.noteId)!.subarray(part.start, part.start + part.length))).toBe(true);
    });
    expect((await table.read(0, log, notes[7]!.noteId, 100, 10)).equals(notes[7]!.payload.subarray(100, 110))).toBe(true);
    // The log's own queries never see the notes.
    expect(await logs.range(log, 0)).toEqual([]);
    expect(await logs.tail(log)).toBeUndefined();
  });

  it('copies many notes to another replica in batches, and refuses to copy one that is not there', async () => {
    const [log, other] = [aLog(), aLog()];
    const notes = Array.from({ length: 150 }, (_, i) => ({ noteId: randomNoteId('table'), payload: pattern(2 * KIB, i) }));
    await Promise.all(notes.map((note) => table.put(0, log, note.noteId, note.payload, { offset: 0, sha256: 'unused' })));
    const counts = countCommands(clients);
    await table.copyAll({ sled: 0, log }, { sled: 1, log: other }, notes.map((note) => note.noteId));
    // Two reads of up to 100 notes, six writes of up to 25.
    expect([counts.get('BatchGetItem'), counts.get('BatchWriteItem'), counts.get('GetItem') ?? 0, counts.get('PutItem') ?? 0]).toEqual([2, 6, 0, 0]);
    const copied = await table.readMany(1, other, notes.map((note) => ({ noteId: note.noteId, start: 0, length: 2 * KIB })));
    copied.forEach((bytes, i) => expect(bytes.equals(notes[i]!.payload)).toBe(true));
    const stranger = aLog();
    await expect(table.copyAll({ sled: 0, log }, { sled: 1, log: stranger }, [notes[0]!.noteId, randomNoteId('table')])).rejects.toBeInstanceOf(NoteGoneError);
    expect(await table.list(1, stranger)).toEqual([]);
  });

  it('refuses a part of a note that is not there, or past its end', async () => {
    const log = aLog();
    const noteId = randomNoteId('table');
    await table.put(0, log, noteId, pattern(KIB, 1), { offset: 0, sha256: 'unused' });
    await expect(table.readMany(0, log, [{ noteId: randomNoteId('table'), start: 0, length: 1 }])).rejects.toBeInstanceOf(NoteGoneError);
    await expect(table.read(0, log, randomNoteId('table'), 0, 1)).rejects.toBeInstanceOf(NoteGoneError);
    await expect(table.read(0, log, noteId, KIB - 1, 2)).rejects.toThrow(/has 1024 bytes/);
  });

  it('lists, copies, removes and drops a replica\'s notes; dropping the log takes them too', async () => {
    const [log, other] = [aLog(), aLog()];
    const ids = [randomNoteId('table'), randomNoteId('table'), randomNoteId('table')];
    const before = Date.now();
    for (const [i, noteId] of ids.entries()) await table.put(0, log, noteId, pattern(KIB, i), { offset: 0, sha256: 'unused' });
    const listed = await table.listWithTimes(0, log);
    expect(listed.map((note) => note.noteId).sort()).toEqual([...ids].sort());
    for (const note of listed) expect(note.modifiedAt).toBeGreaterThanOrEqual(before);
    await table.copyAll({ sled: 0, log }, { sled: 1, log: other }, [ids[1]!]);
    expect((await table.read(1, other, ids[1]!, 0, KIB)).equals(pattern(KIB, 1))).toBe(true);
    await table.remove(0, log, [ids[0]!]);
    expect((await table.list(0, log)).sort()).toEqual([ids[1]!, ids[2]!].sort());
    await table.drop(0, log);
    expect(await table.list(0, log)).toEqual([]);
    expect(await table.list(1, other)).toEqual([ids[1]]);
    await logs.drop(other);
    expect(await table.list(1, other)).toEqual([]);
  });

  it('serves writes of every size through reads, a flush elsewhere and a failover, whichever setting each writer had', async () => {
    const small = createServices(cloud().config);
    const sledOnly = createServices({ ...cloud().config, tableNoteBytes: 0 });
    const reader = createServices(cloud().config);
    const inspector = new LogInspector(cloud().config);
    try {
      const { volumeId } = await small.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
      const model = Buffer.alloc(SIZE);
      const write = async (by: Services, offset: number, length: number, seed: number) => {
        const data = pattern(length, seed);
        await by.data.write(volumeId, offset, data);
        data.copy(model, offset);
      };
      // 4 and 8 KiB go in the table; 12 KiB and anything from a writer set to 0 go on the sleds.
      for (let i = 0; i < 12; i++) await write(i % 3 === 2 ? sledOnly : small, ((i * 37) % 56) * 4 * KIB, [4, 8, 12][i % 3]! * KIB, i + 1);
      const { primary, secondary } = await inspector.logsOf(volumeId, 0);
      const placed = primary.flatMap((entry) => (entry.kind === 'write' ? [isTableNote(entry.noteId)] : []));
      expect(placed).toEqual([true, true, false, true, true, false, true, true, false, true, true, false]);
      expect(secondary).toEqual(primary);
      expect((await reader.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);

      expect((await reader.flush.flush({ volumeId, partition: 0, uptoOp: 8 })).flushedOp).toBe(8);
      await write(small, 4 * KIB, 4 * KIB, 99);
      expect((await reader.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);

      // Losing the primary keeps every note the secondary holds; the rebuilt secondary gets the
      // tail's notes, in the table or on its sled as each one was.
      const report = await reader.rebuild.loseReplica(volumeId, 0, 'primary');
      expect(report.opsCopied).toBeGreaterThan(0);
      // (A process that knew the old primary is fenced once: rebuild.test.ts covers that.)
      const fresh = createServices(cloud().config);
      try {
        await write(fresh, 200 * KIB, 4 * KIB, 100);
        expect((await fresh.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
      } finally {
        fresh.clients.destroy();
      }
      expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(15); // 14 writes and the failover's epoch entry
    } finally {
      for (const services of [small, sledOnly, reader]) services.clients.destroy();
      inspector.close();
    }
  });
});

describe('a table note trimmed under a reader', () => {
  const cloud = useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 1024, headCacheMib: 0, headLeaseMs: 3000 });

  it("makes the lease holder's read start again from fresh metadata, as a collected sled object does", async () => {
    const holder = createServices(cloud().config);
    const other = createServices(cloud().config);
    const inspector = new LogInspector(cloud().config);
    try {
      const { volumeId } = await holder.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
      const model = Buffer.alloc(SIZE);
      const write = async (offset: number, seed: number) => {
        const data = pattern(4 * KIB, seed);
        await holder.data.write(volumeId, offset, data);
        data.copy(model, offset);
      };
      for (let i = 0; i < 4; i++) await write(i * 16 * KIB, i + 1);
      // The holder's view names ops 1-4's notes; it reads through it without asking the log.
      expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
      // Another process flushes and checkpoints twice: the notes below the older checkpoint go.
      await other.flush.checkpoint(volumeId, 0);
      await write(8 * KIB, 5);
      await other.flush.checkpoint(volumeId, 0);
      const { meta } = await inspector.logsOf(volumeId, 0);
      const left = await inspector.tableNotes.list(meta.primary.sled, { volumeId, partition: 0, replicaId: meta.primary.replicaId });
      expect(left).toHaveLength(1);
      expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    } finally {
      for (const services of [holder, other]) services.clients.destroy();
      inspector.close();
    }
  });
});
