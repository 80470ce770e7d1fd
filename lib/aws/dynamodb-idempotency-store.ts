import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { IdempotencyRecord, IdempotencyStore } from '../notes/ports.js';
import { isConditionalCheckFailed, translateAwsError } from './aws-errors.js';
import { dynamo, PartitionsTable } from './dynamodb-partitions-table.js';
import { idempotencyClaimItem, idempotencyKey } from './partitions-table-schema.js';

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
