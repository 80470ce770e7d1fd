import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { ServiceConfig } from '../config.js';
import type { HealthProbe } from '../volumes/ports.js';
import type { AwsClients } from './clients.js';

/** One probe per backing service; each touches every resource of that service the config names. */
export function createHealthProbes(clients: AwsClients, config: ServiceConfig): HealthProbe[] {
  return [
    {
      name: 's3',
      async check() {
        await Promise.all(config.sledBuckets.map((Bucket) => clients.s3.send(new HeadBucketCommand({ Bucket }))));
      },
    },
    {
      name: 'dynamodb',
      async check() {
        await Promise.all(
          Object.values(config.tables).map(async (TableName) => {
            const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName }));
            if (Table?.TableStatus !== 'ACTIVE') throw new Error(`table ${TableName} is ${Table?.TableStatus}`);
          }),
        );
      },
    },
    {
      name: 'sqs',
      async check() {
        await Promise.all(
          Object.values(config.queues).map((QueueUrl) =>
            clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] })),
          ),
        );
      },
    },
  ];
}
