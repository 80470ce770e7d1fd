/**
 * The partitions table's shared plumbing: the DynamoDB call wrapper, the base class of its
 * stores (paged queries) and batched unconditional writes. The key formats and item shapes are
 * in partitions-table-schema.ts; each store (metadata, note log, chunk map, idempotency) is in
 * its own module.
 */
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '../shared/concurrency.js';
import { callAws } from './aws-errors.js';

/** Runs one DynamoDB call, turning SDK errors into Sleds errors (throttling becomes retryable). */
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

/** Deletes the items with these keys, unconditionally, in batches. */
export const deleteKeys = (documents: DynamoDBDocumentClient, tableName: string, keys: ReadonlyArray<{ pk: string; sk: string }>) =>
  batchWrite(documents, tableName, keys.map((Key) => ({ DeleteRequest: { Key } })));

/** Unconditional puts. */
export const putItems = (documents: DynamoDBDocumentClient, tableName: string, items: ReadonlyArray<Record<string, unknown>>) =>
  batchWrite(documents, tableName, items.map((Item) => ({ PutRequest: { Item } })));
