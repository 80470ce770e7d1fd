import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { DynamoDbChunkMapStore } from '../../lib/aws/dynamodb-chunk-map-store.js';
import { DynamoDbPartitionMetaStore } from '../../lib/aws/dynamodb-partition-meta-store.js';
import { armFailpoint } from '../../lib/faults.js';
import { logRef } from '../../lib/notes/ports.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { eventually, jobEnded, readVolume, snapshotOf } from '../support/copy-jobs.js';
import { pattern } from '../support/write-path.js';
import { freePort, startReady, type Running } from '../support/processes.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 };
const OCTETS = { 'content-type': 'application/octet-stream' };
/** Slow enough that hydration is observable (a few seconds), fast enough for a test. */
const BANDWIDTH = 1024 * KIB;

describe('copies usable at once (hydration)', () => {
  const cloud = useLocalCloud({ sledCount: 4, retryIntervalMs: 0, sledBandwidth: BANDWIDTH });
  let source: { volumeId: string; snapshotId: string };
  // Partition 2 is never written (no chunks), and chunk 5 is zero.
  const data = Buffer.concat([pattern(320 * KIB, 1), Buffer.alloc(192 * KIB), Buffer.alloc(256 * KIB), pattern(256 * KIB, 2)]);
  // Chunks that are all zeros are not stored (thin provisioning): the snapshot holds the others.
  const STORED_CHUNKS = Array.from({ length: data.length / GEOMETRY.chunkSizeBytes }, (_, i) =>
    data.subarray(i * GEOMETRY.chunkSizeBytes, (i + 1) * GEOMETRY.chunkSizeBytes),
  ).filter((chunk) => chunk.some((byte) => byte !== 0)).length;
  const disarm: Array<() => void> = [];

  beforeAll(async () => {
    source = await snapshotOf(cloud().apiUrl, data, GEOMETRY);
  });
  afterEach(() => disarm.splice(0).forEach((d) => d()));

  /** Keys under each prefix, over every sled. */
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

  async function state(volumeId: string): Promise<string> {
    return (await call(cloud().apiUrl, 'GET', `/volumes/${volumeId}`)).body.state;
  }

  it('reads every byte of each target right after the request, while it is still hydrating, from the snapshot', async () => {
    const { apiUrl } = cloud();
    // Hydration waits at the gate: every read below happens before any target chunk exists.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    disarm.push(armFailpoint('copy-task', () => gate));
    try {
      const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 3, maxSourceFanout: 2 });
      expect(started.status).toBe(202);
      for (const volumeId of started.body.volumeIds) {
        const before = performance.now();
        const bytes = await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes);
        const millis = performance.now() - before;
        expect(bytes.equals(data)).toBe(true);
        expect(await state(volumeId)).toBe('hydrating');
        expect(millis).toBeLessThan(10_000);
      }
      // Progress: nothing in place yet, per target and for the job.
      const shown = await eventually('the plan', async () => {
        const volume = (await call(apiUrl, 'GET', `/volumes/${started.body.volumeIds[0]}`)).body;
        return volume.hydration ? volume : undefined;
      });
      expect(shown.hydration).toMatchObject({ jobId: started.body.jobId, snapshotId: source.snapshotId, chunksInPlace: 0, jobState: 'running' });
      expect(shown.hydration.chunksTotal).toBe(STORED_CHUNKS);
      const job = (await call(apiUrl, 'GET', `/copy-jobs/${started.body.jobId}`)).body;
      expect(job.hydration).toMatchObject({ chunksInPlace: 0, chunksTotal: 3 * STORED_CHUNKS, targetsComplete: 0 });
      expect(job.hydration.targets).toHaveLength(3);
    } finally {
      release();
    }
    const started = (await call(apiUrl, 'GET', '/volumes?limit=1000')).body.volumes.filter((v: any) => v.source?.snapshotId === source.snapshotId);
    const jobId = started[0].source.jobId;
    expect((await jobEnded(apiUrl, jobId)).state).toBe('succeeded');
    for (const volume of started.filter((v: any) => v.source.jobId === jobId)) {
      const shown = (await call(apiUrl, 'GET', `/volumes/${volume.volumeId}`)).body;
      expect(shown.state).toBe('available');
      expect(shown.hydration).toMatchObject({ chunksInPlace: STORED_CHUNKS, chunksTotal: STORED_CHUNKS, percent: 100, etaSeconds: 0 });
      expect((await readVolume(apiUrl, volume.volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    }
  });

  it('keeps writes made during hydration on top of the base it fills; replicas agree; the borrowed objects survive the flush and GC', async () => {
    const { apiUrl, config } = cloud();
    const snapshotObjects = await objects(`snapshots/${source.snapshotId}/`);
    // Hydration waits at the gate until the writes and flushes below are done.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    disarm.push(armFailpoint('copy-task', () => gate));
    const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 2, maxSourceFanout: 2 });
    const [target, other] = started.body.volumeIds as string[];
    const expected = Buffer.from(data);
    const writes: Array<[number, Buffer]> = [
      [0, pattern(4 * KIB, 11)], // part of a borrowed chunk
      [60 * KIB, pattern(8 * KIB, 12)], // across two borrowed chunks
      [128 * KIB, pattern(64 * KIB, 13)], // a whole chunk
      [576 * KIB, pattern(16 * KIB, 14)], // a partition the snapshot never wrote
    ];
    expect(await state(target!)).toBe('hydrating');
    for (const [offset, bytes] of writes) {
      expect((await call(apiUrl, 'PUT', `/volumes/${target}/data?offset=${offset}`, bytes, OCTETS)).status).toBe(200);
      bytes.copy(expected, offset);
    }
    // Flush partitions 0 and 2 now: their maps put the target's own versions over borrowed refs,
    // and garbage collection sees the borrowed refs superseded.
    for (const partition of [0, 2]) {
      expect((await call(apiUrl, 'POST', `/volumes/${target}/partitions/${partition}/checkpoints`)).status).toBe(201);
    }
    expect(await state(target!)).toBe('hydrating');
    expect((await readVolume(apiUrl, target!, GEOMETRY.sizeBytes)).equals(expected)).toBe(true);
    // Never deleted: the snapshot's objects are not the volume's, and its other copy reads them.
    expect(await objects(`snapshots/${source.snapshotId}/`)).toEqual(snapshotObjects);
    release();

    const job = await jobEnded(apiUrl, started.body.jobId);
    expect(job.state, job.error).toBe('succeeded');
    expect(await state(target!)).toBe('available');
    expect((await readVolume(apiUrl, target!, GEOMETRY.sizeBytes)).equals(expected)).toBe(true);
    expect((await readVolume(apiUrl, other!, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    // Flattened: every chunk either replica names is the target's own, and both replicas agree.
    const clients = createAwsClients(config);
    try {
      const metas = new DynamoDbPartitionMetaStore(clients.documents, config.tables.partitions);
      const maps = new DynamoDbChunkMapStore(clients.documents, config.tables.partitions);
      for (const partition of await metas.listPartitions(target!)) {
        expect((await call(apiUrl, 'POST', `/volumes/${target}/partitions/${partition}/checkpoints`)).status).toBe(201);
        const meta = (await metas.get(target!, partition))!;
        const [primary, secondary] = await Promise.all(
          [meta.primary, meta.secondary].map((replica) => maps.get(logRef(target!, partition, replica.replicaId))),
        );
        expect(secondary?.chunks).toEqual(primary?.chunks);
        for (const ref of Object.values(primary?.chunks ?? {})) expect(ref.key.startsWith(`volumes/${target}/`)).toBe(true);
      }
    } finally {
      clients.destroy();
    }
    // Copies the target made of chunks it had flushed first were not kept.
    const chunkObjects = await objects(`volumes/${target}/chunks/`);
    expect(chunkObjects.filter((key) => key.endsWith(`-${started.body.jobId}`) && key.includes('/chunks/0/2-'))).toEqual([]);
    expect(await objects(`copy-jobs/${started.body.jobId}/`)).toEqual([]);
  });

  it('keeps reading through to the snapshot after a permanent failure; retry finishes hydration and leaves nothing behind', async () => {
    const { apiUrl } = cloud();
    let copies = 0;
    disarm.push(
      armFailpoint('chunk-copying', (context) => {
        if (context.kind === 'target' && ++copies > 4) throw new Error('injected: sled on fire');
      }),
    );
    const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 3, maxSourceFanout: 2 });
    const failed = await jobEnded(apiUrl, started.body.jobId);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/sled on fire/);
    disarm.splice(0).forEach((d) => d());
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const volumeId of started.body.volumeIds) {
      const shown = (await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body;
      expect(shown.state).toBe('hydrating');
      expect(shown.hydration.jobState).toBe('failed');
      expect(shown.hydration.etaSeconds).toBeNull();
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      expect(await objects(`volumes/${volumeId}/`)).toEqual([]);
    }
    expect(await objects(`copy-jobs/${started.body.jobId}/`)).toEqual([]);
    // The snapshot is retained while they depend on it.
    const refused = await call(apiUrl, 'DELETE', `/snapshots/${source.snapshotId}`);
    expect(refused.status).toBe(409);

    const retried = await call(apiUrl, 'POST', `/copy-jobs/${started.body.jobId}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ restarted: true, state: 'running', attempts: 1 });
    const done = await jobEnded(apiUrl, started.body.jobId);
    expect(done.state, done.error).toBe('succeeded');
    for (const volumeId of started.body.volumeIds) {
      expect(await state(volumeId)).toBe('available');
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      // Its own copy of each of the snapshot's stored chunks, and nothing else.
      expect(await objects(`volumes/${volumeId}/`)).toHaveLength(STORED_CHUNKS);
    }
    expect(await objects(`copy-jobs/${started.body.jobId}/`)).toEqual([]);
    // Idempotent: a second retry of a job that succeeded starts nothing.
    const again = await call(apiUrl, 'POST', `/copy-jobs/${started.body.jobId}/retry`);
    expect([again.status, again.body.restarted, again.body.state]).toEqual([200, false, 'succeeded']);
    expect((await call(apiUrl, 'POST', '/copy-jobs/copy-0123456789abcdef0/retry')).status).toBe(404);
  });

  it('refuses to delete a snapshot while a hydrating volume needs it (409 naming it), then deletes it and frees its objects', async () => {
    const { apiUrl } = cloud();
    const own = await snapshotOf(apiUrl, data, GEOMETRY);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    disarm.push(armFailpoint('copy-task', () => gate));
    let started: any;
    try {
      started = (await call(apiUrl, 'POST', `/snapshots/${own.snapshotId}/copies`, { count: 2 })).body;
      const refused = await call(apiUrl, 'DELETE', `/snapshots/${own.snapshotId}`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('SnapshotInUse');
      for (const volumeId of started.volumeIds) expect(refused.body.error.message).toContain(volumeId);
      // Nothing changed: it is still completed, and still copies.
      expect((await call(apiUrl, 'GET', `/snapshots/${own.snapshotId}`)).body.state).toBe('completed');
    } finally {
      release();
    }
    expect((await jobEnded(apiUrl, started.jobId)).state).toBe('succeeded');
    expect(await objects(`snapshots/${own.snapshotId}/`)).toHaveLength(STORED_CHUNKS);
    const deleted = await call(apiUrl, 'DELETE', `/snapshots/${own.snapshotId}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ snapshotId: own.snapshotId, deleted: true, objectsRemoved: STORED_CHUNKS });
    expect(await objects(`snapshots/${own.snapshotId}/`)).toEqual([]);
    expect((await call(apiUrl, 'GET', `/snapshots/${own.snapshotId}`)).status).toBe(404);
    expect((await call(apiUrl, 'DELETE', `/snapshots/${own.snapshotId}`)).status).toBe(404);
    // The copies are flat: they read their own chunks.
    for (const volumeId of started.volumeIds) expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
  });

  it('snapshots a hydrating target with its own chunks, so the chain of read-through sources stays one deep', async () => {
    const { apiUrl } = cloud();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    disarm.push(armFailpoint('copy-task', () => gate));
    let second: { snapshotId: string } | undefined;
    let first: any;
    try {
      first = (await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 1 })).body;
      const taken = await call(apiUrl, 'POST', `/volumes/${first.volumeIds[0]}/snapshots`);
      expect(taken.status).toBe(201);
      second = { snapshotId: taken.body.snapshotId };
      await eventually('the snapshot of a hydrating target', async () =>
        (await call(apiUrl, 'GET', `/snapshots/${second!.snapshotId}`)).body.state === 'completed' ? true : undefined,
      );
      // Materialized: its own objects, not references to the first snapshot's.
      expect(await objects(`snapshots/${second.snapshotId}/`)).toHaveLength(STORED_CHUNKS);
    } finally {
      release();
    }
    expect((await jobEnded(apiUrl, first.jobId)).state).toBe('succeeded');
    const copy = (await call(apiUrl, 'POST', `/snapshots/${second!.snapshotId}/copies`, { count: 2 })).body;
    for (const volumeId of copy.volumeIds) expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    expect((await jobEnded(apiUrl, copy.jobId)).state).toBe('succeeded');
  });
});

describe('hydration across a crash (kill -9 of npm start)', () => {
  it('resumes hydration on its own after a restart, and loses no written byte', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sleds-hydrate-'));
    const port = await freePort();
    // Slow sleds: hydration is still going when the process is killed.
    const env = { SLEDS_PORT: String(port), SLEDS_NBD_PORT: String(await freePort()), SLEDS_CONSOLE_PORT: String(await freePort()), SLEDS_DATA_DIR: dataDir, SLEDS_SLED_BANDWIDTH: String(256 * KIB) };
    const base = `http://127.0.0.1:${port}`;
    const spawned: Running[] = [];
    try {
      const first = await startReady(env, 60_000);
      spawned.push(first);
      const data = pattern(1024 * KIB, 5);
      const { snapshotId } = await snapshotOf(base, data, GEOMETRY);
      const started = (await call(base, 'POST', `/snapshots/${snapshotId}/copies`, { count: 2 })).body;
      const target = started.volumeIds[0];
      const expected = Buffer.from(data);
      for (const [offset, bytes] of [[4 * KIB, pattern(8 * KIB, 21)], [700 * KIB, pattern(64 * KIB, 22)]] as const) {
        expect((await call(base, 'PUT', `/volumes/${target}/data?offset=${offset}`, bytes, OCTETS)).status).toBe(200);
        bytes.copy(expected, offset);
      }
      const before = (await call(base, 'GET', `/copy-jobs/${started.jobId}`)).body;
      expect([before.state, (await call(base, 'GET', `/volumes/${target}`)).body.state]).toEqual(['running', 'hydrating']);
      first.child.kill('SIGKILL');
      await first.exited;

      const second = await startReady(env, 60_000);
      spawned.push(second);
      // No call but reads: the new process found the job running with no execution and restarted it.
      const done = await jobEnded(base, started.jobId, 120_000);
      expect(done.state, done.error).toBe('succeeded');
      expect(done.attempts).toBe(1);
      expect(second.output()).toContain(`resumed 1 copy job interrupted by the last stop: ${started.jobId}`);
      for (const volumeId of started.volumeIds) expect((await call(base, 'GET', `/volumes/${volumeId}`)).body.state).toBe('available');
      expect((await readVolume(base, target, GEOMETRY.sizeBytes)).equals(expected)).toBe(true);
      expect((await readVolume(base, started.volumeIds[1], GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      // The resumed job is done: a retry now changes nothing.
      const retried = await call(base, 'POST', `/copy-jobs/${started.jobId}/retry`);
      expect([retried.status, retried.body.restarted, retried.body.attempts]).toEqual([200, false, 1]);
      // Flat: nothing of the target's names the snapshot any more, so the snapshot can go.
      expect((await call(base, 'DELETE', `/snapshots/${snapshotId}`)).status).toBe(200);
      expect((await readVolume(base, target, GEOMETRY.sizeBytes)).equals(expected)).toBe(true);
    } finally {
      for (const running of spawned) if (running.child.exitCode === null) running.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
