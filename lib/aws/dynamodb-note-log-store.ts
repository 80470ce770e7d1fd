import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { HeadLease, LeaseWanted, LogChanges, LogEntry, LogRef, NoteLogStore, TailEntry } from '../notes/ports.js';
import { isConditionalCheckFailed, translateAwsError } from './aws-errors.js';
import { deleteKeys, dynamo, PartitionsTable } from './dynamodb-partitions-table.js';
import {
  AFTER_LOG_SK,
  CHUNKS_SK,
  MAX_OP,
  OP_PREFIX,
  RETIRED_SK,
  leaseWantedItem,
  leaseWantedKey,
  logEntryItem,
  logEntryOf,
  logPk,
  opKey,
  opSk,
  retiredKey,
} from './partitions-table-schema.js';

/**
 * The note logs, one per replica incarnation, keyed on the zero-padded op number. The head's
 * lease lives on the log's tail entry (and the lease-wanted marker beside it), so the lease
 * calls are here too: each is one conditional write on the log's own items.
 */
export class DynamoDbNoteLogStore extends PartitionsTable implements NoteLogStore {

  async append(log: LogRef, entry: LogEntry, lease?: HeadLease): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: logEntryItem(log, entry, lease),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw translateAwsError('DynamoDB', error);
    }
  }

  async get(log: LogRef, op: number): Promise<LogEntry | undefined> {
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: opKey(log, op), ConsistentRead: true })),
    );
    return Item ? logEntryOf(Item) : undefined;
  }

  async tail(log: LogRef): Promise<TailEntry | undefined> {
    return this.end(log, false);
  }

  async first(log: LogRef): Promise<LogEntry | undefined> {
    return this.end(log, true);
  }

  async breakLease(log: LogRef, op: number, lease: HeadLease): Promise<boolean> {
    return this.updateLease(log, op, lease, 'REMOVE leaseHolder, leaseUntil', {});
  }

  async renewLease(log: LogRef, op: number, lease: HeadLease, until: number): Promise<boolean> {
    return this.updateLease(log, op, lease, 'SET leaseUntil = :next', { ':next': until });
  }

  private async updateLease(log: LogRef, op: number, lease: HeadLease, update: string, values: Record<string, unknown>): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: opKey(log, op),
          UpdateExpression: update,
          ConditionExpression: 'leaseHolder = :holder AND leaseUntil = :until',
          ExpressionAttributeValues: { ':holder': lease.holder, ':until': lease.until, ...values },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw translateAwsError('DynamoDB', error);
    }
  }

  async wantLease(log: LogRef, at: number, by: string): Promise<void> {
    await dynamo(() => this.documents.send(new PutCommand({ TableName: this.tableName, Item: leaseWantedItem(log, at, by) })));
  }

  async leaseWanted(log: LogRef): Promise<LeaseWanted | undefined> {
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: leaseWantedKey(log), ConsistentRead: true })),
    );
    return Item ? { at: Item.at as number, by: String(Item.by ?? '') } : undefined;
  }

  private async end(log: LogRef, lowest: boolean): Promise<TailEntry | undefined> {
    const page = await dynamo(() =>
      this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :op)',
          ExpressionAttributeValues: { ':pk': logPk(log), ':op': OP_PREFIX },
          ScanIndexForward: lowest,
          Limit: 1,
          ConsistentRead: true,
        }),
      ),
    );
    const item = page.Items?.[0];
    if (!item) return undefined;
    const entry = logEntryOf(item);
    return typeof item.leaseHolder === 'string' ? { ...entry, lease: { holder: item.leaseHolder, until: item.leaseUntil as number } } : entry;
  }

  async trim(log: LogRef, uptoOp: number): Promise<number> {
    const entries = await this.range(log, 0, uptoOp);
    await deleteKeys(this.documents, this.tableName, entries.map((entry) => opKey(log, entry.op)));
    return entries.length;
  }

  async drop(log: LogRef): Promise<void> {
    const keys = await this.queryKeys(logPk(log));
    await deleteKeys(this.documents, this.tableName, keys.filter((key) => key.sk !== RETIRED_SK));
  }

  async retire(log: LogRef): Promise<void> {
    await dynamo(() => this.documents.send(new PutCommand({ TableName: this.tableName, Item: retiredKey(log) })));
  }

  async changesSince(log: LogRef, afterOp: number): Promise<LogChanges> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      // Everything but the chunk map's chunks: the reader fetches those only when the version moved.
      ProjectionExpression: '#sk, #kind, #op, #epoch, #noteId, #offset, #length, #sha256, #version',
      ExpressionAttributeNames: {
        '#sk': 'sk',
        '#kind': 'kind',
        '#op': 'op',
        '#epoch': 'epoch',
        '#noteId': 'noteId',
        '#offset': 'offset',
        '#length': 'length',
        '#sha256': 'sha256',
        '#version': 'version',
      },
      ExpressionAttributeValues: { ':pk': logPk(log), ':from': opSk(afterOp + 1), ':to': AFTER_LOG_SK },
      ConsistentRead: true,
    });
    const entries: LogEntry[] = [];
    let chunkMapVersion: number | undefined;
    let retired = false;
    for (const item of items) {
      if (item.sk === CHUNKS_SK) chunkMapVersion = item.version as number;
      else if (item.sk === RETIRED_SK) retired = true;
      else if (String(item.sk).startsWith(OP_PREFIX)) entries.push(logEntryOf(item));
    }
    return { entries, chunkMapVersion, retired };
  }

  async range(log: LogRef, afterOp: number, uptoOp?: number): Promise<LogEntry[]> {
    const upper = uptoOp ?? MAX_OP;
    if (upper <= afterOp) return [];
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': logPk(log), ':from': opSk(afterOp + 1), ':to': opSk(upper) },
      ConsistentRead: true,
    });
    return items.map(logEntryOf);
  }

}
