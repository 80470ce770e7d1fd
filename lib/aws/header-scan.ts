import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../errors.js';
import { callAws } from './aws-errors.js';

/** A table whose items share a partition key with a sort key, one of them (`sk = header`) the record itself. */
export interface HeaderTable {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** The partition key's name (`snapshotId`, `jobId`). */
  readonly idName: string;
  /** The sort key value of the header items. */
  readonly header: string;
}

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, idName: string): Record<string, unknown> {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const { [idName]: id, sk } = (key ?? {}) as Record<string, unknown>;
    if (typeof id === 'string' && typeof sk === 'string') return { [idName]: id, sk };
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError('nextToken is not one this service issued');
}

/**
 * Up to `limit` header items, in no particular order (a table scan: for listings, not hot
 * paths), and a cursor unless the table ends. A filtered Scan page may come back short or
 * empty, so this keeps reading until the page is full or the table ends. Throws
 * ValidationError for a cursor it did not issue.
 */
export async function scanHeaders(table: HeaderTable, limit: number, cursor?: string): Promise<{ items: Record<string, unknown>[]; nextCursor?: string }> {
  const items: Record<string, unknown>[] = [];
  let startKey = cursor === undefined ? undefined : decodeCursor(cursor, table.idName);
  do {
    const page = await callAws('DynamoDB', () =>
      table.documents.send(
        new ScanCommand({
          TableName: table.tableName,
          Limit: Math.max(limit - items.length, 1) * 4,
          FilterExpression: 'sk = :header',
          ExpressionAttributeValues: { ':header': table.header },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      ),
    );
    for (const item of page.Items ?? []) {
      if (items.length < limit) items.push(item);
      else break;
    }
    startKey = page.LastEvaluatedKey;
    if (items.length >= limit) {
      // Resume after the last header returned, not after the scanned page.
      const last = items[items.length - 1];
      startKey = last ? { [table.idName]: last[table.idName], sk: table.header } : startKey;
      break;
    }
  } while (startKey);
  return startKey ? { items, nextCursor: encodeCursor(startKey) } : { items };
}
