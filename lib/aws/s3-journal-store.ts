import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { asBuffer, modifiedAt, signWithPayloadDigest } from './s3-bodies.js';
import type { JournalStore, LogRef, NotePart } from '../notes/ports.js';
import { mapLimit } from '../shared/concurrency.js';
import { volumeKeyPrefix } from '../volumes/volume.js';
import { NoteGoneError } from '../errors.js';
import { isNoSuchKey, translateAwsError } from './aws-errors.js';

/** Prefix of one replica's journal on its sled. */
export function journalPrefix(log: LogRef): string {
  return `${volumeKeyPrefix(log.volumeId)}journal/${log.partition}/${log.replicaId}/`;
}

/** Ranged GETs in flight per readMany, and CopyObjects per copyAll. */
const READ_CONCURRENCY = 16;
const COPY_CONCURRENCY = 16;

/** Note payloads: one immutable object per note on the replica's journal sled. */
export class S3JournalStore implements JournalStore {
  constructor(
    private readonly s3: S3Client,
    private readonly sledBuckets: readonly string[],
  ) {}

  private bucket(sled: number): string {
    const bucket = this.sledBuckets[sled];
    if (!bucket) throw new Error(`sled ${sled} is not configured (${this.sledBuckets.length} sleds)`);
    return bucket;
  }

  async put(sled: number, log: LogRef, noteId: string, payload: Buffer, meta: { offset: number; sha256: string }): Promise<void> {
    try {
      await this.s3.send(
        signWithPayloadDigest(
          new PutObjectCommand({
            Bucket: this.bucket(sled),
            Key: `${journalPrefix(log)}${noteId}`,
            Body: payload,
            ContentLength: payload.length,
            ContentType: 'application/octet-stream',
            // S3 verifies the body against our digest, so a note is never stored torn.
            ChecksumSHA256: Buffer.from(meta.sha256, 'hex').toString('base64'),
            Metadata: { offset: String(meta.offset), sha256: meta.sha256 },
          }),
          meta.sha256,
        ),
      );
    } catch (error) {
      throw translateAwsError('S3', error);
    }
  }

  async read(sled: number, log: LogRef, noteId: string, start: number, length: number): Promise<Buffer> {
    try {
      const object = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.bucket(sled),
          Key: `${journalPrefix(log)}${noteId}`,
          Range: `bytes=${start}-${start + length - 1}`,
        }),
      );
      const bytes = asBuffer(await object.Body!.transformToByteArray());
      if (bytes.length !== length) {
        throw new Error(`note ${noteId} returned ${bytes.length} bytes for a ${length}-byte range`);
      }
      return bytes;
    } catch (error) {
      if (isNoSuchKey(error)) throw new NoteGoneError(noteId, `the journal on sled ${sled}`, { cause: error });
      throw translateAwsError('S3', error);
    }
  }

  /** One ranged GET per part: S3 has no batched read. */
  readMany(sled: number, log: LogRef, parts: readonly NotePart[]): Promise<Buffer[]> {
    return mapLimit(parts, READ_CONCURRENCY, (part) => this.read(sled, log, part.noteId, part.start, part.length));
  }

  async remove(sled: number, log: LogRef, noteIds: readonly string[]): Promise<void> {
    const prefix = journalPrefix(log);
    try {
      for (let i = 0; i < noteIds.length; i += 1000) {
        const Objects = noteIds.slice(i, i + 1000).map((noteId) => ({ Key: `${prefix}${noteId}` }));
        await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket(sled), Delete: { Objects, Quiet: true } }));
      }
    } catch (error) {
      throw translateAwsError('S3', error);
    }
  }

  async copyAll(from: { sled: number; log: LogRef }, to: { sled: number; log: LogRef }, noteIds: readonly string[]): Promise<void> {
    await mapLimit(noteIds, COPY_CONCURRENCY, (noteId) => this.copyObject(from, noteId, { sled: to.sled, key: `${journalPrefix(to.log)}${noteId}` }));
  }

  async copyToChunk(from: { sled: number; log: LogRef }, noteId: string, to: { sled: number; key: string }): Promise<void> {
    await this.copyObject(from, noteId, to);
  }

  private async copyObject(from: { sled: number; log: LogRef }, noteId: string, to: { sled: number; key: string }): Promise<void> {
    const source = `${journalPrefix(from.log)}${noteId}`;
    try {
      await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.bucket(to.sled),
          Key: to.key,
          CopySource: `${this.bucket(from.sled)}/${source.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
    } catch (error) {
      throw translateAwsError('S3', error);
    }
  }

  async drop(sled: number, log: LogRef): Promise<void> {
    await this.remove(sled, log, await this.list(sled, log));
  }

  async list(sled: number, log: LogRef): Promise<string[]> {
    return (await this.listWithTimes(sled, log)).map((note) => note.noteId);
  }

  async listWithTimes(sled: number, log: LogRef): Promise<Array<{ noteId: string; modifiedAt: number }>> {
    const prefix = journalPrefix(log);
    const notes: Array<{ noteId: string; modifiedAt: number }> = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.s3.send(
          new ListObjectsV2Command({ Bucket: this.bucket(sled), Prefix: prefix, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key) notes.push({ noteId: object.Key.slice(prefix.length), modifiedAt: modifiedAt(object.LastModified) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw translateAwsError('S3', error);
    }
    return notes;
  }
}
