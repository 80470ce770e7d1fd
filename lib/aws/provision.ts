import {
  CreateTableCommand,
  DescribeTableCommand,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { ServiceConfig } from '../config.js';
import {
  ABORT_INCOMPLETE_UPLOAD_DAYS,
  QUEUES,
  TABLES,
  deadLetterQueueName,
  localSledBucketName,
  type KeyAttribute,
  type QueueDefinition,
  type TableDefinition,
} from '../resources.js';
import type { AwsClients } from './clients.js';

const DAY_SECONDS = 24 * 60 * 60;

function keys(partitionKey: KeyAttribute, sortKey?: KeyAttribute): KeySchemaElement[] {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : []),
  ];
}

function tableSchema(table: TableDefinition): Pick<CreateTableCommandInput, 'KeySchema' | 'AttributeDefinitions' | 'GlobalSecondaryIndexes'> {
  const attributes = new Map<string, KeyAttribute>();
  for (const attribute of [table.partitionKey, table.sortKey, ...(table.indexes ?? []).flatMap((i) => [i.partitionKey, i.sortKey])]) {
    if (attribute) attributes.set(attribute.name, attribute);
  }
  const AttributeDefinitions: AttributeDefinition[] = [...attributes.values()].map((a) => ({ AttributeName: a.name, AttributeType: a.type }));
  const GlobalSecondaryIndexes = (table.indexes ?? []).map((index) => ({
    IndexName: index.name,
    KeySchema: keys(index.partitionKey, index.sortKey),
    Projection: { ProjectionType: 'KEYS_ONLY' as const },
  }));
  return {
    KeySchema: keys(table.partitionKey, table.sortKey),
    AttributeDefinitions,
    ...(GlobalSecondaryIndexes.length > 0 ? { GlobalSecondaryIndexes } : {}),
  };
}

async function ensureTable(clients: AwsClients, table: TableDefinition): Promise<string> {
  try {
    await clients.dynamodb.send(
      new CreateTableCommand({ TableName: table.localName, BillingMode: 'PAY_PER_REQUEST', ...tableSchema(table) }),
    );
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
  // Tables start CREATING; wait until ACTIVE so the first request does not fail.
  for (let i = 0; i < 200; i++) {
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: table.localName }));
    if (Table?.TableStatus === 'ACTIVE') return table.localName;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`table ${table.localName} did not become ACTIVE`);
}

async function ensureQueue(clients: AwsClients, queue: QueueDefinition): Promise<string> {
  const dlq = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: deadLetterQueueName(queue),
      Attributes: { MessageRetentionPeriod: String(queue.deadLetterRetentionDays * DAY_SECONDS) },
    }),
  );
  const dlqAttributes = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const created = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: queue.localName,
      Attributes: {
        VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(queue.retentionDays * DAY_SECONDS),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqAttributes.Attributes?.QueueArn,
          maxReceiveCount: queue.maxReceiveCount,
        }),
      },
    }),
  );
  if (!created.QueueUrl) throw new Error(`queue ${queue.localName} has no URL`);
  return created.QueueUrl;
}

async function ensureBucket(clients: AwsClients, bucket: string): Promise<void> {
  try {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
  await clients.s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: {
        Rules: [
          {
            ID: 'abort-incomplete-uploads',
            Status: 'Enabled',
            Filter: { Prefix: '' },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: ABORT_INCOMPLETE_UPLOAD_DAYS },
          },
        ],
      },
    }),
  );
}

/**
 * Creates (or finds) the stateful resources described in `lib/resources.ts` under their local
 * names, and returns the names and URLs the service needs. Idempotent: a restart reuses them.
 */
export async function provisionLocalResources(
  clients: AwsClients,
  options: { sledCount: number; region: string },
): Promise<Pick<ServiceConfig, 'tables' | 'sledBuckets' | 'queues'>> {
  const sledBuckets = Array.from({ length: options.sledCount }, (_, i) => localSledBucketName(i));
  const [volumes, partitions, snapshots, copyJobs] = await Promise.all([
    ensureTable(clients, TABLES.volumes),
    ensureTable(clients, TABLES.partitions),
    ensureTable(clients, TABLES.snapshots),
    ensureTable(clients, TABLES.copyJobs),
  ]);
  const [flush, snapshot, copy] = await Promise.all([
    ensureQueue(clients, QUEUES.flush),
    ensureQueue(clients, QUEUES.snapshot),
    ensureQueue(clients, QUEUES.copy),
  ]);
  await Promise.all(sledBuckets.map((bucket) => ensureBucket(clients, bucket)));
  return { tables: { volumes, partitions, snapshots, copyJobs }, sledBuckets, queues: { flush, snapshot, copy } };
}
