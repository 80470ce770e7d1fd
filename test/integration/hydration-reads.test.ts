import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { DynamoDbChunkMapStore } from '../../lib/aws/dynamodb-chunk-map-store.js';
import { DynamoDbPartitionMetaStore } from '../../lib/aws/dynamodb-partition-meta-store.js';
import { S3ChunkStore } from '../../lib/aws/s3-chunk-store.js';
import { armFailpoint } from '../../lib/faults.js';
import { logRef, type ChunkRef } from '../../lib/notes/ports.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { eventually, jobEnded, readVolume, snapshotOf } from '../support/copy-jobs.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 };
const OCTETS = { 'content-type': 'application/octet-stream' };
const BANDWIDTH = 1024 * KIB;

/**
 * Which object serves a hydrating target's reads (lib/copy-jobs/hydration-reads.ts): the
 * target's own copy of a chunk as soon as it is in place and verified, while the job still runs
 * and the maps still borrow; the snapshot's again when a failed job removed the copies. The
 * source of each chunk read is counted by sleds_hydration_reads_total, which these tests scrape.
 */
describe('hydrating targets read each chunk from their own copy once it is in place', () => {
  const cloud = useLocalCloud({ sledCount: 4, retryIntervalMs: 0, sledBandwidth: BANDWIDTH });
  let source: { volumeId: string; snapshotId: string };
  // Chunk 5 and partition 2 are zeros: not stored, never read.
  const data = Buffer.concat([pattern(320 * KIB, 1), Buffer.alloc(192 * KIB), Buffer.alloc(256 * KIB), pattern(256 * KIB, 2)]);
  const STORED_CHUNKS = Array.from({ length: data.length / GEOMETRY.chunkSizeBytes }, (_, i) =>
    data.subarray(i * GEOMETRY.chunkSizeBytes, (i + 1) * GEOMETRY.chunkSizeBytes),
  ).filter((chunk) => chunk.some((byte) => byte !== 0)).length;
  const disarm: Array<() => void> = [];

  beforeAll(async () => {
    source = await snapshotOf(cloud().apiUrl, data, GEOMETRY);
  });
  afterEach(() => disarm.splice(0).forEach((d) => d()));

  /** The hydration-read counters now. */
  async function counters(): Promise<{ own: number; snapshot: number }> {
    const text = await (await fetch(`${cloud().apiUrl}/metrics`)).text();
    const value = (source: string) => Number(new RegExp(`^sleds_hydration_reads_total\\{source="${source}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { own: value('own'), snapshot: value('snapshot') };
  }

  /** Reads the whole target; returns its bytes and where its chunk reads went. */
  async function readCounted(volumeId: string): Promise<{ bytes: Buffer; own: number; snapshot: number }> {
    const before = await counters();
    const bytes = await readVolume(cloud().apiUrl, volumeId, GEOMETRY.sizeBytes);
    const after = await counters();
    return { bytes, own: after.own - before.own, snapshot: after.snapshot - before.snapshot };
  }

  /** Every ref each replica's map names, per partition. */
  async function mapRefs(volumeId: string): Promise<ChunkRef[]> {
    const clients = createAwsClients(cloud().config);
    try {
      const metas = new DynamoDbPartitionMetaStore(clients.documents, cloud().config.tables.partitions);
      const maps = new DynamoDbChunkMapStore(clients.documents, cloud().config.tables.partitions);
      const refs: ChunkRef[] = [];
      for (const partition of await metas.listPartitions(volumeId)) {
        const meta = (await metas.get(volumeId, partition))!;
        for (const replica of [meta.primary, meta.secondary]) refs.push(...Object.values((await maps.get(logRef(volumeId, partition, replica.replicaId)))?.chunks ?? {}));
      }
      return refs;
    } finally {
      clients.destroy();
    }
  }

  /** Refs whose object is missing from its sled. */
  async function missing(refs: readonly ChunkRef[]): Promise<ChunkRef[]> {
    const clients = createAwsClients(cloud().config);
    try {
      const chunks = new S3ChunkStore(clients.s3, cloud().config.sledBuckets);
      const gone: ChunkRef[] = [];
      for (const ref of refs) if ((await chunks.sha256(ref)) === undefined) gone.push(ref);
      return gone;
    } finally {
      clients.destroy();
    }
  }

  async function objects(prefix: string): Promise<string[]> {
    const { config } = cloud();
    const clients = createAwsClients(config);
    try {
      const keys: string[] = [];
      for (const Bucket of config.sledBuckets) {
        const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
        keys.push(...(listed.Contents ?? []).map((object) => `${Bucket}/${object.Key}`));
      }
      return keys;
    } finally {
      clients.destroy();
    }
  }

  /** A gate on finalize: every chunk is copied and counted, the job runs, the maps still borrow. */
  function holdFinalize(then: () => void = () => undefined): { reached: () => boolean; release: () => void } {
    let reached = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    disarm.push(
      armFailpoint('finalize', async () => {
        reached = true;
        await gate;
        then();
      }),
    );
    return { reached: () => reached, release };
  }

  it('serves an arrived chunk from the target while hydration runs and the maps still borrow; writes stay on top', async () => {
    const { apiUrl } = cloud();
    // Nothing copied yet: every chunk read goes to the snapshot.
    let releaseCopies!: () => void;
    const copies = new Promise<void>((resolve) => (releaseCopies = resolve));
    disarm.push(armFailpoint('copy-task', () => copies));
    const finalize = holdFinalize();
    const started = (await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 2, maxSourceFanout: 2 })).body;
    const [target, other] = started.volumeIds as string[];
    try {
      const cold = await readCounted(target!);
      expect(cold.bytes.equals(data)).toBe(true);
      expect([cold.own, cold.snapshot]).toEqual([0, STORED_CHUNKS]);
      releaseCopies();
      await eventually('every chunk copied', async () => (finalize.reached() ? true : undefined));
      expect((await call(apiUrl, 'GET', `/copy-jobs/${started.jobId}`)).body.state).toBe('running');
      expect((await call(apiUrl, 'GET', `/volumes/${target}`)).body.state).toBe('hydrating');
      // Reads move to the target's own copies (the job's progress and the sled's checksum say
      // they are in place) although every map still names the snapshot's objects.
      const warm = await eventually('reads from the own copies', async () => {
        const read = await readCounted(target!);
        expect(read.bytes.equals(data)).toBe(true);
        return read.own === STORED_CHUNKS ? read : undefined;
      });
      expect(warm.snapshot).toBe(0);
      const refs = await mapRefs(target!);
      expect(refs.length).toBe(2 * STORED_CHUNKS);
      for (const ref of refs) expect(ref.key.startsWith(`snapshots/${source.snapshotId}/`)).toBe(true);

      // Writes over chunks that are in place stay on top: part of chunk 0, all of chunk 2.
      const expected = Buffer.from(data);
      for (const [offset, bytes] of [[0, pattern(4 * KIB, 31)], [128 * KIB, pattern(64 * KIB, 32)]] as const) {
        expect((await call(apiUrl, 'PUT', `/volumes/${target}/data?offset=${offset}`, bytes, OCTETS)).status).toBe(200);
        bytes.copy(expected, offset);
      }
      const written = await readCounted(target!);
      expect(written.bytes.equals(expected)).toBe(true);
      // Chunk 2 is all notes: one chunk fewer is read, every one from the target.
      expect([written.own, written.snapshot]).toEqual([STORED_CHUNKS - 1, 0]);
      // A flush puts the target's own versions of chunks 0 and 2 over the borrowed refs.
      expect((await call(apiUrl, 'POST', `/volumes/${target}/partitions/0/checkpoints`)).status).toBe(201);
      const flushed = await readCounted(target!);
      expect(flushed.bytes.equals(expected)).toBe(true);
      expect([flushed.own, flushed.snapshot]).toEqual([STORED_CHUNKS - 2, 0]);
    } finally {
      releaseCopies();
      finalize.release();
    }
    const done = await jobEnded(apiUrl, started.jobId);
    expect(done.state, done.error).toBe('succeeded');
    expect((await call(apiUrl, 'GET', `/volumes/${target}`)).body.state).toBe('available');
    const expected = Buffer.from(data);
    pattern(4 * KIB, 31).copy(expected, 0);
    pattern(64 * KIB, 32).copy(expected, 128 * KIB);
    // Flat now: nothing borrowed is left to count, once this process's views have caught up with
    // finalize's swap (a view held from before is read once, speculatively, while the log is asked).
    expect((await readVolume(apiUrl, target!, GEOMETRY.sizeBytes)).equals(expected)).toBe(true);
    const after = await readCounted(target!);
    expect(after.bytes.equals(expected)).toBe(true);
    expect([after.own, after.snapshot]).toEqual([0, 0]);
    expect((await readVolume(apiUrl, other!, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    expect(await missing(await mapRefs(target!))).toEqual([]);
  });

  it('reads every byte while a job whose copies served reads fails, leaves nothing behind, and a retry finishes', async () => {
    const { apiUrl } = cloud();
    const finalize = holdFinalize(() => {
      throw new Error('injected: cancelled after every chunk arrived');
    });
    const started = (await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 2, maxSourceFanout: 2 })).body;
    const volumeIds = started.volumeIds as string[];
    await eventually('every chunk copied', async () => (finalize.reached() ? true : undefined));
    for (const volumeId of volumeIds) {
      await eventually('reads from the own copies', async () => ((await readCounted(volumeId)).own === STORED_CHUNKS ? true : undefined));
    }
    // Readers keep going while the job fails and its catch removes the copies they were reading.
    let failing = true;
    const readers = volumeIds.map(async (volumeId) => {
      let reads = 0;
      while (failing || reads < 2) {
        expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
        reads++;
      }
      return reads;
    });
    finalize.release();
    const failed = await jobEnded(apiUrl, started.jobId);
    failing = false;
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/cancelled after every chunk arrived/);
    for (const reads of await Promise.all(readers)) expect(reads).toBeGreaterThanOrEqual(2);
    // Back to the snapshot: the copies are gone, and no map names anything that is missing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const volumeId of volumeIds) {
      expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('hydrating');
      const read = await readCounted(volumeId);
      expect(read.bytes.equals(data)).toBe(true);
      expect([read.own, read.snapshot]).toEqual([0, STORED_CHUNKS]);
      expect(await objects(`volumes/${volumeId}/`)).toEqual([]);
      const refs = await mapRefs(volumeId);
      expect(refs.length).toBe(2 * STORED_CHUNKS);
      expect(await missing(refs)).toEqual([]);
    }
    expect(await objects(`copy-jobs/${started.jobId}/`)).toEqual([]);

    disarm.splice(0).forEach((d) => d());
    expect((await call(apiUrl, 'POST', `/copy-jobs/${started.jobId}/retry`)).status).toBe(202);
    const done = await jobEnded(apiUrl, started.jobId);
    expect(done.state, done.error).toBe('succeeded');
    for (const volumeId of volumeIds) {
      expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('available');
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      expect(await objects(`volumes/${volumeId}/`)).toHaveLength(STORED_CHUNKS);
      expect(await missing(await mapRefs(volumeId))).toEqual([]);
    }
    expect(await objects(`copy-jobs/${started.jobId}/`)).toEqual([]);
  });
});
