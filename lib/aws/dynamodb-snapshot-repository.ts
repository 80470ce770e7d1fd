import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../errors.js';
import type { SnapshotPage, SnapshotRepository } from '../snapshots/ports.js';
import type { Snapshot, SnapshotPartition, SnapshotState } from '../snapshots/snapshot.js';
import { callAws, isConditionalCheckFailed, translateAwsError } from './aws-errors.js';

const HEADER = 'snapshot';
const partitionSk = (partition: number) => `p#${String(partition).padStart(8, '0')}`;

function toSnapshot(item: Record<string, unknown>): Snapshot {
  const { sk: _sk, ...rest } = item;
  void _sk;
  return rest as unknown as Snapshot;
}

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): Record<string, unknown> {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const { snapshotId, sk } = (key ?? {}) as { snapshotId?: unknown; sk?: unknown };
    if (typeof snapshotId === 'string' && typeof sk === 'string') return { snapshotId, sk };
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError('nextToken is not one this service issued');
}

const dynamo = <T>(call: () => Promise<T>): Promise<T> => callAws('DynamoDB', call);

/** Snapshot headers and partition chunk maps in the snapshots table. */
export class DynamoDbSnapshotRepository implements SnapshotRepository {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(snapshot: Snapshot): Promise<void> {
    await dynamo(() =>
      this.documents.send(
        new PutCommand({ TableName: this.tableName, Item: { ...snapshot, sk: HEADER }, ConditionExpression: 'attribute_not_exists(snapshotId)' }),
      ),
    );
  }

  async get(snapshotId: string): Promise<Snapshot | undefined> {
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: { snapshotId, sk: HEADER }, ConsistentRead: true })),
    );
    return Item ? toSnapshot(Item) : undefined;
  }

  async list(limit: number, cursor?: string): Promise<SnapshotPage> {
    const snapshots: Snapshot[] = [];
    let startKey = cursor === undefined ? undefined : decodeCursor(cursor);
    // Headers only (partition items share the table); a filtered Scan page may come back short
    // or empty, so keep reading until the page is full or the table ends.
    do {
      const page = await dynamo(() =>
        this.documents.send(
          new ScanCommand({
            TableName: this.tableName,
            Limit: Math.max(limit - snapshots.length, 1) * 4,
            FilterExpression: 'sk = :header',
            ExpressionAttributeValues: { ':header': HEADER },
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        if (snapshots.length < limit) snapshots.push(toSnapshot(item));
        else break;
      }
      startKey = page.LastEvaluatedKey;
      if (snapshots.length >= limit) {
        // Resume after the last header returned, not after the scanned page.
        const last = snapshots[snapshots.length - 1];
        startKey = last ? { snapshotId: last.snapshotId, sk: HEADER } : startKey;
        break;
      }
    } while (startKey);
    return startKey ? { snapshots, nextCursor: encodeCursor(startKey) } : { snapshots };
  }

  async putPartition(partition: SnapshotPartition): Promise<void> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...partition, sk: partitionSk(partition.partition), counted: false },
          ConditionExpression: 'attribute_not_exists(snapshotId)',
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw translateAwsError('DynamoDB', error);
    }
  }

  async markCounted(snapshotId: string, partition: number): Promise<void> {
    await dynamo(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { snapshotId, sk: partitionSk(partition) },
          UpdateExpression: 'SET counted = :yes',
          ExpressionAttributeValues: { ':yes': true },
        }),
      ),
    );
  }

  async countPartitions(snapshotId: string): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamo(() =>
        this.documents.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'snapshotId = :id AND begins_with(sk, :p)',
            ExpressionAttributeValues: { ':id': snapshotId, ':p': 'p#' },
            Select: 'COUNT',
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return count;
  }

  async getPartition(snapshotId: string, partition: number): Promise<(SnapshotPartition & { counted: boolean }) | undefined> {
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: { snapshotId, sk: partitionSk(partition) }, ConsistentRead: true })),
    );
    if (!Item) return undefined;
    const { sk: _sk, ...rest } = Item;
    void _sk;
    return rest as SnapshotPartition & { counted: boolean };
  }

  async addProgress(snapshotId: string, chunks: number, bytes: number): Promise<Snapshot> {
    const { Attributes } = await dynamo(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { snapshotId, sk: HEADER },
          UpdateExpression: 'SET progress.partitionsDone = progress.partitionsDone + :one, progress.chunksStored = progress.chunksStored + :chunks, progress.bytesStored = progress.bytesStored + :bytes',
          ExpressionAttributeValues: { ':one': 1, ':chunks': chunks, ':bytes': bytes },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return toSnapshot(Attributes ?? {});
  }

  async complete(snapshotId: string, now: Date): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { snapshotId, sk: HEADER },
          UpdateExpression: 'SET #state = :completed, completedAt = :now',
          ConditionExpression: '#state = :creating',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':completed': 'completed', ':creating': 'creating', ':now': now.toISOString() },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw translateAwsError('DynamoDB', error);
    }
  }

  async transition(snapshotId: string, from: readonly SnapshotState[], to: SnapshotState): Promise<boolean> {
    const allowed = Object.fromEntries(from.map((state, i) => [`:from${i}`, state]));
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { snapshotId, sk: HEADER },
          UpdateExpression: 'SET #state = :to',
          ConditionExpression: `attribute_exists(snapshotId) AND #state IN (${Object.keys(allowed).join(', ')})`,
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ...allowed, ':to': to },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw translateAwsError('DynamoDB', error);
    }
  }

  async remove(snapshotId: string): Promise<void> {
    const keys: Array<Record<string, unknown>> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamo(() =>
        this.documents.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'snapshotId = :id',
            ExpressionAttributeValues: { ':id': snapshotId },
            ProjectionExpression: 'snapshotId, sk',
            ExclusiveStartKey: start,
          }),
        ),
      );
      keys.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    // The header last: a delete that stops part-way still finds the snapshot, and is repeated.
    const header = keys.filter((key) => key.sk === HEADER);
    for (const key of [...keys.filter((key) => key.sk !== HEADER), ...header]) {
      await dynamo(() => this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: { snapshotId: key.snapshotId, sk: key.sk } })));
    }
  }
}
