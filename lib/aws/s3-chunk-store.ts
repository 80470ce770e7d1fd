import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { asBuffer, signWithPayloadDigest } from './s3-bodies.js';
import type { SledBandwidth } from '../sleds/bandwidth.js';
import type { ChunkLocation, ChunkStore, ListedChunk } from '../sleds/ports.js';
import { ChunkGoneError } from '../errors.js';
import { callAws, isNoSuchKey, translateAwsError } from './aws-errors.js';
import { modifiedAt } from './s3-bodies.js';

const hexToBase64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const base64ToHex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

/** DeleteObjects takes at most 1000 keys. */
const DELETE_BATCH = 1000;
const DELETE_CONCURRENCY = 16;

const s3 = <T>(call: () => Promise<T>): Promise<T> => callAws('S3', call);

/** Chunk objects in the sled buckets, with the optional sled bandwidth model applied. */
export class S3ChunkStore implements ChunkStore {
  constructor(
    private readonly client: S3Client,
    private readonly sledBuckets: readonly string[],
    private readonly bandwidth?: SledBandwidth,
  ) {}

  private bucket(sled: number): string {
    const bucket = this.sledBuckets[sled];
    if (!bucket) throw new Error(`sled ${sled} is not configured (${this.sledBuckets.length} sleds)`);
    return bucket;
  }

  async put(at: ChunkLocation, data: Buffer, sha256: string): Promise<void> {
    await this.bandwidth?.transfer(undefined, at.sled, data.length);
    await s3(() =>
      this.client.send(
        signWithPayloadDigest(
          new PutObjectCommand({
            Bucket: this.bucket(at.sled),
            Key: at.key,
            Body: data,
            ContentLength: data.length,
            ChecksumSHA256: hexToBase64(sha256),
          }),
          sha256,
        ),
      ),
    );
  }

  async read(at: ChunkLocation, start: number, length: number): Promise<Buffer> {
    await this.bandwidth?.transfer(at.sled, undefined, length);
    const object = await s3(() =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket(at.sled), Key: at.key, Range: `bytes=${start}-${start + length - 1}` })),
    ).catch((error: unknown) => {
      // A flush collected this version since the view named it: the domain's word for S3's NoSuchKey.
      throw isNoSuchKey(error) ? new ChunkGoneError(at.key, { cause: error }) : error;
    });
    const bytes = asBuffer(await object.Body!.transformToByteArray());
    if (bytes.length !== length) throw new Error(`chunk ${at.key} returned ${bytes.length} bytes for a ${length}-byte range`);
    return bytes;
  }

  async copy(from: ChunkLocation, to: ChunkLocation, bytes: number): Promise<string | undefined> {
    // A server-side copy streams its bytes while the sled works on it: with the bandwidth model
    // on, the copy takes the longer of its time on the links and the store's own time, not both.
    const [, result] = await Promise.all([this.bandwidth?.transfer(from.sled, to.sled, bytes), this.copyObject(from, to)]);
    const sha256 = result.CopyObjectResult?.ChecksumSHA256;
    return sha256 ? base64ToHex(sha256) : undefined;
  }

  private copyObject(from: ChunkLocation, to: ChunkLocation) {
    return s3(() =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket(to.sled),
          Key: to.key,
          CopySource: `${this.bucket(from.sled)}/${from.key.split('/').map(encodeURIComponent).join('/')}`,
          // S3 computes the SHA-256 of the copy and answers with it, so the job checks what is
          // stored, not what was meant, without asking again.
          ChecksumAlgorithm: 'SHA256',
        }),
      ),
    ).catch((error: unknown) => {
      // The source is gone (a swarm source target deleted mid-job): the caller may copy from elsewhere.
      throw isNoSuchKey(error) ? new ChunkGoneError(from.key, { cause: error }) : error;
    });
  }

  async sha256(at: ChunkLocation): Promise<string | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket(at.sled), Key: at.key, ChecksumMode: 'ENABLED' }));
      return head.ChecksumSHA256 ? base64ToHex(head.ChecksumSHA256) : '';
    } catch (error) {
      if (isNoSuchKey(error)) return undefined;
      throw translateAwsError('S3', error);
    }
  }

  async remove(at: ChunkLocation): Promise<void> {
    await s3(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket(at.sled), Key: at.key })));
  }

  async removeAll(locations: readonly ChunkLocation[]): Promise<number> {
    const bySled = new Map<number, string[]>();
    for (const at of locations) {
      const keys = bySled.get(at.sled);
      if (keys) keys.push(at.key);
      else bySled.set(at.sled, [at.key]);
    }
    const requests = [...bySled].flatMap(([sled, keys]) =>
      Array.from({ length: Math.ceil(keys.length / DELETE_BATCH) }, (_, i) => ({ sled, keys: keys.slice(i * DELETE_BATCH, (i + 1) * DELETE_BATCH) })),
    );
    let next = 0;
    const worker = async () => {
      for (let request = requests[next++]; request; request = requests[next++]) {
        const { sled, keys } = request;
        const result = await s3(() =>
          this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket(sled), Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })),
        );
        const refused = result.Errors?.[0];
        if (refused) throw new Error(`S3 refused to delete ${refused.Key ?? 'an object'} on sled ${sled}: ${refused.Code ?? ''} ${refused.Message ?? ''}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, requests.length) }, worker));
    return locations.length;
  }

  async list(prefix: string): Promise<ListedChunk[]> {
    const pages = await Promise.all(
      this.sledBuckets.map(async (Bucket, sled) => {
        const found: ListedChunk[] = [];
        let token: string | undefined;
        do {
          const page = await s3(() => this.client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token })));
          for (const object of page.Contents ?? []) {
            if (object.Key) found.push({ sled, key: object.Key, modifiedAt: modifiedAt(object.LastModified) });
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return found;
      }),
    );
    return pages.flat();
  }

  async removePrefix(prefix: string): Promise<number> {
    return this.removeAll(await this.list(prefix));
  }
}
