import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ChunkMap, ChunkMapStore, LogRef } from '../notes/ports.js';
import { isConditionalCheckFailed, translateAwsError } from './aws-errors.js';
import { batchGetItems } from './batch-get.js';
import { dynamo, PartitionsTable } from './dynamodb-partitions-table.js';
import { chunkMapItem, chunkMapKey, chunkMapOf } from './partitions-table-schema.js';

/** BatchGetItem refuses a key asked twice. */
const logKey = (log: LogRef): string => `${log.volumeId}#${log.partition}#${log.replicaId}`;

/** Chunk maps: one item per replica, under the same key as its log, so dropping a replica drops both. */
export class DynamoDbChunkMapStore extends PartitionsTable implements ChunkMapStore {
  async get(log: LogRef): Promise<ChunkMap | undefined> {
    const { Item } = await dynamo(() =>
      this.documents.send(new GetCommand({ TableName: this.tableName, Key: chunkMapKey(log), ConsistentRead: true })),
    );
    if (!Item) return undefined;
    return chunkMapOf(Item);
  }

  async getMany(logs: readonly LogRef[]): Promise<ChunkMap[]> {
    const keys = new Map(logs.map((log) => [logKey(log), chunkMapKey(log)]));
    return (await batchGetItems(this.documents, this.tableName, [...keys.values()].map((key) => ({ ...key })))).map(chunkMapOf);
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
