import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TransientCopyError } from '../../lib/copy-jobs/errors.js';
import { armFailpoint } from '../../lib/faults.js';
import { createAwsClients } from '../../lib/aws/clients.js';
import { DynamoDbChunkMapStore } from '../../lib/aws/dynamodb-chunk-map-store.js';
import { DynamoDbPartitionMetaStore } from '../../lib/aws/dynamodb-partition-meta-store.js';
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { eventually, jobEnded, readVolume, snapshotOf } from '../support/copy-jobs.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 };

describe('copy jobs', () => {
  const cloud = useLocalCloud({ sledCount: 8, retryIntervalMs: 0 });
  let source: { volumeId: string; snapshotId: string };
  // Leave a hole: partition 2 stays unwritten, and chunks 5 and 6 are zero.
  const data = Buffer.concat([pattern(320 * KIB, 1), Buffer.alloc(192 * KIB), Buffer.alloc(256 * KIB), pattern(256 * KIB, 2)]);
  const disarm: Array<() => void> = [];

  beforeAll(async () => {
    source = await snapshotOf(cloud().apiUrl, data, GEOMETRY);
  });
  afterEach(() => disarm.splice(0).forEach((d) => d()));

  it.each([1, 2, 7, 40])('copies a snapshot to %i targets, each byte for byte', async (count) => {
    const { apiUrl } = cloud();
    const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count, maxSourceFanout: 2 });
    expect(started.status).toBe(202);
    expect(started.body.volumeIds).toHaveLength(count);
    expect(started.body.executionArn).toMatch(/^arn:aws:states:/);
    // Usable at once (docs/copy-jobs.md): hydrating until every chunk is its own and verified.
    const hydrating = await call(apiUrl, 'GET', `/volumes/${started.body.volumeIds[0]}`);
    expect(['hydrating', 'available']).toContain(hydrating.body.state);

    const job = await jobEnded(apiUrl, started.body.jobId);
    expect(job.state, job.error).toBe('succeeded');
    expect(job.progress.roundsDone).toBe(job.progress.roundsPlanned);
    expect(job.progress.chunksCopied).toBe(job.progress.chunksTotal);
    expect(job.progress.intermediariesRemoved).toBe(job.progress.intermediariesCreated);
    expect(job.percent).toBe(100);
    for (const volumeId of started.body.volumeIds) {
      const volume = await call(apiUrl, 'GET', `/volumes/${volumeId}`);
      expect(volume.body.state).toBe('available');
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    }
    const events = await call(apiUrl, 'GET', `/copy-jobs/${started.body.jobId}/events`);
    const entered = events.body.events.filter((e: any) => e.type === 'StateEntered').map((e: any) => e.state);
    expect(entered).toContain('Plan the copy job');
    expect(entered).toContain('Copy a partition batch');
    expect(entered).toContain('Verify the targets and mark them available');
    expect(entered).toContain('Remove the intermediaries');
  });

  it('retries an injected transient copy failure and succeeds', async () => {
    const { apiUrl } = cloud();
    let failures = 0;
    disarm.push(
      armFailpoint('copy-task', () => {
        if (failures < 2) {
          failures++;
          throw new TransientCopyError('injected: sled throttled');
        }
      }),
    );
    const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 3 });
    const job = await jobEnded(apiUrl, started.body.jobId);
    expect(job.state, job.error).toBe('succeeded');
    expect(failures).toBe(2);
    const events = (await call(apiUrl, 'GET', `/copy-jobs/${started.body.jobId}/events`)).body.events;
    expect(events.filter((e: any) => e.type === 'StateRetried').length).toBeGreaterThanOrEqual(1);
    for (const volumeId of started.body.volumeIds) {
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    }
  });

  it('fails the job on a permanent failure, leaves no intermediary or copied chunk behind, and its targets keep serving the snapshot', async () => {
    const { apiUrl, config } = cloud();
    let calls = 0;
    disarm.push(
      armFailpoint('copy-task', (context) => {
        // Let the first tasks write something first, so there is something to clean up.
        if (++calls > 6 && String(context.taskId).includes('t')) throw new Error('injected: disk on fire');
      }),
    );
    const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 12, maxSourceFanout: 2 });
    const job = await jobEnded(apiUrl, started.body.jobId);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/disk on fire/);
    expect(job.progress.intermediariesRemoved).toBe(job.progress.intermediariesCreated);
    // Copy tasks that were still running when the job failed finish on their own; let them.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const clients = createAwsClients(config);
    try {
      for (const Bucket of config.sledBuckets) {
        const left = await clients.s3.send(new ListObjectsV2Command({ Bucket, Prefix: `copy-jobs/${started.body.jobId}/` }));
        expect(left.KeyCount ?? 0).toBe(0);
        for (const volumeId of started.body.volumeIds) {
          const partial = await clients.s3.send(new ListObjectsV2Command({ Bucket, Prefix: `volumes/${volumeId}/` }));
          expect(partial.KeyCount ?? 0).toBe(0);
        }
      }
    } finally {
      clients.destroy();
    }
    // A failed job's targets stay hydrating: they read through to the snapshot (POST /copy-jobs/{id}/retry finishes them).
    for (const volumeId of started.body.volumeIds) {
      const volume = await call(apiUrl, 'GET', `/volumes/${volumeId}`);
      expect(volume.body.state).toBe('hydrating');
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    }
    const events = (await call(apiUrl, 'GET', `/copy-jobs/${started.body.jobId}/events`)).body.events;
    expect(events.map((e: any) => e.state)).toContain('Mark the job failed and clean up');
  });

  /** Waits until the execution itself has ended (the catch handler finishes after the job reads failed). */
  async function executionEnded(jobId: string): Promise<string> {
    const { apiUrl } = cloud();
    return eventually(`the execution of ${jobId}`, async () => {
      const events = (await call(apiUrl, 'GET', `/copy-jobs/${jobId}/events`)).body.events as Array<{ type: string }>;
      return events.map((e) => e.type).find((type) => /^Execution(Succeeded|Failed|Aborted|TimedOut)$/.test(type));
    });
  }

  /** Everything the job may have left on the sleds: intermediaries, verified-chunk records, target data. */
  async function leftovers(jobId: string, volumeIds: readonly string[]): Promise<string[]> {
    const { config } = cloud();
    const clients = createAwsClients(config);
    const left: string[] = [];
    try {
      for (const Bucket of config.sledBuckets) {
        for (const Prefix of [`copy-jobs/${jobId}/`, ...volumeIds.map((volumeId) => `volumes/${volumeId}/`)]) {
          const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket, Prefix }));
          left.push(...(listed.Contents ?? []).map((object) => `${Bucket}/${object.Key}`));
        }
      }
    } finally {
      clients.destroy();
    }
    return left;
  }

  // A target chunk is checked against the SHA-256 the sled reports for the copy that wrote it
  // (CopyObject's answer), so what is caught is a copy that stored other bytes than the
  // snapshot's: its source, an intermediary, was corrupted after its own copy, or just before
  // the target's copy read it.
  it.each([
    ['an', 'intermediary', 'after its copy', 'chunk-copied', 'to'],
    ['a', 'target', 'as it is copied (its source changes)', 'chunk-copying', 'from'],
  ] as const)(
    'fails the job with a checksum mismatch when %s %s chunk is corrupted %s, and leaves nothing behind',
    async (_article, kind, _when, failpointName, corrupt) => {
      const { apiUrl, config } = cloud();
      const clients = createAwsClients(config);
      let corrupted = 0;
      disarm.push(
        armFailpoint(failpointName, async (context) => {
          if (context.kind !== kind || corrupted > 0) return;
          // Never the snapshot's own chunks, which the other tests share.
          if (corrupt === 'from' && context.fromKind !== 'intermediary') return;
          corrupted++;
          // The sled now holds other bytes under the chunk's key, with their own (correct) SHA-256.
          const at = context[corrupt] as { sled: number; key: string };
          const garbage = pattern(64 * KIB, 99);
          await clients.s3.send(
            new PutObjectCommand({
              Bucket: config.sledBuckets[at.sled],
              Key: at.key,
              Body: garbage,
              ChecksumSHA256: createHash('sha256').update(garbage).digest('base64'),
            }),
          );
        }),
      );
      try {
        const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 9, maxSourceFanout: 2 });
        const job = await jobEnded(apiUrl, started.body.jobId);
        expect(corrupted).toBe(1);
        expect(job.state).toBe('failed');
        expect(job.error).toMatch(/Sleds\.ChecksumMismatch: .*does not match the snapshot's/);
        await executionEnded(started.body.jobId);
        for (const volumeId of started.body.volumeIds) expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('hydrating');
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(await leftovers(started.body.jobId, started.body.volumeIds)).toEqual([]);
      } finally {
        clients.destroy();
      }
    },
  );

  it('refuses to finalize when a batch left no record of its verified chunks', async () => {
    const { apiUrl, config } = cloud();
    const clients = createAwsClients(config);
    let dropped = 0;
    disarm.push(
      armFailpoint('batch-recorded', async (context) => {
        if (dropped++ > 0) return;
        await clients.s3.send(
          new DeleteObjectCommand({ Bucket: config.sledBuckets[0], Key: `copy-jobs/${String(context.jobId)}/verified/${String(context.round)}-${String(context.batch)}.json` }),
        );
      }),
    );
    try {
      const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 4, maxSourceFanout: 2 });
      const job = await jobEnded(apiUrl, started.body.jobId);
      expect(dropped).toBeGreaterThan(0);
      expect(job.state).toBe('failed');
      expect(job.error).toMatch(/Sleds\.ChecksumMismatch: .*never verified/);
      await executionEnded(started.body.jobId);
      for (const volumeId of started.body.volumeIds) expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('hydrating');
      expect(await leftovers(started.body.jobId, started.body.volumeIds)).toEqual([]);
    } finally {
      clients.destroy();
    }
  });

  it('marks no target available when finalize dies after its checks, and leaves nothing behind', async () => {
    const { apiUrl } = cloud();
    disarm.push(
      armFailpoint('finalize', () => {
        throw new Error('injected: finalize crashed');
      }),
    );
    const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 5, maxSourceFanout: 2 });
    const job = await jobEnded(apiUrl, started.body.jobId);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/finalize crashed/);
    await executionEnded(started.body.jobId);
    for (const volumeId of started.body.volumeIds) expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('hydrating');
    expect(await leftovers(started.body.jobId, started.body.volumeIds)).toEqual([]);
  });

  // Targets get their borrowed head-node items at the request now (no longer at finalize), so
  // the crash between metadata and chunk maps happens in the request; its retry finishes it.
  it('finishes a copy request that died between its targets\' borrowed metadata and chunk maps when it is repeated with its clientToken', async () => {
    const { apiUrl, config } = cloud();
    const clients = createAwsClients(config);
    const metas = new DynamoDbPartitionMetaStore(clients.documents, config.tables.partitions);
    let written = 0;
    disarm.push(
      armFailpoint('new-partitions-half-written', (context) => {
        if (written > 0) return;
        written = Number(context.partitions);
        throw new Error('injected: the copy request crashed while writing head-node items');
      }),
    );
    try {
      const body = { count: 3, maxSourceFanout: 2, clientToken: 'half-written-1' };
      const first = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, body);
      expect(first.status).toBe(500);
      expect(written).toBeGreaterThan(0);
      const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, body);
      expect(started.status).toBe(202);
      for (const volumeId of started.body.volumeIds) {
        expect(['hydrating', 'available']).toContain((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state);
        expect(await metas.listPartitions(volumeId)).not.toEqual([]);
        expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      }
      const job = await jobEnded(apiUrl, started.body.jobId);
      expect(job.state, job.error).toBe('succeeded');
      for (const volumeId of started.body.volumeIds) {
        expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('available');
        expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      }
      expect(await leftovers(started.body.jobId, [])).toEqual([]);
    } finally {
      clients.destroy();
    }
  });

  it('retries finalize after it marked a target available without writing over that target again', async () => {
    const { apiUrl, config } = cloud();
    const clients = createAwsClients(config);
    const chunkMaps = new DynamoDbChunkMapStore(clients.documents, config.tables.partitions);
    let available: string | undefined;
    disarm.push(
      armFailpoint('target-available', async (context) => {
        if (available) return;
        available = String(context.volumeId);
        // The target is available now and may change (a flush moves its chunk map on); then finalize dies.
        const log = { volumeId: available, partition: 0, replicaId: 'r1' };
        const map = await chunkMaps.get(log);
        // Version 1 borrowed the snapshot's chunks; hydration swapped the target's own in (2).
        expect(map?.version).toBe(2);
        expect(await chunkMaps.put({ ...map!, version: 3 }, 2)).toBe(true);
        throw new TransientCopyError('injected: finalize timed out after marking a target available');
      }),
    );
    try {
      const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 3, maxSourceFanout: 2 });
      const job = await jobEnded(apiUrl, started.body.jobId);
      expect(job.state, job.error).toBe('succeeded');
      expect(available).toBeDefined();
      const events = (await call(apiUrl, 'GET', `/copy-jobs/${started.body.jobId}/events`)).body.events;
      expect(events.filter((e: any) => e.type === 'StateRetried' && e.state === 'Verify the targets and mark them available')).not.toEqual([]);
      // The retry hydrated the targets still hydrating, and left the available one's maps alone.
      expect((await chunkMaps.get({ volumeId: available!, partition: 0, replicaId: 'r1' }))?.version).toBe(3);
      for (const volumeId of started.body.volumeIds) {
        expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('available');
        expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      }
    } finally {
      clients.destroy();
    }
  });

  it('serves reads, writes and snapshots of a target while it is hydrating, then serves it as a full volume', async () => {
    const { apiUrl } = cloud();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    disarm.push(armFailpoint('copy-task', () => gate));
    const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 2, clientToken: 'gate-1' });
    const again = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 2, clientToken: 'gate-1' });
    expect(again.body).toEqual(started.body);
    const target = started.body.volumeIds[0];
    // Copies are usable at once: hydrating, reading through to the snapshot.
    try {
      expect((await call(apiUrl, 'GET', `/volumes/${target}`)).body.state).toBe('hydrating');
      expect((await readVolume(apiUrl, target, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      const early = pattern(4 * KIB, 78);
      const write = await call(apiUrl, 'PUT', `/volumes/${target}/data?offset=${128 * KIB}`, early, { 'content-type': 'application/octet-stream' });
      expect(write.status).toBe(200);
      const withEarly = Buffer.from(data);
      early.copy(withEarly, 128 * KIB);
      expect((await readVolume(apiUrl, target, GEOMETRY.sizeBytes)).equals(withEarly)).toBe(true);
      const snapshot = await call(apiUrl, 'POST', `/volumes/${target}/snapshots`);
      expect(snapshot.status).toBe(201);
      await jobEndedSnapshot(apiUrl, snapshot.body.snapshotId);
    } finally {
      release();
    }
    expect((await jobEnded(apiUrl, started.body.jobId)).state).toBe('succeeded');
    // The early write was on top of the snapshot's bytes; put them back for what follows.
    expect((await call(apiUrl, 'PUT', `/volumes/${target}/data?offset=${128 * KIB}`, data.subarray(128 * KIB, 132 * KIB), { 'content-type': 'application/octet-stream' })).status).toBe(200);

    // Now a full volume: writes overlay the copied chunks, and it can be snapshotted and copied again.
    const overlay = pattern(8 * KIB, 77);
    expect((await call(apiUrl, 'PUT', `/volumes/${target}/data?offset=${60 * KIB}`, overlay, { 'content-type': 'application/octet-stream' })).status).toBe(200);
    const expected = Buffer.from(data);
    overlay.copy(expected, 60 * KIB);
    expect((await readVolume(apiUrl, target, GEOMETRY.sizeBytes)).equals(expected)).toBe(true);
    const resnap = await call(apiUrl, 'POST', `/volumes/${target}/snapshots`);
    expect(resnap.status).toBe(201);
    await jobEndedSnapshot(apiUrl, resnap.body.snapshotId);
    const copy = await call(apiUrl, 'POST', `/snapshots/${resnap.body.snapshotId}/copies`, { count: 3 });
    expect((await jobEnded(apiUrl, copy.body.jobId)).state).toBe('succeeded');
    for (const volumeId of copy.body.volumeIds) {
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(expected)).toBe(true);
    }
  });

  it('refuses bad copy requests with a 4xx and creates nothing', async () => {
    const { apiUrl } = cloud();
    const before = (await call(apiUrl, 'GET', '/volumes?limit=1000')).body.volumes.length;
    const cases: Array<[string, unknown, number, string, RegExp]> = [
      ['/snapshots/snap-0123456789abcdef0/copies', { count: 2 }, 404, 'SnapshotNotFound', /does not exist/],
      [`/snapshots/${source.snapshotId}/copies`, { count: 0 }, 400, 'ValidationError', /at least 1/],
      [`/snapshots/${source.snapshotId}/copies`, { count: 1001 }, 400, 'ValidationError', /at most 1000/],
      [`/snapshots/${source.snapshotId}/copies`, { count: 2.5 }, 400, 'ValidationError', /whole number/],
      [`/snapshots/${source.snapshotId}/copies`, {}, 400, 'ValidationError', /count is required/],
      [`/snapshots/${source.snapshotId}/copies`, { count: 2, maxSourceFanout: 0 }, 400, 'ValidationError', /maxSourceFanout/],
      [`/snapshots/${source.snapshotId}/copies`, '{"count": ', 400, 'MalformedJson', /JSON/],
      ['/snapshots/not-a-snapshot/copies', { count: 2 }, 400, 'ValidationError', /snap-/],
    ];
    for (const [path, body, status, code, message] of cases) {
      const response = await call(apiUrl, 'POST', path, body);
      expect([response.status, response.body.error.code], path).toEqual([status, code]);
      expect(response.body.error.message).toMatch(message);
    }
    expect((await call(apiUrl, 'GET', '/copy-jobs/copy-0123456789abcdef0')).status).toBe(404);
    expect((await call(apiUrl, 'GET', '/copy-jobs/nope')).status).toBe(400);

    // A snapshot still being materialized cannot be copied yet.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    disarm.push(armFailpoint('materialize', () => gate));
    const taken = await call(apiUrl, 'POST', `/volumes/${source.volumeId}/snapshots`);
    const early = await call(apiUrl, 'POST', `/snapshots/${taken.body.snapshotId}/copies`, { count: 2 });
    expect([early.status, early.body.error.code]).toEqual([409, 'SnapshotNotReady']);
    release();
    await jobEndedSnapshot(apiUrl, taken.body.snapshotId);
    expect((await call(apiUrl, 'GET', '/volumes?limit=1000')).body.volumes.length).toBe(before);
  });
});

async function jobEndedSnapshot(apiUrl: string, snapshotId: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await call(apiUrl, 'GET', `/snapshots/${snapshotId}`)).body.state === 'completed') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`snapshot ${snapshotId} did not complete`);
}
