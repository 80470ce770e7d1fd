import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConcurrentModificationError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import type { NewPartition, NewPartitionWriter, PartitionMeta, PartitionMetaStore } from '../notes/ports.js';
import { logRef } from '../notes/ports.js';
import { isConditionalCheckFailed, translateAwsError } from './aws-errors.js';
import { batchGetItems } from './batch-get.js';
import { deleteKeys, dynamo, PartitionsTable, putItems } from './dynamodb-partitions-table.js';
import {
  BY_VOLUME_INDEX,
  CHUNKS_SK,
  IDEMPOTENCY_SK,
  META_SK,
  chunkMapItem,
  logPk,
  metaItem,
  metaKey,
  partitionMetaOf,
  partitionOfPk,
  partitionPk,
} from './partitions-table-schema.js';

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

  async getMany(keys: ReadonlyArray<{ readonly volumeId: string; readonly partition: number }>): Promise<PartitionMeta[]> {
    // BatchGetItem refuses a key asked twice.
    const unique = new Map(keys.map(({ volumeId, partition }) => [`${volumeId}#${partition}`, metaKey(volumeId, partition)]));
    return (await batchGetItems(this.documents, this.tableName, [...unique.values()].map((key) => ({ ...key })))).map(partitionMetaOf);
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
