import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { putItems } from './dynamodb-partitions-table.js';
import { ConcurrentModificationError, ValidationError, VolumeNotFoundError, VolumeStateError } from '../errors.js';
import type { VolumePage, VolumeRepository } from '../volumes/ports.js';
import type { Volume, VolumeState } from '../volumes/volume.js';
import { isConditionalCheckFailed, translateAwsError } from './aws-errors.js';
import { batchGetItems } from './batch-get.js';

const VOLUME_FIELDS = [
  'volumeId',
  'name',
  'sizeBytes',
  'chunkSizeBytes',
  'partitionChunks',
  'partitionCount',
  'state',
  'source',
  'createdAt',
  'updatedAt',
] as const;

/** The snapshots an item holds the volume for (a DynamoDB string set, absent when empty). */
const holdsOf = (item: Record<string, unknown> | undefined): string[] => [...((item?.snapshotHolds as Set<string> | undefined) ?? [])];

function toVolume(item: Record<string, unknown>): Volume {
  const volume: Record<string, unknown> = {};
  for (const field of VOLUME_FIELDS) if (item[field] !== undefined) volume[field] = item[field];
  return volume as unknown as Volume;
}

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): Record<string, unknown> {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (key && typeof key === 'object' && typeof (key as { volumeId?: unknown }).volumeId === 'string') {
      return { volumeId: (key as { volumeId: string }).volumeId };
    }
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError('nextToken is not a token this API issued');
}

/** Volume metadata in a DynamoDB table keyed on `volumeId`. */
export class DynamoDbVolumeRepository implements VolumeRepository {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(volume: Volume): Promise<void> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...volume },
          ConditionExpression: 'attribute_not_exists(volumeId)',
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) {
        throw new ConcurrentModificationError(`Volume ${volume.volumeId} already exists`, { cause: error });
      }
      throw translateAwsError('DynamoDB', error);
    }
  }

  async putFresh(volumes: readonly Volume[]): Promise<void> {
    await putItems(this.documents, this.tableName, volumes.map((volume) => ({ ...volume })));
  }

  async get(volumeId: string): Promise<Volume | undefined> {
    try {
      const { Item } = await this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: { volumeId }, ConsistentRead: true }),
      );
      return Item ? toVolume(Item) : undefined;
    } catch (error) {
      throw translateAwsError('DynamoDB', error);
    }
  }

  async getMany(volumeIds: readonly string[]): Promise<Map<string, Volume>> {
    // BatchGetItem refuses a key asked twice.
    const keys = [...new Set(volumeIds)].map((volumeId) => ({ volumeId }));
    const items = await batchGetItems(this.documents, this.tableName, keys);
    return new Map(items.map((item) => [String(item.volumeId), toVolume(item)]));
  }

  async list(limit: number, cursor?: string): Promise<VolumePage> {
    const exclusiveStartKey = cursor === undefined ? undefined : decodeCursor(cursor);
    const volumes: Volume[] = [];
    let startKey = exclusiveStartKey;
    try {
      // A Scan page may come back short of `limit`; keep reading so a page is full unless it is the last.
      do {
        const page = await this.documents.send(
          new ScanCommand({
            TableName: this.tableName,
            Limit: limit - volumes.length,
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        );
        for (const item of page.Items ?? []) volumes.push(toVolume(item));
        startKey = page.LastEvaluatedKey;
      } while (startKey && volumes.length < limit);
    } catch (error) {
      throw translateAwsError('DynamoDB', error);
    }
    return startKey ? { volumes, nextCursor: encodeCursor(startKey) } : { volumes };
  }

  async transition(volumeId: string, from: readonly VolumeState[], to: VolumeState, now: Date): Promise<Volume> {
    const allowed = Object.fromEntries(from.map((state, i) => [`:from${i}`, state]));
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { volumeId },
          UpdateExpression: 'SET #state = :to, updatedAt = :now',
          ConditionExpression: `attribute_exists(volumeId) AND #state IN (${Object.keys(allowed).join(', ')})`,
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ...allowed, ':to': to, ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toVolume(Attributes ?? {});
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw translateAwsError('DynamoDB', error);
      // dynalite ignores ReturnValuesOnConditionCheckFailure, so read the item to say why.
      const current = await this.get(volumeId);
      if (!current) throw new VolumeNotFoundError(volumeId);
      throw new VolumeStateError(volumeId, current.state, `move it to ${to}`);
    }
  }

  async addHold(volumeId: string, snapshotId: string): Promise<void> {
    await this.holdUpdate('ADD', volumeId, snapshotId);
  }

  async removeHold(volumeId: string, snapshotId: string): Promise<void> {
    await this.holdUpdate('DELETE', volumeId, snapshotId);
  }

  private async holdUpdate(action: 'ADD' | 'DELETE', volumeId: string, snapshotId: string): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { volumeId },
          UpdateExpression: `${action} snapshotHolds :id`,
          ConditionExpression: 'attribute_exists(volumeId)',
          ExpressionAttributeValues: { ':id': new Set([snapshotId]) },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new VolumeNotFoundError(volumeId);
      throw translateAwsError('DynamoDB', error);
    }
  }

  async holds(volumeId: string): Promise<string[]> {
    try {
      const { Item } = await this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: { volumeId }, ConsistentRead: true, ProjectionExpression: 'snapshotHolds' }),
      );
      return holdsOf(Item);
    } catch (error) {
      throw translateAwsError('DynamoDB', error);
    }
  }

  async getWithHolds(volumeId: string): Promise<{ volume: Volume; holds: string[] } | undefined> {
    try {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: { volumeId }, ConsistentRead: true }));
      return Item ? { volume: toVolume(Item), holds: holdsOf(Item) } : undefined;
    } catch (error) {
      throw translateAwsError('DynamoDB', error);
    }
  }

  async remove(volumeId: string): Promise<void> {
    try {
      await this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: { volumeId } }));
    } catch (error) {
      throw translateAwsError('DynamoDB', error);
    }
  }
}
