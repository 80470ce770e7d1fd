import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type {
  HeadLease,
  IdempotencyRecord,
  IdempotencyStore,
  LeaseWanted,
  LogChanges,
  LogEntry,
  ChunkMap,
  ChunkMapStore,
  LogRef,
  NewPartition,
  NewPartitionWriter,
  NoteLogStore,
  PartitionMeta,
  PartitionMetaStore,
  TailEntry,
} from '../notes/ports.js';
import { logRef } from '../notes/ports.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import { mapLimit } from '../shared/concurrency.js';
import { ConcurrentModificationError } from '../errors.js';
import { callAws, isConditionalCheckFailed, translateAwsError } from './aws-errors.js';
import {
  AFTER_LOG_SK,
  BY_VOLUME_INDEX,
  CHUNKS_SK,
  IDEMPOTENCY_SK,
  MAX_OP,
  META_SK,
  OP_PREFIX,
  RETIRED_SK,
  chunkMapItem,
  chunkMapKey,
  chunkMapOf,
  idempotencyClaimItem,
  idempotencyKey,
  leaseWantedItem,
  leaseWantedKey,
  logEntryItem,
  logEntryOf,
  logPk,
  metaItem,
  metaKey,
  opKey,
  opSk,
  partitionMetaOf,
  partitionOfPk,
  partitionPk,
  retiredKey,
} from './partitions-table-schema.js';

export const dynamo = <T>(call: () => Promise<T>): Promise<T> => callAws('DynamoDB', call);

/**
 * The partitions table holds partition metadata, note logs and idempotency records. Every
 * write to it is a single-item conditional write: the design needs no transactions. The one
 * exception is a brand-new partition nobody can reach yet (putNewPartitions), written in batches.
 */
export abstract class PartitionsTable {
  constructor(
    protected readonly documents: DynamoDBDocumentClient,
    protected readonly tableName: string,
  ) {}

  /** Every item a query finds, across its pages. */
  protected async queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Array<Record<string, unknown>>> {
    const items: Array<Record<string, unknown>> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamo(() => this.documents.send(new QueryCommand({ ...input, TableName: this.tableName, ExclusiveStartKey: start })));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** The keys of every item under one partition key. */
  protected async queryKeys(pk: string): Promise<Array<{ pk: string; sk: string }>> {
    const items = await this.queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ProjectionExpression: 'pk, sk' });
    return items.map((item) => ({ pk: item.pk as string, sk: item.sk as string }));
  }
}

/** Partition metadata: placement of the two replicas and the epoch. */
export class DynamoDbPartitionMetaStore extends PartitionsTable implements PartitionMetaStore, NewPartitionWriter {

  /**
   * Unconditional puts, 25 items per BatchWriteItem, for partitions no writer can reach yet
   * (see NewPartitionWriter): first every metadata item, then every chunk map. The items are
   * the ones createIfAbsent and DynamoDbChunkMapStore.put write.
   */
  async putNewPartitions(partitions: readonly NewPartition[]): Promise<void> {
    await putItems(this.documents, this.tableName, partitions.map(({ meta }) => metaItem(meta)));
    await failpoint(FAILPOINTS.newPartitionsHalfWritten, { partitions: partitions.length });
    await putItems(this.documents, this.tableName, partitions.flatMap(({ chunkMaps }) => chunkMaps.map(chunkMapItem)));
  }

  async get(volumeId: string, partition: number): Promise<PartitionMeta | undefined> {
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: metaKey(volumeId, partition), ConsistentRead: true })),
    );
    return Item ? partitionMetaOf(Item) : undefined;
  }

  async createIfAbsent(meta: PartitionMeta): Promise<PartitionMeta> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: metaItem(meta),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return meta;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw translateAwsError('DynamoDB', error);
      const existing = await this.get(meta.volumeId, meta.partition);
      if (!existing) throw new ConcurrentModificationError(`partition metadata ${meta.volumeId}/${meta.partition} vanished while being created`, { cause: error });
      return existing;
    }
  }

  async replace(meta: PartitionMeta, expectedEpoch: number): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: metaItem(JSON.parse(JSON.stringify(meta)) as PartitionMeta),
          ConditionExpression: 'epoch = :expected',
          ExpressionAttributeValues: { ':expected': expectedEpoch },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw translateAwsError('DynamoDB', error);
    }
  }

  async listPartitions(volumeId: string): Promise<number[]> {
    const partitions: number[] = [];
    for (const item of await this.byVolume(volumeId)) {
      if (item.sk === META_SK || item.sk === CHUNKS_SK) partitions.push(partitionOfPk(String(item.pk)));
    }
    return [...new Set(partitions)].sort((a, b) => a - b);
  }

  async removePartition(volumeId: string, partition: number, replicaIds: readonly string[]): Promise<void> {
    for (const replicaId of replicaIds) {
      const pk = logPk(logRef(volumeId, partition, replicaId));
      const keys = await this.queryKeys(pk);
      await this.deleteKeys(keys);
    }
    // The metadata and the checkpoint records share the partition's key.
    await this.deleteKeys(await this.queryKeys(partitionPk(volumeId, partition)));
    // Idempotency records belong to the volume, not a partition; removing them with any partition is harmless.
    const records = (await this.byVolume(volumeId)).filter((item) => item.sk === IDEMPOTENCY_SK);
    await this.deleteKeys(records.map((item) => ({ pk: item.pk as string, sk: item.sk as string })));
  }

  private async byVolume(volumeId: string): Promise<Array<Record<string, unknown>>> {
    return this.queryAll({ IndexName: BY_VOLUME_INDEX, KeyConditionExpression: 'volumeId = :v', ExpressionAttributeValues: { ':v': volumeId } });
  }

  private async deleteKeys(keys: Array<{ pk: string; sk: string }>): Promise<void> {
    await deleteKeys(this.documents, this.tableName, keys);
  }
}

/** BatchWriteItem requests in flight at once. */
const BATCH_WRITE_CONCURRENCY = 8;

/**
 * Writes requests 25 per BatchWriteItem, a few batches at once; BatchWrite may hand back
 * unprocessed items under load, which are resent with backoff until none remain.
 */
async function batchWrite(documents: DynamoDBDocumentClient, tableName: string, requests: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const batches: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < requests.length; i += 25) batches.push(requests.slice(i, i + 25));
  await mapLimit(batches, BATCH_WRITE_CONCURRENCY, async (batch) => {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
      const result = await dynamo(() => documents.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } })));
      pending = (result.UnprocessedItems?.[tableName] ?? []) as typeof pending;
    }
  });
}

export const deleteKeys = (documents: DynamoDBDocumentClient, tableName: string, keys: ReadonlyArray<{ pk: string; sk: string }>) =>
  batchWrite(documents, tableName, keys.map((Key) => ({ DeleteRequest: { Key } })));

/** Unconditional puts. */
export const putItems = (documents: DynamoDBDocumentClient, tableName: string, items: ReadonlyArray<Record<string, unknown>>) =>
  batchWrite(documents, tableName, items.map((Item) => ({ PutRequest: { Item } })));

/** The note logs, one per replica incarnation, keyed on the zero-padded op number. */
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
      // Everything but the chunk map's chunks (fetched only when the version moved); extents too.
      ProjectionExpression: '#sk, #kind, #op, #epoch, #noteId, #offset, #length, #sha256, #extents, #version',
      ExpressionAttributeNames: {
        '#sk': 'sk',
        '#kind': 'kind',
        '#op': 'op',
        '#epoch': 'epoch',
        '#noteId': 'noteId',
        '#offset': 'offset',
        '#length': 'length',
        '#sha256': 'sha256',
        '#extents': 'extents',
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

/** Idempotency-Key records of writes; they carry volumeId so a volume's delete finds them. */
export class DynamoDbIdempotencyStore extends PartitionsTable implements IdempotencyStore {

  async claim(volumeId: string, key: string, fingerprint: string, now: number): Promise<IdempotencyRecord> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: idempotencyClaimItem(volumeId, key, fingerprint, now),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { state: 'claimed' };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw translateAwsError('DynamoDB', error);
    }
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: idempotencyKey(volumeId, key), ConsistentRead: true })),
    );
    // Released between our put and our get: the caller simply claims again.
    if (!Item) return this.claim(volumeId, key, fingerprint, now);
    if (Item.state === 'done') return { state: 'done', fingerprint: Item.fingerprint as string, result: Item.result };
    return { state: 'in-progress', fingerprint: Item.fingerprint as string, claimedAt: Item.claimedAt as number };
  }

  async takeOver(volumeId: string, key: string, claimedAt: number, now: number): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: idempotencyKey(volumeId, key),
          UpdateExpression: 'SET claimedAt = :now',
          ConditionExpression: '#state = :progress AND claimedAt = :then',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':now': now, ':then': claimedAt, ':progress': 'in-progress' },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw translateAwsError('DynamoDB', error);
    }
  }

  async complete(volumeId: string, key: string, result: unknown): Promise<void> {
    await dynamo(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: idempotencyKey(volumeId, key),
          UpdateExpression: 'SET #state = :done, #result = :result',
          ExpressionAttributeNames: { '#state': 'state', '#result': 'result' },
          ExpressionAttributeValues: { ':done': 'done', ':result': result },
        }),
      ),
    );
  }

  async release(volumeId: string, key: string): Promise<void> {
    await dynamo(() =>
      this.documents.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: idempotencyKey(volumeId, key),
          ConditionExpression: '#state = :progress',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':progress': 'in-progress' },
        }),
      ),
    ).catch((error: unknown) => {
      if (!(error instanceof Error && isConditionalCheckFailed(error.cause ?? error))) throw error;
    });
  }
}

/** Chunk maps: one item per replica, under the same key as its log, so dropping a replica drops both. */
export class DynamoDbChunkMapStore extends PartitionsTable implements ChunkMapStore {
  async get(log: LogRef): Promise<ChunkMap | undefined> {
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: chunkMapKey(log), ConsistentRead: true })),
    );
    if (!Item) return undefined;
    return chunkMapOf(Item);
  }

  async put(map: ChunkMap, expectedVersion: number | undefined): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: chunkMapItem(map),
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'version = :expected', ExpressionAttributeValues: { ':expected': expectedVersion } }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw translateAwsError('DynamoDB', error);
    }
  }
}
