import { createHash } from 'node:crypto';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CopyObjectCommand, CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../../lib/local/emulators.js';

// First in the file: no emulator of another test has listened on this thread yet.
describe('the emulators on threads of their own', () => {
  let emulators: Emulators | undefined;

  afterAll(async () => {
    await emulators?.stop();
  });

  const listeningHere = () => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap').length;

  it('serve S3, SQS and DynamoDB from other threads, and stop', async () => {
    const before = listeningHere();
    emulators = await startEmulators({ region: 'us-east-1', threads: true });
    expect(listeningHere()).toBe(before);
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const s3 = new S3Client({ endpoint: emulators.s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
    const dynamodb = new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: 'us-east-1', credentials });
    const sqs = new SQSClient({ endpoint: emulators.sqsEndpoint, region: 'us-east-1', credentials });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'threaded' }));
      await s3.send(new PutObjectCommand({ Bucket: 'threaded', Key: 'k', Body: 'bytes' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'threaded', Key: 'k' }));
      expect(await got.Body?.transformToString()).toBe('bytes');
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'threaded' }));
      expect(QueueUrl).toContain('threaded');
      const { TableNames } = await dynamodb.send(new ListTablesCommand({}));
      expect(TableNames).toEqual([]);
      // The threads answer for themselves (a bench counts their CPU and settles their heaps).
      expect(await emulators.threads?.cpuMs()).toBeGreaterThan(0);
      await expect(emulators.threads?.collectGarbage()).resolves.toBeUndefined();
    } finally {
      for (const client of [s3, dynamodb, sqs]) client.destroy();
    }
    await emulators.stop();
    await expect(fetch(emulators.dynamodbEndpoint)).rejects.toThrow();
    await expect(fetch(emulators.s3Endpoint)).rejects.toThrow();
    emulators = undefined;
  });
});

describe('the embedded S3 answers like S3', () => {
  let emulators: Emulators;
  let s3: S3Client;

  beforeAll(async () => {
    emulators = await startEmulators({ region: 'us-east-1' });
    s3 = new S3Client({
      endpoint: emulators.s3Endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'checksums' }));
  });

  afterAll(async () => {
    s3.destroy();
    await emulators.stop();
  });

  // scripts/patch-emulators.mjs (postinstall) adds the checksum to fauxqs's CopyObject answer.
  it('answers CopyObject with the SHA-256 of the new object, the one HeadObject reports', async () => {
    const body = Buffer.from('a chunk of a sled, copied server-side');
    const sha256 = createHash('sha256').update(body).digest('base64');
    await s3.send(new PutObjectCommand({ Bucket: 'checksums', Key: 'from', Body: body, ChecksumSHA256: sha256 }));
    const copied = await s3.send(
      new CopyObjectCommand({ Bucket: 'checksums', Key: 'to', CopySource: 'checksums/from', ChecksumAlgorithm: 'SHA256' }),
    );
    expect(copied.CopyObjectResult?.ChecksumSHA256).toBe(sha256);
    expect(copied.CopyObjectResult?.ChecksumType).toBe('FULL_OBJECT');
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'checksums', Key: 'to', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumSHA256).toBe(sha256);
  });
});
