import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { MAX_SWARM_CHUNK_COPIES } from '../../lib/copy-jobs/swarm-schedule.js';
import { armFailpoint, FAILPOINTS } from '../../lib/faults.js';
import type { ChunkLocation } from '../../lib/sleds/ports.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { eventually, jobEnded, readVolume, snapshotOf } from '../support/copy-jobs.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 };
/** 64 ms per chunk on a link: long enough for copies on one link to overlap if nothing orders them. */
const BANDWIDTH = 1024 * KIB;

interface Copy {
  readonly taskId: string;
  readonly from: ChunkLocation;
  readonly to: ChunkLocation;
  readonly fromKind: string;
  readonly began: number;
  ended?: number;
}

describe('swarm copy jobs (mode "swarm")', () => {
  const cloud = useLocalCloud({ sledCount: 8, retryIntervalMs: 0, sledBandwidth: BANDWIDTH });
  const data = pattern(GEOMETRY.sizeBytes, 7);
  let snapshotId: string;
  const disarm: Array<() => void> = [];

  beforeAll(async () => {
    ({ snapshotId } = await snapshotOf(cloud().apiUrl, data, GEOMETRY));
  });
  afterEach(() => disarm.splice(0).forEach((d) => d()));

  /** Records every chunk copy of `jobId()` as it starts and ends. */
  function recordCopies(jobId: () => string | undefined): Copy[] {
    const copies: Copy[] = [];
    const byTask = new Map<string, Copy>();
    disarm.push(
      armFailpoint(FAILPOINTS.chunkCopying, (context) => {
        if (context.jobId !== jobId()) return;
        const copy: Copy = { ...(context as unknown as Omit<Copy, 'began'>), began: performance.now() };
        copies.push(copy);
        byTask.set(copy.taskId, copy);
      }),
      armFailpoint(FAILPOINTS.chunkCopied, (context) => {
        const copy = byTask.get(String(context.taskId));
        if (copy) copy.ended = performance.now();
      }),
    );
    return copies;
  }

  it('copies each chunk from the snapshot or a target that holds it, one copy at a time on each sled link, in the plan order', async () => {
    const { apiUrl } = cloud();
    let jobId: string | undefined = undefined;
    const copies = recordCopies(() => jobId);
    const started = await call(apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 6, mode: 'swarm' });
    expect(started.status).toBe(202);
    jobId = started.body.jobId;
    const job = await jobEnded(apiUrl, started.body.jobId);
    expect(job).toMatchObject({ state: 'succeeded', mode: 'swarm' });
    expect(job.plan).toMatch(/^Swarm: 96 chunk copies in \d+ slots/);

    // One copy per chunk of each target (16 chunks x 6), no intermediaries, many read from targets.
    expect(copies).toHaveLength(96);
    expect(copies.every((copy) => copy.ended !== undefined)).toBe(true);
    expect(new Set(copies.map((copy) => copy.fromKind))).toEqual(new Set(['snapshot', 'target']));
    expect(copies.filter((copy) => copy.fromKind === 'target').length).toBeGreaterThan(40);

    // Each sled sends one chunk at a time and receives one at a time, in the plan's slot order.
    const tree = (await call(apiUrl, 'GET', `/copy-jobs/${jobId}?include=tree`)).body.tree;
    const slotOf = new Map<string, number>(tree.nodes.map((node: any) => [node.id, node.round]));
    for (const end of ['from', 'to'] as const) {
      const bySled = Map.groupBy(copies, (copy) => copy[end].sled);
      for (const [sled, onLink] of bySled) {
        const ordered = [...onLink].sort((a, b) => a.began - b.began);
        for (let i = 1; i < ordered.length; i++) {
          const [before, copy] = [ordered[i - 1]!, ordered[i]!];
          expect(copy.began, `sled ${sled} ${end}: ${copy.taskId} began before ${before.taskId} ended`).toBeGreaterThanOrEqual(before.ended!);
          expect(slotOf.get(copy.taskId)!, `sled ${sled} ${end}: slot order`).toBeGreaterThanOrEqual(slotOf.get(before.taskId)!);
        }
      }
    }

    for (const volumeId of started.body.volumeIds) {
      expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body).toMatchObject({ state: 'available', hydration: { chunksInPlace: 16, chunksTotal: 16 } });
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    }
  });

  it('copies from the snapshot instead when the target a copy reads is deleted mid-job, and finishes the others', async () => {
    const { apiUrl, config } = cloud();
    let jobId: string | undefined = undefined;
    let volumeIds: string[] = [];
    let deleted: string | undefined;
    let sourceLeft: boolean | undefined;
    // The first copy that reads a target waits until that target is deleted, objects and all.
    disarm.push(
      armFailpoint(FAILPOINTS.chunkCopying, async (context) => {
        const from = context.from as ChunkLocation;
        if (context.jobId !== jobId || context.fromKind !== 'target' || deleted) return;
        deleted = volumeIds.find((volumeId) => from.key.includes(volumeId))!;
        expect((await call(apiUrl, 'DELETE', `/volumes/${deleted}`)).status).toBeLessThan(300);
        const clients = createAwsClients(config);
        try {
          const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: config.sledBuckets[from.sled], Prefix: from.key }));
          sourceLeft = (listed.KeyCount ?? 0) > 0;
        } finally {
          clients.destroy();
        }
      }),
    );
    const started = await call(apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 6, mode: 'swarm' });
    expect(started.status).toBe(202);
    volumeIds = started.body.volumeIds;
    jobId = started.body.jobId;
    const job = await jobEnded(apiUrl, started.body.jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect(deleted).toBeDefined();
    // The copy found its source gone, so only the fallback to the snapshot can have written it.
    expect(sourceLeft).toBe(false);
    expect((await call(apiUrl, 'GET', `/volumes/${deleted}`)).status).toBe(404);
    for (const volumeId of volumeIds.filter((id) => id !== deleted)) {
      await eventually(`${volumeId} available`, async () => ((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state === 'available' ? true : undefined));
      expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
    }
  });

  it('refuses a swarm job past MAX_SWARM_CHUNK_COPIES with a 400 that says why, and creates nothing', async () => {
    const { apiUrl } = cloud();
    // 80 stored chunks: 1,000 copies would be 80,000 chunk copies.
    const big = await snapshotOf(apiUrl, pattern(80 * GEOMETRY.chunkSizeBytes, 9), { ...GEOMETRY, sizeBytes: 80 * GEOMETRY.chunkSizeBytes });
    const volumesBefore = (await call(apiUrl, 'GET', '/volumes?limit=1000')).body.volumes.length;
    const jobsBefore = (await call(apiUrl, 'GET', '/copy-jobs?limit=100')).body.copyJobs.length;
    const refused = await call(apiUrl, 'POST', `/snapshots/${big.snapshotId}/copies`, { count: 1000, mode: 'swarm' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain(`at most ${MAX_SWARM_CHUNK_COPIES} chunk copies`);
    expect(refused.body.error.message).toContain('80000');
    expect((await call(apiUrl, 'GET', '/volumes?limit=1000')).body.volumes.length).toBe(volumesBefore);
    expect((await call(apiUrl, 'GET', '/copy-jobs?limit=100')).body.copyJobs.length).toBe(jobsBefore);
  });

  it('keeps reading through to the snapshot after a permanent failure; a retry finishes hydration and leaves nothing behind', async () => {
    const { apiUrl, config } = cloud();
    let copies = 0;
    disarm.push(
      armFailpoint(FAILPOINTS.chunkCopying, (context) => {
        if (context.fromKind === 'target' && ++copies > 20) throw new Error('injected: sled on fire');
      }),
    );
    const started = await call(apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 6, mode: 'swarm' });
    const failed = await jobEnded(apiUrl, started.body.jobId);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/sled on fire/);
    disarm.splice(0).forEach((d) => d());
    const clients = createAwsClients(config);
    const objects = async (prefix: string) => {
      let count = 0;
      for (const Bucket of config.sledBuckets) count += (await clients.s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }))).KeyCount ?? 0;
      return count;
    };
    try {
      for (const volumeId of started.body.volumeIds) {
        expect(await eventually(`${volumeId}'s copies removed`, async () => ((await objects(`volumes/${volumeId}/`)) === 0 ? true : undefined))).toBe(true);
        expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('hydrating');
        expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
      }
      const retried = await call(apiUrl, 'POST', `/copy-jobs/${started.body.jobId}/retry`);
      expect(retried.status).toBe(202);
      const done = await jobEnded(apiUrl, started.body.jobId);
      expect(done.state, done.error).toBe('succeeded');
      for (const volumeId of started.body.volumeIds) {
        expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('available');
        expect((await readVolume(apiUrl, volumeId, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
        // Its own copy of each of the snapshot's 16 chunks, and nothing else.
        expect(await objects(`volumes/${volumeId}/`)).toBe(16);
      }
    } finally {
      clients.destroy();
    }
  });
});
