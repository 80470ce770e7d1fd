import { createHash } from 'node:crypto';
import { CopyObjectCommand, CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../../lib/local/emulators.js';

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
