/**
 * A hydrating copy target is an NBD disk at once: a real client (nbdcopy) reads every byte of
 * it right after the copy request, while hydration is held at a failpoint, and gets the
 * snapshot's bytes; NBD_OPT_LIST lists it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { armFailpoint } from '../../lib/faults.js';
import { jobEnded, snapshotOf } from '../support/copy-jobs.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { CLIENTS, describeWithClients, run } from '../support/nbd-clients.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 };

describeWithClients('hydrating copies as NBD disks', [CLIENTS.nbdcopy, CLIENTS.nbdinfo], () => {
  const cloud = useLocalCloud({ nbdPort: 0, sledCount: 4, retryIntervalMs: 0, sledBandwidth: 1024 * KIB });
  // Partition 2 is never written (no chunks), and chunk 5 is zero.
  const data = Buffer.concat([pattern(320 * KIB, 1), Buffer.alloc(192 * KIB), Buffer.alloc(256 * KIB), pattern(256 * KIB, 2)]);
  const disarm: Array<() => void> = [];
  let source: { volumeId: string; snapshotId: string };
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleds-hydration-nbd-'));
    source = await snapshotOf(cloud().apiUrl, data, GEOMETRY);
  });
  afterEach(() => disarm.splice(0).forEach((d) => d()));
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const server = (): string => {
    const url = cloud().nbdUrl;
    if (!url) throw new Error('the local cloud serves no NBD');
    return url;
  };

  it('nbdcopy reads every byte of a target right after the request, while it is still hydrating, and gets the snapshot', async () => {
    const { apiUrl } = cloud();
    // Hydration waits at the gate: every read below happens before any target chunk exists.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    disarm.push(armFailpoint('copy-task', () => gate));
    const started = await call(apiUrl, 'POST', `/snapshots/${source.snapshotId}/copies`, { count: 2, maxSourceFanout: 2 }).catch((error: unknown) => {
      release();
      throw error;
    });
    const jobId: string = started.body.jobId;
    const targets: string[] = started.body.volumeIds;
    try {
      expect(started.status).toBe(202);
      const list = JSON.parse((await run('nbdinfo', ['--list', '--json', server()], 30_000)).stdout);
      const names: string[] = list.exports.map((e: { 'export-name': string }) => e['export-name']);
      for (const [i, volumeId] of targets.entries()) {
        expect(names).toContain(volumeId);
        const out = join(dir, `target-${i}.img`);
        await run('nbdcopy', [`${server()}/${volumeId}`, out], 60_000);
        expect((await readFile(out)).equals(data)).toBe(true);
        expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('hydrating');
      }
      // The snapshot itself, over NBD, holds the same bytes.
      await run('nbdcopy', [`${server()}/${source.snapshotId}`, join(dir, 'snapshot.img')], 60_000);
      expect((await readFile(join(dir, 'snapshot.img'))).equals(data)).toBe(true);
    } finally {
      release();
    }
    expect((await jobEnded(apiUrl, jobId)).state).toBe('succeeded');
    for (const volumeId of targets) expect((await call(apiUrl, 'GET', `/volumes/${volumeId}`)).body.state).toBe('available');
  });
});
