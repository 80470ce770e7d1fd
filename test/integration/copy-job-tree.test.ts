import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { jobEnded, snapshotOf } from '../support/copy-jobs.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 512 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 };

describe('GET /copy-jobs/{jobId}?include=tree', () => {
  const cloud = useLocalCloud({ sledCount: 6, retryIntervalMs: 0 });

  it('gives the plan as a tree, each node with the chunks it holds', async () => {
    const { apiUrl } = cloud();
    // Partition 0 holds four chunks of data, partition 1 one (a chunk never written is not copied).
    const data = Buffer.concat([pattern(256 * KIB, 3), pattern(64 * KIB, 4)]);
    const { snapshotId } = await snapshotOf(apiUrl, data, GEOMETRY);
    const started = await call(apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 6, maxSourceFanout: 2 });
    expect(started.status).toBe(202);
    const job = await jobEnded(apiUrl, started.body.jobId);
    expect(job.state, job.error).toBe('succeeded');
    expect(job.tree).toBeUndefined();
    expect(job.taskChunksDone).toBeUndefined();

    const shown = await call(apiUrl, 'GET', `/copy-jobs/${started.body.jobId}?include=tree`);
    expect(shown.status).toBe(200);
    const nodes: any[] = shown.body.tree.nodes;
    for (const partition of [0, 1]) {
      const mine = nodes.filter((node) => node.partition === partition);
      const chunks = partition === 0 ? 4 : 1;
      expect(mine.filter((node) => node.kind === 'snapshot')).toEqual([
        expect.objectContaining({ id: `p${partition}-s`, depth: 0, chunks, chunksDone: chunks }),
      ]);
      const targets = mine.filter((node) => node.kind === 'target');
      expect(targets.map((node) => node.volumeId).sort()).toEqual([...started.body.volumeIds].sort());
      const ids = new Set(mine.map((node) => node.id));
      for (const node of mine.filter((n) => n.kind !== 'snapshot')) {
        // Every copy hangs off a node of its own partition's tree, one level up, and its batch counted every chunk.
        expect(ids.has(node.parent)).toBe(true);
        expect(mine.find((n) => n.id === node.parent).depth).toBe(node.depth - 1);
        expect(node).toMatchObject({ chunks, chunksDone: chunks });
      }
      expect(mine.some((node) => node.kind === 'intermediary')).toBe(true);
    }
    expect(nodes.filter((node) => node.partition > 1)).toEqual([]);
  });

  it('hangs every target of a direct copy off the snapshot, with the chunks its batch counted', async () => {
    const { apiUrl } = cloud();
    const { snapshotId } = await snapshotOf(apiUrl, pattern(256 * KIB, 5), GEOMETRY);
    const started = await call(apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 2, maxSourceFanout: 2, mode: 'direct' });
    await jobEnded(apiUrl, started.body.jobId);
    const { tree } = (await call(apiUrl, 'GET', `/copy-jobs/${started.body.jobId}?include=tree`)).body;
    // A direct copy has no intermediaries: every target reads the snapshot.
    expect(tree.nodes.map((node: any) => node.kind).sort()).toEqual(['snapshot', 'target', 'target']);
    expect(tree.nodes.filter((node: any) => node.kind === 'target').every((node: any) => node.parent === 'p0-s' && node.chunksDone === 4)).toBe(true);
  });

  it('refuses an unknown include with a 400 that says what is wrong', async () => {
    const { apiUrl } = cloud();
    const answer = await call(apiUrl, 'GET', '/copy-jobs/copy-0123456789abcdef0?include=plan');
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/include must be "tree"/);
  });
});
