import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../../lib/local/local-cloud.js';
import { eventually, jobEnded, readVolume, snapshotOf } from '../support/copy-jobs.js';
import { LOCALSTACK_IMAGE, dockerAnswers } from '../support/docker.js';
import { call } from '../support/http.js';

const docker = await dockerAnswers();

const KIB = 1024;
const OCTETS = { 'content-type': 'application/octet-stream' };
/** 4 partitions of 2 chunks of 64 KiB. */
const GEOMETRY = { sizeBytes: 512 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 2 };
const PARTITION_BYTES = GEOMETRY.chunkSizeBytes * GEOMETRY.partitionChunks;
/** Automatic flushes every few ops, so the flush queue and its consumer run on LocalStack. */
const FLUSH_EVERY_OPS = 4;

function pattern(length: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 131 + seed * 17) % 251));
}

/**
 * The write, flush and copy paths with the handlers talking to LocalStack (S3, SQS, DynamoDB)
 * instead of the embedded emulators; the copy job runs on the local Step Functions runner
 * from the very definition `cdk synth` emits. Skipped (and reported as skipped) where no
 * container engine answers, within DOCKER_PROBE_MS.
 */
describe.skipIf(!docker)(`data, flush and copy on LocalStack (${LOCALSTACK_IMAGE})`, () => {
  let cloud: LocalCloud | undefined;
  let stopContainer: (() => Promise<unknown>) | undefined;

  beforeAll(async () => {
    // Imported here, not at the top: where Docker does not answer, the file is skipped without loading them.
    const { LocalstackContainer } = await import('@testcontainers/localstack');
    const { startLocalCloud } = await import('../../lib/local/local-cloud.js');
    const token = process.env.LOCALSTACK_AUTH_TOKEN;
    const container = await new LocalstackContainer(LOCALSTACK_IMAGE).withEnvironment(token ? { LOCALSTACK_AUTH_TOKEN: token } : {}).start();
    stopContainer = () => container.stop();
    cloud = await startLocalCloud({
      port: 0,
      sledCount: 4,
      awsEndpoint: container.getConnectionUri(),
      retryIntervalMs: 0,
      flushEveryOps: FLUSH_EVERY_OPS,
      checkpointEveryOps: 2 * FLUSH_EVERY_OPS,
    });
  }, 180_000);

  afterAll(async () => {
    await cloud?.stop();
    await stopContainer?.();
  });

  const api = () => {
    if (!cloud) throw new Error('LocalStack did not start');
    return cloud.apiUrl;
  };

  async function newVolume(): Promise<string> {
    const created = await call(api(), 'POST', '/volumes', GEOMETRY);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.volumeId;
  }

  async function write(volumeId: string, offset: number, data: Buffer, headers: Record<string, string> = {}) {
    const response = await call(api(), 'PUT', `/volumes/${volumeId}/data?offset=${offset}`, data, { ...OCTETS, ...headers });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as { ops: Array<{ partition: number; op: number }> };
  }

  it('writes across partitions and reads back the newest bytes, zeros where nothing was written', async () => {
    const volumeId = await newVolume();
    const model = Buffer.alloc(GEOMETRY.sizeBytes);
    const spanning = pattern(PARTITION_BYTES, 1);
    const result = await write(volumeId, PARTITION_BYTES / 2, spanning);
    expect(result.ops).toEqual([
      { partition: 0, op: 1 },
      { partition: 1, op: 1 },
    ]);
    spanning.copy(model, PARTITION_BYTES / 2);
    const overwrite = pattern(8 * KIB, 2);
    await write(volumeId, PARTITION_BYTES - 4 * KIB, overwrite);
    overwrite.copy(model, PARTITION_BYTES - 4 * KIB);
    expect((await readVolume(api(), volumeId, GEOMETRY.sizeBytes)).equals(model)).toBe(true);

    const partition = await call(api(), 'GET', `/volumes/${volumeId}/partitions/1`);
    expect(partition.status).toBe(200);
    expect(partition.body).toMatchObject({ initialized: true, inSync: true, primary: { lastCommittedOp: 2 }, secondary: { lastCommittedOp: 2 } });
  });

  it('answers a retried write with an Idempotency-Key with the same ops, and commits it once', async () => {
    const volumeId = await newVolume();
    const data = pattern(16 * KIB, 3);
    const first = await write(volumeId, 0, data, { 'idempotency-key': 'localstack-retry-1' });
    const again = await write(volumeId, 0, data, { 'idempotency-key': 'localstack-retry-1' });
    expect(again).toEqual(first);
    const partition = await call(api(), 'GET', `/volumes/${volumeId}/partitions/0`);
    expect(partition.body.primary.lastCommittedOp).toBe(1);
  });

  it('flushes through the flush queue, checkpoints on demand, and reads the same bytes after', async () => {
    const volumeId = await newVolume();
    const model = Buffer.alloc(GEOMETRY.sizeBytes);
    const ops = 3 * FLUSH_EVERY_OPS;
    for (let i = 0; i < ops; i++) {
      const data = pattern(((i % 3) + 1) * 4 * KIB, 10 + i);
      const offset = ((i * 5) % 24) * 4 * KIB;
      await write(volumeId, offset, data);
      data.copy(model, offset);
    }
    // Each FLUSH_EVERY_OPS-th op queued a flush on LocalStack SQS; the poller runs flush-partition.
    const flushed = await eventually(
      'an automatic flush',
      async () => {
        const partition = await call(api(), 'GET', `/volumes/${volumeId}/partitions/0`);
        return partition.body.flushedOp >= FLUSH_EVERY_OPS ? partition.body : undefined;
      },
      60_000,
    );
    expect(flushed.flushedOp % FLUSH_EVERY_OPS).toBe(0);
    expect((await readVolume(api(), volumeId, GEOMETRY.sizeBytes)).equals(model)).toBe(true);

    const checkpoint = await call(api(), 'POST', `/volumes/${volumeId}/partitions/0/checkpoints`);
    expect(checkpoint.status, JSON.stringify(checkpoint.body)).toBe(201);
    const last = (await call(api(), 'GET', `/volumes/${volumeId}/partitions/0`)).body;
    expect(last.flushedOp).toBe(last.primary.lastCommittedOp);
    expect(last.checkpoint.op).toBe(last.flushedOp);
    expect((await readVolume(api(), volumeId, GEOMETRY.sizeBytes)).equals(model)).toBe(true);
  });

  it('copies a snapshot into three volumes through the copy-job state machine, each byte for byte', async () => {
    const data = Buffer.concat([pattern(PARTITION_BYTES + 64 * KIB, 4), Buffer.alloc(64 * KIB), pattern(PARTITION_BYTES, 5)]);
    const source = await snapshotOf(api(), data, GEOMETRY);
    const started = await call(api(), 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 3, maxSourceFanout: 2 });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const job = await jobEnded(api(), started.body.jobId, 120_000);
    expect(job.state, job.error).toBe('succeeded');
    expect(job.progress.chunksCopied).toBe(job.progress.chunksTotal);
    expect(job.progress.intermediariesRemoved).toBe(job.progress.intermediariesCreated);
    for (const volumeId of started.body.volumeIds as string[]) {
      expect((await call(api(), 'GET', `/volumes/${volumeId}`)).body.state).toBe('available');
      expect((await readVolume(api(), volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    }
    const events = await call(api(), 'GET', `/copy-jobs/${started.body.jobId}/events`);
    const entered = (events.body.events as Array<{ type: string; state?: string }>).filter((e) => e.type === 'StateEntered').map((e) => e.state);
    expect(entered).toEqual(expect.arrayContaining(['Plan the copy job', 'Copy a partition batch', 'Verify the targets and mark them available']));
  });
});
