/**
 * Replica rebuilds of a copy target after hydration, once its snapshot is deleted: a checkpoint
 * taken while it hydrated names the snapshot's chunks (borrowed refs), and a partition with no
 * checkpoint started at op 0 from them. Each replica is lost in turn, so the rebuilt ones serve.
 */
import { describe, expect, it } from 'vitest';
import { armFailpoint } from '../../lib/faults.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { jobEnded, readVolume, snapshotOf } from '../support/copy-jobs.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 };
const OCTETS = { 'content-type': 'application/octet-stream' };

describe('rebuilding a hydrated copy after its snapshot is deleted', () => {
  const cloud = useLocalCloud({ sledCount: 4, retryIntervalMs: 0 });

  it('resolves borrowed refs to the target\'s own copies: every byte reads back after both replicas are rebuilt', async () => {
    const { apiUrl } = cloud();
    const data = pattern(GEOMETRY.sizeBytes, 7);
    const { snapshotId } = await snapshotOf(apiUrl, data, GEOMETRY);
    // Hydration waits at the gate until the write and the checkpoint below are done.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const disarm = armFailpoint('copy-task', () => gate);
    let jobId: string;
    let target: string;
    const expected = Buffer.from(data);
    try {
      const started = (await call(apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 1 })).body;
      [jobId, target] = [started.jobId, started.volumeIds[0]];
      const written = pattern(8 * KIB, 31);
      expect((await call(apiUrl, 'PUT', `/volumes/${target}/data?offset=${68 * KIB}`, written, OCTETS)).status).toBe(200);
      written.copy(expected, 68 * KIB);
      // Partition 0's checkpoint: the written chunk is the target's own, the other three are borrowed.
      const checkpoint = await call(apiUrl, 'POST', `/volumes/${target}/partitions/0/checkpoints`);
      expect(checkpoint.status).toBe(201);
      expect((await call(apiUrl, 'GET', `/volumes/${target}`)).body.state).toBe('hydrating');
    } finally {
      release();
      disarm();
    }
    expect((await jobEnded(apiUrl, jobId)).state).toBe('succeeded');
    expect((await call(apiUrl, 'DELETE', `/snapshots/${snapshotId}`)).status).toBe(200);

    // Partition 0 rebuilds from its checkpoint; partition 1 (no checkpoint) replays from op 0.
    for (const partition of [0, 1]) {
      for (const replica of ['primary', 'primary']) {
        const lost = await call(apiUrl, 'POST', `/volumes/${target}/partitions/${partition}/failures`, { replica });
        expect(lost.status, JSON.stringify(lost.body)).toBe(200);
        const report = lost.body.rebuild ?? lost.body;
        expect(report.source).toBe(partition === 0 ? 'checkpoint' : 'replay');
        expect(report.skippedCheckpoints).toEqual([]);
      }
      const shown = (await call(apiUrl, 'GET', `/volumes/${target}/partitions/${partition}`)).body;
      expect(JSON.stringify(shown)).not.toContain('"r1"');
    }
    expect((await readVolume(apiUrl, target!, GEOMETRY.sizeBytes)).equals(expected)).toBe(true);
  }, 120_000);
});
