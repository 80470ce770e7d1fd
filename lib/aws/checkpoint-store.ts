import { sha256Hex } from '../shared/hashing.js';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CorruptCheckpointError, type Checkpoint, type CheckpointRecord, type CheckpointStore } from '../checkpoints/checkpoint.js';
import { volumeKeyPrefix } from '../volumes/volume.js';
import { callAws, isNoSuchKey, translateAwsError } from './aws-errors.js';
import { CHECKPOINT_PREFIX, checkpointItem, checkpointKey, checkpointRecordOf, partitionPk } from './partitions-table-schema.js';


/** Checkpoint objects on a sled, recorded in the partitions table beside the partition metadata. */
export class S3DynamoDbCheckpointStore implements CheckpointStore {
  constructor(
    private readonly s3: S3Client,
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly sledBuckets: readonly string[],
  ) {}

  private bucket(sled: number): string {
    const bucket = this.sledBuckets[sled];
    if (!bucket) throw new Error(`sled ${sled} is not configured`);
    return bucket;
  }

  async write(checkpoint: Checkpoint, sled: number): Promise<CheckpointRecord> {
    const body = Buffer.from(JSON.stringify(checkpoint), 'utf8');
    const sha256 = sha256Hex(body);
    const key = `${volumeKeyPrefix(checkpoint.volumeId)}checkpoints/${checkpoint.partition}/${checkpoint.op}-${sha256.slice(0, 12)}.json`;
    const record: CheckpointRecord = {
      volumeId: checkpoint.volumeId,
      partition: checkpoint.partition,
      op: checkpoint.op,
      epoch: checkpoint.epoch,
      sled,
      key,
      sha256,
      createdAt: checkpoint.createdAt,
    };
    const bucket = this.bucket(sled);
    await callAws('S3', () => this.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' })));
    // The record is written only once the object exists: a record always points at bytes.
    await callAws('DynamoDB', () =>
      this.documents.send(
        new PutCommand({ TableName: this.tableName, Item: checkpointItem(record) }),
      ),
    );
    return record;
  }

  async list(volumeId: string, partition: number): Promise<CheckpointRecord[]> {
    try {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
          ExpressionAttributeValues: { ':pk': partitionPk(volumeId, partition), ':c': CHECKPOINT_PREFIX },
          ScanIndexForward: false,
          ConsistentRead: true,
        }),
      );
      return (page.Items ?? []).map(checkpointRecordOf);
    } catch (error) {
      throw translateAwsError('DynamoDB', error);
    }
  }

  async read(record: CheckpointRecord): Promise<Checkpoint> {
    let body: Buffer;
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket(record.sled), Key: record.key }));
      body = Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if (isNoSuchKey(error)) throw new CorruptCheckpointError(record, 'its object is missing');
      throw translateAwsError('S3', error);
    }
    const actual = sha256Hex(body);
    if (actual !== record.sha256) throw new CorruptCheckpointError(record, `SHA-256 ${actual} does not match the recorded ${record.sha256}`);
    return JSON.parse(body.toString('utf8')) as Checkpoint;
  }

  async remove(record: CheckpointRecord): Promise<void> {
    await callAws('DynamoDB', () =>
      this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: checkpointKey(record.volumeId, record.partition, record.op) })),
    );
    const bucket = this.bucket(record.sled);
    await callAws('S3', () => this.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: record.key })));
  }
}
