import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '../shared/concurrency.js';
import { callAws } from './aws-errors.js';

/** BatchGetItem takes at most 100 keys; a few batches go at once. */
const BATCH_GET_KEYS = 100;
const BATCH_GETS_IN_FLIGHT = 4;

/**
 * The items with these keys, read consistently, 100 per BatchGetItem and a few requests at once,
 * in no particular order; a key with no item yields nothing. The keys must be distinct:
 * BatchGetItem refuses a key asked twice.
 */
export async function batchGetItems(
  documents: DynamoDBDocumentClient,
  tableName: string,
  keys: ReadonlyArray<Record<string, unknown>>,
  projection?: string,
): Promise<Array<Record<string, unknown>>> {
  const batches: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) batches.push(keys.slice(i, i + BATCH_GET_KEYS));
  const found: Array<Record<string, unknown>> = [];
  await mapLimit(batches, BATCH_GETS_IN_FLIGHT, async (batch) => {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
      const answer = await callAws('DynamoDB', () =>
        documents.send(
          new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true, ...(projection ? { ProjectionExpression: projection } : {}) } } }),
        ),
      );
      found.push(...(answer.Responses?.[tableName] ?? []));
      // Under load BatchGetItem may answer only part of a batch: ask again for the rest.
      pending = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as Array<Record<string, unknown>>;
    }
  });
  return found;
}
