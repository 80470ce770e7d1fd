import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SnapshotPage, SnapshotRepository } from '../snapshots/ports.js';
import type { Snapshot, SnapshotPartition, SnapshotState } from '../snapshots/snapshot.js';
import { callAws, isConditionalCheckFailed, translateAwsError } from './aws-errors.js';
import { scanHeaders } from './header-scan.js';

const HEADER = 'snapshot';
const partitionSk = (partition: number) => `p#${String(partition).padStart(8, '0')}`;

function toSnapshot(item: Record<string, unknown>): Snapshot {
  const { sk: _sk, ...rest } = item;
  void _sk;
  return rest as unknown as Snapshot;
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
    // Headers only: the partition items share the table.
    const page = await scanHeaders({ documents: this.documents, tableName: this.tableName, idName: 'snapshotId', header: HEADER }, limit, cursor);
    const snapshots = page.items.map(toSnapshot);
    return page.nextCursor ? { snapshots, nextCursor: page.nextCursor } : { snapshots };
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
