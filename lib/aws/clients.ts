import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { ServiceConfig } from '../config.js';

export interface AwsClients {
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  /** Closes every client's sockets. */
  destroy(): void;
}

/** Emulators accept any credentials; real endpoints use the default provider chain. */
const EMULATOR_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Chunk traffic runs many requests in parallel; the SDK's default of 50 sockets throttles it. */
const MAX_SOCKETS = 256;

/** Builds every AWS client once, from config. Adapters receive these; they never build their own. */
export function createAwsClients(config: ServiceConfig): AwsClients {
  const requestHandler = {
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
  };
  const common = (endpoint: string | undefined) => ({
    region: config.region,
    requestHandler,
    maxAttempts: 5,
    retryMode: 'adaptive' as const,
    ...(endpoint
      ? { endpoint, credentials: process.env.AWS_ACCESS_KEY_ID ? undefined : EMULATOR_CREDENTIALS }
      : {}),
  });
  const s3 = new S3Client({ ...common(config.endpoints.s3), forcePathStyle: config.endpoints.s3 !== undefined });
  const dynamodb = new DynamoDBClient(common(config.endpoints.dynamodb));
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  // Emulator queue URLs name hosts such as sqs.us-east-1.localhost; send to the endpoint instead.
  const sqs = new SQSClient({
    ...common(config.endpoints.sqs),
    ...(config.endpoints.sqs ? { useQueueUrlAsEndpoint: false } : {}),
  });
  const sfn = new SFNClient(common(config.endpoints.sfn));
  return {
    s3,
    dynamodb,
    documents,
    sqs,
    sfn,
    destroy() {
      for (const client of [s3, dynamodb, sqs, sfn]) client.destroy();
      requestHandler.httpAgent.destroy();
      requestHandler.httpsAgent.destroy();
    },
  };
}
