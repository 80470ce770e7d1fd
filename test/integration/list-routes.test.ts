/**
 * GET /snapshots and GET /copy-jobs on the embedded cloud: pages that together hold every
 * snapshot and job once, a 400 naming what is wrong with bad paging input, and the CLI's
 * `sleds snapshot list` and `sleds job list` over them.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { run, type CliIo } from '../../lib/cli/main.js';
import { eventually, jobEnded, snapshotOf } from '../support/copy-jobs.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 256 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 2 };

/** Follows nextToken with `limit` per page; returns the ids of every page and the page sizes. */
async function pageThrough(apiUrl: string, path: string, key: string, idName: string, limit: number): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let token: string | undefined;
  do {
    const page = await call(apiUrl, 'GET', `${path}?limit=${limit}${token ? `&nextToken=${encodeURIComponent(token)}` : ''}`);
    expect(page.status).toBe(200);
    const items = page.body[key] as Array<Record<string, unknown>>;
    ids.push(...items.map((item) => String(item[idName])));
    sizes.push(items.length);
    token = page.body.nextToken;
  } while (token);
  return { ids, sizes };
}

/** Runs the CLI in-process against the cloud; returns its exit status and output. */
async function cli(apiUrl: string, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (text: string) => ((out += text), true) }, stderr: { write: (text: string) => ((err += text), true) }, env: {} };
  const code = await run([...argv, '--endpoint', apiUrl], io);
  return { code, out, err };
}

describe('GET /snapshots and GET /copy-jobs', () => {
  const cloud = useLocalCloud({ sledCount: 4, retryIntervalMs: 0 });
  const snapshotIds: string[] = [];
  const jobIds: string[] = [];

  beforeAll(async () => {
    const { apiUrl } = cloud();
    const first = await snapshotOf(apiUrl, pattern(GEOMETRY.sizeBytes, 3), GEOMETRY);
    snapshotIds.push(first.snapshotId);
    for (let i = 0; i < 4; i++) {
      const taken = await call(apiUrl, 'POST', `/volumes/${first.volumeId}/snapshots`);
      expect(taken.status).toBe(201);
      snapshotIds.push(taken.body.snapshotId);
    }
    for (const snapshotId of snapshotIds) {
      await eventually(`snapshot ${snapshotId}`, async () => ((await call(apiUrl, 'GET', `/snapshots/${snapshotId}`)).body.state === 'completed' ? true : undefined));
    }
    for (const count of [1, 2, 3]) {
      const started = await call(apiUrl, 'POST', `/snapshots/${first.snapshotId}/copies`, { count, maxSourceFanout: 2 });
      expect(started.status).toBe(202);
      jobIds.push(started.body.jobId);
    }
    for (const jobId of jobIds) expect((await jobEnded(apiUrl, jobId)).state).toBe('succeeded');
  }, 120_000);

  it('pages through every snapshot exactly once', async () => {
    const { ids, sizes } = await pageThrough(cloud().apiUrl, '/snapshots', 'snapshots', 'snapshotId', 2);
    expect(ids.sort()).toEqual([...snapshotIds].sort());
    expect(sizes.slice(0, 2)).toEqual([2, 2]);
    const whole = await call(cloud().apiUrl, 'GET', '/snapshots');
    expect(whole.body.nextToken).toBeUndefined();
    const shown = whole.body.snapshots.find((s: any) => s.snapshotId === snapshotIds[0]);
    expect(shown).toMatchObject({ state: 'completed', volumeId: expect.stringMatching(/^vol-/), progress: { partitionsDone: 2, partitionsTotal: 2 } });
  });

  it('pages through every copy job exactly once, each with its progress and without the drawn plan', async () => {
    const { ids, sizes } = await pageThrough(cloud().apiUrl, '/copy-jobs', 'copyJobs', 'jobId', 1);
    expect(ids.sort()).toEqual([...jobIds].sort());
    expect(sizes.slice(0, 3)).toEqual([1, 1, 1]);
    const whole = await call(cloud().apiUrl, 'GET', '/copy-jobs');
    expect(whole.status).toBe(200);
    for (const job of whole.body.copyJobs) {
      expect(job).toMatchObject({ state: 'succeeded', percent: 100, snapshotId: snapshotIds[0], etaSeconds: 0 });
      expect(job).not.toHaveProperty('plan');
      const one = await call(cloud().apiUrl, 'GET', `/copy-jobs/${job.jobId}`);
      expect(one.body.plan).toEqual(expect.any(String));
      expect(job.volumeIds).toEqual(one.body.volumeIds);
    }
  });

  it.each([
    ['/snapshots', 'limit=0', /limit must be at least 1/],
    ['/snapshots', 'limit=1001', /limit must be at most 1000/],
    ['/snapshots', 'limit=ten', /limit must be a number/],
    ['/snapshots', 'nextToken=garbage', /nextToken is not one this service issued/],
    ['/snapshots', 'nextToken=', /nextToken must not be empty/],
    ['/snapshots', 'colour=blue', /colour/],
    ['/copy-jobs', 'limit=101', /limit must be at most 100/],
    ['/copy-jobs', 'limit=2.5', /limit must be a whole number/],
    ['/copy-jobs', `nextToken=${Buffer.from('{"volumeId":"vol-1"}').toString('base64url')}`, /nextToken is not one this service issued/],
    ['/copy-jobs', 'include=tree', /include/],
  ])('GET %s?%s is a 400 that names the problem', async (path, query, message) => {
    const answer = await call(cloud().apiUrl, 'GET', `${path}?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('ValidationError');
    expect(answer.body.error.message).toMatch(message);
  });

  it('sleds snapshot list and sleds job list show every one, as a table or as JSON', async () => {
    const snapshots = await cli(cloud().apiUrl, ['snapshot', 'list']);
    expect(snapshots, snapshots.err).toMatchObject({ code: 0 });
    const lines = snapshots.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SNAPSHOT ID\s+VOLUME ID\s+STATE\s+SIZE\s+STORED\s+CREATED$/);
    expect(lines).toHaveLength(1 + snapshotIds.length);
    for (const id of snapshotIds) expect(snapshots.out).toMatch(new RegExp(`${id}\\s+vol-\\w+\\s+completed\\s+256 KiB`));

    const paged = await cli(cloud().apiUrl, ['snapshot', 'list', '--limit', '2']);
    expect(paged.out.trimEnd().split('\n')).toHaveLength(3);
    expect(paged.err).toContain('Showing 2 snapshots from the first page; more exist. Add --all');
    const all = await cli(cloud().apiUrl, ['snapshot', 'list', '--limit', '2', '--all', '--json']);
    expect((JSON.parse(all.out).snapshots as any[]).map((s) => s.snapshotId).sort()).toEqual([...snapshotIds].sort());

    const jobs = await cli(cloud().apiUrl, ['job', 'ls']);
    expect(jobs, jobs.err).toMatchObject({ code: 0 });
    for (const id of jobIds) expect(jobs.out).toMatch(new RegExp(`${id}\\s+${snapshotIds[0]}\\s+\\d\\s+pipelined\\s+succeeded\\s+100%\\s+-`));
    const jobsJson = await cli(cloud().apiUrl, ['job', 'list', '--all', '--limit', '1', '--json']);
    expect((JSON.parse(jobsJson.out).copyJobs as any[]).map((j) => j.jobId).sort()).toEqual([...jobIds].sort());

    const refused = await cli(cloud().apiUrl, ['job', 'list', '--limit', '0']);
    expect(refused.code).toBe(2);
  });
});
