import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { VerifiedChunkRecords } from '../copy-jobs/ports.js';
import { callAws, isNoSuchKey, translateAwsError } from './aws-errors.js';

const s3 = <T>(call: () => Promise<T>): Promise<T> => callAws('S3', call);

/** DeleteObjects takes at most 1000 keys. */
const DELETE_BATCH = 1000;

/** Under the job's intermediaries prefix, so a failed job's clean-up by prefix removes them too. */
export const verifiedRecordKey = (jobId: string, round: number, batch: number) => `copy-jobs/${jobId}/verified/${round}-${batch}.json`;

/** A copy batch's verified target checksums, as one JSON object per batch on the first sled (beside the plans). */
export class S3VerifiedChunkRecords implements VerifiedChunkRecords {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(jobId: string, round: number, batch: number, checksums: Readonly<Record<string, string>>): Promise<void> {
    await s3(() =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: verifiedRecordKey(jobId, round, batch),
          Body: JSON.stringify(checksums),
          ContentType: 'application/json',
        }),
      ),
    );
  }

  async get(jobId: string, round: number, batch: number): Promise<Record<string, string> | undefined> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: verifiedRecordKey(jobId, round, batch) }));
      return JSON.parse(await object.Body!.transformToString()) as Record<string, string>;
    } catch (error) {
      if (isNoSuchKey(error)) return undefined;
      throw translateAwsError('S3', error);
    }
  }

  async remove(jobId: string, batches: ReadonlyArray<{ readonly round: number; readonly batch: number }>): Promise<void> {
    const keys = batches.map(({ round, batch }) => ({ Key: verifiedRecordKey(jobId, round, batch) }));
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const result = await s3(() =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.slice(i, i + DELETE_BATCH), Quiet: true } })),
      );
      const refused = result.Errors?.[0];
      if (refused) throw new Error(`S3 refused to delete ${refused.Key ?? 'a record'}: ${refused.Code ?? ''} ${refused.Message ?? ''}`);
    }
  }
}
