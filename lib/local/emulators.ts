import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';

export interface Emulators {
  /** fauxqs serves S3 and SQS on one port. */
  readonly s3Endpoint: string;
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs (S3, SQS) and dynalite (DynamoDB) on free loopback ports. With `dataDir`,
 * objects are plain files, queues live in SQLite and tables in LevelDB, so a restart keeps
 * everything; without it, all is in memory.
 */
export async function startEmulators(options: { dataDir?: string; region: string }): Promise<Emulators> {
  const { dataDir } = options;
  if (dataDir) {
    await Promise.all(['s3', 'sqs', 'dynamodb'].map((part) => mkdir(join(dataDir, part), { recursive: true })));
  }
  const fauxqs = await startFauxqs({
    port: 0,
    logger: false,
    defaultRegion: options.region,
    ...(dataDir ? { dataDir: join(dataDir, 'sqs'), s3StorageDir: join(dataDir, 's3') } : {}),
  });
  const dynamo = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir ? { path: join(dataDir, 'dynamodb') } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      dynamo.once('error', reject);
      dynamo.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    await fauxqs.stop();
    throw error;
  }
  const dynamoPort = (dynamo.address() as AddressInfo).port;
  const fauxqsEndpoint = `http://127.0.0.1:${fauxqs.port}`;
  return {
    s3Endpoint: fauxqsEndpoint,
    sqsEndpoint: fauxqsEndpoint,
    dynamodbEndpoint: `http://127.0.0.1:${dynamoPort}`,
    async stop() {
      dynamo.closeAllConnections();
      await Promise.all([
        fauxqs.stop(),
        new Promise<void>((resolve) => dynamo.close(() => resolve())),
      ]);
    },
  };
}
