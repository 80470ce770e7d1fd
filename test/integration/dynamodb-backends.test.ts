import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ExecuteStatementCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamodbBackend } from '../../lib/config.js';
import { startDynamodbLocal } from '../../lib/local/dynamodb-local.js';
import { startEmulator, type RunningEmulator } from '../../lib/local/emulators.js';
import { isLoopbackHost } from '../../lib/local/listening.js';
import { canRunDynamodbLocal } from '../support/java.js';
import { listeningSocketsOf } from '../support/sockets.js';

/**
 * The same SDK calls against dynalite and DynamoDB Local: the behaviours Sleds relies on must be
 * the same on both, and the known differences (docs/dynamodb-backends.md) are asserted as they
 * are, so that a new release of either that changes one is noticed.
 */
const TABLE = 'differential';
const KB = 1024;

type Outcome = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly name: string; readonly message: string; readonly item?: unknown };

async function outcome(call: Promise<object>): Promise<Outcome> {
  try {
    const { $metadata: _metadata, ...value } = (await call) as Record<string, unknown>;
    return { ok: true, value };
  } catch (error) {
    const { name, message, Item } = error as Error & { Item?: unknown };
    return { ok: false, name, message, ...(Item === undefined ? {} : { item: Item }) };
  }
}
const failure = (name: string) => expect.objectContaining({ ok: false, name });

const key = (pk: string, sk: string): Record<string, AttributeValue> => ({ pk: { S: pk }, sk: { S: sk } });
const keys = (pk: string, count: number) => Array.from({ length: count }, (_, i) => key(pk, String(i).padStart(4, '0')));

describe.skipIf(!canRunDynamodbLocal())('dynalite and DynamoDB Local, side by side', () => {
  const clients = new Map<DynamodbBackend, DynamoDBClient>();
  const running: RunningEmulator[] = [];
  let localPid = 0;

  beforeAll(async () => {
    const [dynalite, local] = await Promise.all([startEmulator('dynalite', { region: 'us-east-1' }), startDynamodbLocal()]);
    running.push(dynalite, local);
    localPid = local.pid;
    for (const [backend, endpoint] of [['dynalite', dynalite.endpoint], ['dynamodb-local', local.endpoint]] as const) {
      // One attempt: a retry must not hide what the backend answered first.
      const client = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
      clients.set(backend, client);
      await client.send(
        new CreateTableCommand({
          TableName: TABLE,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
            { AttributeName: 'volumeId', AttributeType: 'S' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: 'byVolume',
              KeySchema: [
                { AttributeName: 'volumeId', KeyType: 'HASH' },
                { AttributeName: 'sk', KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'KEYS_ONLY' },
            },
          ],
        }),
      );
      for (let i = 0; ; i++) {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE }));
        if (Table?.TableStatus === 'ACTIVE') break;
        if (i > 200) throw new Error(`${backend}: table not ACTIVE`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }, 180_000);

  afterAll(async () => {
    for (const client of clients.values()) client.destroy();
    await Promise.all(running.map((emulator) => emulator.stop()));
  });

  /** Runs `call` against each backend in turn; the outcomes, by backend. */
  async function onBoth(call: (client: DynamoDBClient) => Promise<object>): Promise<Record<DynamodbBackend, Outcome>> {
    const dynalite = await outcome(call(clients.get('dynalite')!));
    const local = await outcome(call(clients.get('dynamodb-local')!));
    return { dynalite, 'dynamodb-local': local };
  }
  /** Both backends answer alike, and that answer is `expected`. */
  async function same(call: (client: DynamoDBClient) => Promise<object>, expected: unknown): Promise<void> {
    const outcomes = await onBoth(call);
    expect(outcomes.dynalite).toEqual(expected);
    expect(outcomes['dynamodb-local']).toEqual(expected);
  }

  it('DynamoDB Local listens on loopback only', () => {
    const sockets = listeningSocketsOf(localPid);
    expect(sockets.length).toBeGreaterThan(0);
    expect(sockets.filter((socket) => !isLoopbackHost(socket.address))).toEqual([]);
  });

  describe('what Sleds relies on, the same on both', () => {
    it('attribute_not_exists: the first put wins, the second fails with ConditionalCheckFailedException', async () => {
      const put = (client: DynamoDBClient) =>
        client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('log', 'op#1'), n: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' }));
      await same(put, expect.objectContaining({ ok: true }));
      await same(put, failure('ConditionalCheckFailedException'));
      await same(
        (client) => client.send(new GetItemCommand({ TableName: TABLE, Key: key('log', 'op#1'), ConsistentRead: true })),
        expect.objectContaining({ ok: true, value: expect.objectContaining({ Item: { ...key('log', 'op#1'), n: { N: '1' } } }) }),
      );
    });

    it('an equality condition on an attribute: a stale value fails, the current one succeeds; a missing item fails attribute_exists', async () => {
      await same((client) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('meta', 'head'), opSeq: { N: '7' } } })), expect.objectContaining({ ok: true }));
      const advance = (prev: string) => (client: DynamoDBClient) =>
        client.send(
          new UpdateItemCommand({
            TableName: TABLE,
            Key: key('meta', 'head'),
            UpdateExpression: 'SET opSeq = :next',
            ConditionExpression: 'opSeq = :prev',
            ExpressionAttributeValues: { ':prev': { N: prev }, ':next': { N: String(Number(prev) + 1) } },
            ReturnValues: 'ALL_NEW',
          }),
        );
      await same(advance('6'), failure('ConditionalCheckFailedException'));
      await same(advance('7'), expect.objectContaining({ ok: true, value: expect.objectContaining({ Attributes: { ...key('meta', 'head'), opSeq: { N: '8' } } }) }));
      await same(
        (client) =>
          client.send(
            new UpdateItemCommand({ TableName: TABLE, Key: key('meta', 'absent'), UpdateExpression: 'SET opSeq = :n', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':n': { N: '1' } } }),
          ),
        failure('ConditionalCheckFailedException'),
      );
      await same(
        (client) => client.send(new DeleteItemCommand({ TableName: TABLE, Key: key('meta', 'absent'), ConditionExpression: 'attribute_exists(pk)' })),
        failure('ConditionalCheckFailedException'),
      );
    });

    it('BatchGetItem takes at most 100 keys and no duplicates; BatchWriteItem at most 25 requests and no duplicates (ValidationException)', async () => {
      await same((client) => client.send(new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: keys('b', 100) } } })), expect.objectContaining({ ok: true }));
      await same((client) => client.send(new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: keys('b', 101) } } })), failure('ValidationException'));
      await same((client) => client.send(new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: [...keys('b', 2), ...keys('b', 1)] } } })), failure('ValidationException'));
      const puts = (items: Array<Record<string, AttributeValue>>) => items.map((Item) => ({ PutRequest: { Item } }));
      await same((client) => client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: puts(keys('w', 25)) } })), expect.objectContaining({ ok: true }));
      await same((client) => client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: puts(keys('w', 26)) } })), failure('ValidationException'));
      await same((client) => client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: puts([...keys('w', 2), ...keys('w', 1)]) } })), failure('ValidationException'));
    });

    it('an item holds at most 400 KB: 399 KB of binary is taken, 401 KB refused (ValidationException)', async () => {
      await same((client) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('size', 'ok'), payload: { B: new Uint8Array(399 * KB) } } })), expect.objectContaining({ ok: true }));
      await same(
        (client) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('size', 'big'), payload: { B: new Uint8Array(401 * KB) } } })),
        failure('ValidationException'),
      );
    });

    it('Query pages by Limit, in either direction, and a page that ends the partition has no LastEvaluatedKey', async () => {
      await Promise.all(
        [...clients.values()].map((client) =>
          client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: keys('q', 10).map((Item) => ({ PutRequest: { Item: { ...Item, n: { N: '1' } } } })) } })),
        ),
      );
      const page = (options: { forward: boolean; limit: number; after?: string }) => async (client: DynamoDBClient) => {
        const answer = await client.send(
          new QueryCommand({
            TableName: TABLE,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: 'q' } },
            ScanIndexForward: options.forward,
            Limit: options.limit,
            ConsistentRead: true,
            ProjectionExpression: 'sk',
            ...(options.after ? { ExclusiveStartKey: key('q', options.after) } : {}),
          }),
        );
        return { sks: answer.Items?.map((item) => item.sk?.S), last: answer.LastEvaluatedKey?.sk?.S ?? null };
      };
      await same(page({ forward: false, limit: 3 }), { ok: true, value: { sks: ['0009', '0008', '0007'], last: '0007' } });
      await same(page({ forward: true, limit: 1 }), { ok: true, value: { sks: ['0000'], last: '0000' } });
      await same(page({ forward: true, limit: 5, after: '0006' }), { ok: true, value: { sks: ['0007', '0008', '0009'], last: null } });
      // A page that happens to end on the last item still says "there may be more": an empty page follows.
      await same(page({ forward: true, limit: 3, after: '0006' }), { ok: true, value: { sks: ['0007', '0008', '0009'], last: '0009' } });
      await same(page({ forward: true, limit: 3, after: '0009' }), { ok: true, value: { sks: [], last: null } });
      // Limit counts the items read, before the filter: a filter that keeps none gives an empty page that goes on.
      await same(
        async (client) => {
          const answer = await client.send(
            new QueryCommand({
              TableName: TABLE,
              KeyConditionExpression: 'pk = :pk',
              FilterExpression: 'attribute_exists(absent)',
              ExpressionAttributeValues: { ':pk': { S: 'q' } },
              Limit: 3,
              ConsistentRead: true,
            }),
          );
          return { count: answer.Count, scanned: answer.ScannedCount, last: answer.LastEvaluatedKey?.sk?.S };
        },
        { ok: true, value: { count: 0, scanned: 3, last: '0002' } },
      );
    });

    it('a Query page stops at 1 MB and says where to go on', async () => {
      await Promise.all(
        [...clients.values()].map(async (client) => {
          for (let i = 0; i < 8; i += 4) {
            const batch = keys('mb', 8).slice(i, i + 4).map((Item) => ({ PutRequest: { Item: { ...Item, payload: { B: new Uint8Array(300 * KB) } } } }));
            await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: batch } }));
          }
        }),
      );
      await same(
        async (client) => {
          const answer = await client.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'mb' } }, ConsistentRead: true }));
          return { count: answer.Count, last: answer.LastEvaluatedKey?.sk?.S };
        },
        { ok: true, value: { count: 4, last: '0003' } },
      );
    });

    it('a global secondary index: keys-only items, found by its key; no consistent reads on it; an item without its key is not in it', async () => {
      await same((client) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('part#1', 'meta'), volumeId: { S: 'vol-1' }, other: { S: 'x' } } })), expect.objectContaining({ ok: true }));
      await same((client) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('part#2', 'meta'), other: { S: 'y' } } })), expect.objectContaining({ ok: true }));
      const byVolume = (consistent: boolean) => async (client: DynamoDBClient) => {
        const answer = await client.send(
          new QueryCommand({ TableName: TABLE, IndexName: 'byVolume', KeyConditionExpression: 'volumeId = :v', ExpressionAttributeValues: { ':v': { S: 'vol-1' } }, ConsistentRead: consistent }),
        );
        return { items: answer.Items };
      };
      await same(byVolume(false), { ok: true, value: { items: [{ ...key('part#1', 'meta'), volumeId: { S: 'vol-1' } }] } });
      await same(byVolume(true), failure('ValidationException'));
    });

    it('validation: an empty string key, an unused expression value, a key of the wrong shape (ValidationException); a missing table (ResourceNotFoundException)', async () => {
      await same((client) => client.send(new PutItemCommand({ TableName: TABLE, Item: key('', 'x') })), failure('ValidationException'));
      await same((client) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('empty', 'attr'), v: { S: '' } } })), expect.objectContaining({ ok: true }));
      await same(
        (client) =>
          client.send(
            new UpdateItemCommand({ TableName: TABLE, Key: key('meta', 'head'), UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': { N: '1' }, ':unused': { N: '2' } } }),
          ),
        failure('ValidationException'),
      );
      await same((client) => client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'meta' } } })), failure('ValidationException'));
      await same((client) => client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'meta' }, sk: { N: '1' } } })), failure('ValidationException'));
      await same((client) => client.send(new GetItemCommand({ TableName: 'no-such-table', Key: key('a', 'b') })), failure('ResourceNotFoundException'));
    });

    it('a reserved word used as an attribute name through ExpressionAttributeNames is fine on both', async () => {
      await same(
        (client) =>
          client.send(
            new UpdateItemCommand({
              TableName: TABLE,
              Key: key('meta', 'head'),
              UpdateExpression: 'SET #status = :s',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':s': { S: 'ok' } },
            }),
          ),
        expect.objectContaining({ ok: true }),
      );
    });
  });

  describe('known differences (docs/dynamodb-backends.md), asserted as they are', () => {
    it('ReturnValuesOnConditionCheckFailure: DynamoDB Local returns the item with the failure, dynalite ignores it', async () => {
      await same((client) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('rv', 'x'), n: { N: '1' } } })), expect.objectContaining({ ok: true }));
      const outcomes = await onBoth((client) =>
        client.send(
          new PutItemCommand({ TableName: TABLE, Item: key('rv', 'x'), ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
        ),
      );
      expect(outcomes['dynamodb-local']).toEqual({ ok: false, name: 'ConditionalCheckFailedException', message: expect.any(String), item: { ...key('rv', 'x'), n: { N: '1' } } });
      expect(outcomes.dynalite).toEqual({ ok: false, name: 'ConditionalCheckFailedException', message: expect.any(String) });
    });

    it('transactions, TTL and PartiQL: DynamoDB Local has them, dynalite answers UnknownOperationException', async () => {
      const transact = await onBoth((client) =>
        client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName: TABLE, Item: key('tx', 'new'), ConditionExpression: 'attribute_not_exists(pk)' } },
              { Put: { TableName: TABLE, Item: key('log', 'op#1'), ConditionExpression: 'attribute_not_exists(pk)' } },
            ],
          }),
        ),
      );
      expect(transact.dynalite).toEqual(failure('UnknownOperationException'));
      expect(transact['dynamodb-local']).toEqual(failure('TransactionCanceledException'));
      // Cancelled as a whole: the first put did not happen either.
      const got = await clients.get('dynamodb-local')!.send(new GetItemCommand({ TableName: TABLE, Key: key('tx', 'new'), ConsistentRead: true }));
      expect(got.Item).toBeUndefined();

      const ttl = await onBoth((client) => client.send(new UpdateTimeToLiveCommand({ TableName: TABLE, TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } })));
      expect(ttl.dynalite).toEqual(failure('UnknownOperationException'));
      expect(ttl['dynamodb-local']).toEqual(expect.objectContaining({ ok: true }));
      const described = await onBoth(async (client) => (await client.send(new DescribeTimeToLiveCommand({ TableName: TABLE }))).TimeToLiveDescription ?? {});
      expect(described.dynalite).toEqual({ ok: true, value: { TimeToLiveStatus: 'DISABLED' } });
      expect(described['dynamodb-local']).toEqual({ ok: true, value: { TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' } });

      const partiql = await onBoth((client) => client.send(new ExecuteStatementCommand({ Statement: `SELECT * FROM "${TABLE}" WHERE pk = 'log'` })));
      expect(partiql.dynalite).toEqual(failure('UnknownOperationException'));
      expect(partiql['dynamodb-local']).toEqual(expect.objectContaining({ ok: true }));
    });

    it('an empty string as a secondary-index key: DynamoDB Local refuses it (as DynamoDB does), dynalite stores it', async () => {
      const outcomes = await onBoth((client) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('gsi', 'empty'), volumeId: { S: '' } } })));
      expect(outcomes['dynamodb-local']).toEqual(failure('ValidationException'));
      expect(outcomes.dynalite).toEqual(expect.objectContaining({ ok: true }));
    });

    it('a reserved word in an expression without a placeholder: dynalite refuses it (as DynamoDB does), DynamoDB Local takes it', async () => {
      const outcomes = await onBoth((client) =>
        client.send(new UpdateItemCommand({ TableName: TABLE, Key: key('meta', 'head'), UpdateExpression: 'SET size = :n', ExpressionAttributeValues: { ':n': { N: '5' } } })),
      );
      expect(outcomes.dynalite).toEqual(failure('ValidationException'));
      expect(outcomes['dynamodb-local']).toEqual(expect.objectContaining({ ok: true }));
    });

    it('BatchGetItem stops early with UnprocessedKeys on both, but at different sizes: dynalite near 1 MB, DynamoDB Local near 16 MB', async () => {
      await Promise.all(
        [...clients.values()].map(async (client) => {
          for (let i = 0; i < 100; i += 25) {
            const batch = keys('big', 100).slice(i, i + 25).map((Item) => ({ PutRequest: { Item: { ...Item, payload: { B: new Uint8Array(300 * KB) } } } }));
            await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: batch } }));
          }
        }),
      );
      const outcomes = await onBoth(async (client) => {
        const answer = await client.send(new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: keys('big', 100), ConsistentRead: true } } }));
        return { returned: answer.Responses?.[TABLE]?.length ?? 0, unprocessed: answer.UnprocessedKeys?.[TABLE]?.Keys?.length ?? 0 };
      });
      for (const backend of ['dynalite', 'dynamodb-local'] as const) {
        const result = outcomes[backend];
        if (!result.ok) throw new Error(`${backend}: ${result.name} ${result.message}`);
        const { returned, unprocessed } = result.value as { returned: number; unprocessed: number };
        expect(returned + unprocessed).toBe(100);
        expect(unprocessed).toBeGreaterThan(0);
        // The bytes answered stay within the backend's limit for one response.
        expect(returned * 300 * KB).toBeLessThanOrEqual((backend === 'dynalite' ? 2 : 17) * KB * KB);
        if (backend === 'dynamodb-local') expect(returned).toBeGreaterThan(4);
      }
    });

    it('validation messages differ in wording (the exception names agree)', async () => {
      const outcomes = await onBoth((client) => client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: keys('w', 26).map((Item) => ({ PutRequest: { Item } })) } })));
      expect(outcomes.dynalite).toEqual(expect.objectContaining({ name: 'ValidationException', message: expect.stringContaining('Member must have length less than or equal to 25') }));
      expect(outcomes['dynamodb-local']).toEqual(expect.objectContaining({ name: 'ValidationException', message: 'Too many items requested for the BatchWriteItem call' }));
      const missing = await onBoth((client) => client.send(new GetItemCommand({ TableName: 'no-such-table', Key: key('a', 'b') })));
      expect(missing.dynalite).toEqual(expect.objectContaining({ message: 'Requested resource not found' }));
      expect(missing['dynamodb-local']).toEqual(expect.objectContaining({ message: 'Cannot do operations on a non-existent table' }));
    });
  });
});
