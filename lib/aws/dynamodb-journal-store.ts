import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { MAX_TABLE_NOTE_BYTES } from '../config.js';
import { NoteGoneError } from '../errors.js';
import type { JournalPlace, JournalStore, LogRef, NotePart } from '../notes/ports.js';
import { batchGetItems } from './batch-get.js';
import { deleteKeys, dynamo, PartitionsTable, putItems } from './dynamodb-partitions-table.js';
import { ItemPutBatcher } from './item-put-batcher.js';
import { logPk, NOTE_PREFIX, noteIdOfSk, noteItem, noteKey, noteSk } from './partitions-table-schema.js';

// Notes sort before the log's ops (partitions-table-schema.ts), so the log's queries never
// read them; a replica's note items share its log's key, so dropping the log or removing the
// partition removes them too.
/**
 * BatchWriteItem requests of note puts out at once; more puts wait and share the next one. Few,
 * so that under load each request carries many partitions' notes (a request costs about as
 * much CPU, on both ends, whatever it carries); enough that a put rarely waits a whole round trip.
 */
const NOTE_BATCHES_IN_FLIGHT = 2;

/**
 * Small notes in the partitions table, one item each beside the replica's log: a flush reads
 * a hundred of them per BatchGetItem where the sled needs a GET each, and a write puts an item
 * where the sled takes a PutObject. Items are read strongly consistent: a reader learns of a
 * note from its log entry, which is written after the note.
 */
export class DynamoDbJournalStore extends PartitionsTable implements JournalStore {
  /** Note puts of every partition, sent together under load (item-put-batcher.ts). */
  private readonly batcher = new ItemPutBatcher((items) => putItems(this.documents, this.tableName, items), NOTE_BATCHES_IN_FLIGHT);

  async put(_sled: number, log: LogRef, noteId: string, payload: Buffer, _meta: { offset: number; sha256: string }): Promise<void> {
    checkSize(noteId, payload);
    await this.batcher.put([noteItem(log, noteId, payload, Date.now())]);
  }

  /** Both replicas' items in one BatchWriteItem (both are unconditional puts), with other partitions' notes under load. */
  async putBoth(places: readonly [JournalPlace, JournalPlace], noteId: string, payload: Buffer): Promise<boolean> {
    checkSize(noteId, payload);
    const at = Date.now();
    await this.batcher.put(places.map((place) => noteItem(place.log, noteId, payload, at)));
    return true;
  }

  async read(_sled: number, log: LogRef, noteId: string, start: number, length: number): Promise<Buffer> {
    const { Item } = await dynamo(() =>
      this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: noteKey(log, noteId), ProjectionExpression: 'payload', ConsistentRead: true }),
      ),
    );
    if (!Item) throw new NoteGoneError(noteId);
    return slice(noteId, Item.payload as Uint8Array, start, length);
  }

  async readMany(_sled: number, log: LogRef, parts: readonly NotePart[]): Promise<Buffer[]> {
    // BatchGetItem refuses a key asked twice: each note once, however many parts it serves.
    const items = await this.items(log, [...new Set(parts.map((part) => part.noteId))], 'sk, payload');
    return parts.map((part) => {
      const item = items.get(part.noteId);
      if (!item) throw new NoteGoneError(part.noteId);
      return slice(part.noteId, item.payload as Uint8Array, part.start, part.length);
    });
  }

  /** The notes' items, by note id, 100 per BatchGetItem, a few at once; a missing note has none. */
  private async items(log: LogRef, noteIds: readonly string[], projection?: string): Promise<Map<string, Record<string, unknown>>> {
    const pk = logPk(log);
    const items = await batchGetItems(this.documents, this.tableName, noteIds.map((noteId) => ({ pk, sk: noteSk(noteId) })), projection);
    return new Map(items.map((item) => [noteIdOfSk(String(item.sk)), item]));
  }

  async list(sled: number, log: LogRef): Promise<string[]> {
    return (await this.listWithTimes(sled, log)).map((note) => note.noteId);
  }

  async listWithTimes(_sled: number, log: LogRef): Promise<Array<{ noteId: string; modifiedAt: number }>> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :note)',
      ExpressionAttributeValues: { ':pk': logPk(log), ':note': NOTE_PREFIX },
      ProjectionExpression: 'sk, #at',
      ExpressionAttributeNames: { '#at': 'at' },
      ConsistentRead: true,
    });
    return items.map((item) => ({ noteId: noteIdOfSk(String(item.sk)), modifiedAt: item.at as number }));
  }

  async remove(_sled: number, log: LogRef, noteIds: readonly string[]): Promise<void> {
    const pk = logPk(log);
    await deleteKeys(this.documents, this.tableName, noteIds.map((noteId) => ({ pk, sk: noteSk(noteId) })));
  }

  async copyAll(from: { sled: number; log: LogRef }, to: { sled: number; log: LogRef }, noteIds: readonly string[]): Promise<void> {
    const items = await this.items(from.log, [...new Set(noteIds)]);
    const missing = noteIds.find((noteId) => !items.has(noteId));
    if (missing) throw new NoteGoneError(missing);
    const pk = logPk(to.log);
    const at = Date.now();
    await putItems(this.documents, this.tableName, [...items.values()].map((item) => ({ ...item, pk, at })));
  }

  copyToChunk(): Promise<void> {
    return Promise.reject(new Error('a note kept in the table is not copied to a chunk: the flush reads it and puts the chunk'));
  }

  async drop(sled: number, log: LogRef): Promise<void> {
    await this.remove(sled, log, await this.list(sled, log));
  }
}

function checkSize(noteId: string, payload: Buffer): void {
  if (payload.length > MAX_TABLE_NOTE_BYTES) throw new Error(`note ${noteId} has ${payload.length} bytes; the table keeps at most ${MAX_TABLE_NOTE_BYTES}`);
}

function slice(noteId: string, payload: Uint8Array, start: number, length: number): Buffer {
  if (start + length > payload.length) throw new Error(`note ${noteId} has ${payload.length} bytes; asked for ${length} from ${start}`);
  return Buffer.from(payload.buffer, payload.byteOffset + start, length);
}
