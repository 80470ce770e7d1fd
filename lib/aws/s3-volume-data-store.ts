import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { VolumeDataStore } from '../volumes/ports.js';
import { volumeKeyPrefix } from '../volumes/volume.js';
import { translateAwsError } from './aws-errors.js';

/** Volume objects spread over the sled buckets, all under `volumes/{volumeId}/`. */
export class S3VolumeDataStore implements VolumeDataStore {
  constructor(
    private readonly s3: S3Client,
    private readonly sledBuckets: readonly string[],
  ) {}

  async removeVolumeData(volumeId: string): Promise<number> {
    const counts = await Promise.all(this.sledBuckets.map((bucket) => this.removePrefix(bucket, volumeKeyPrefix(volumeId))));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  private async removePrefix(bucket: string, prefix: string): Promise<number> {
    let removed = 0;
    try {
      // Deleting while listing would shift pages; the continuation token is stable, so list then delete each page.
      let token: string | undefined;
      do {
        const page = await this.s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }),
        );
        const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
        if (keys.length > 0) {
          const result = await this.s3.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }),
          );
          if (result.Errors && result.Errors.length > 0) {
            const first = result.Errors[0];
            throw new Error(`S3 refused to delete ${first?.Key ?? 'an object'}: ${first?.Code ?? ''} ${first?.Message ?? ''}`);
          }
          removed += keys.length;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw translateAwsError('S3', error);
    }
    return removed;
  }
}
