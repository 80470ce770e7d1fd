/**
 * Replica rebuilds of a copy target after hydration, once its snapshot is deleted: a checkpoint
 * taken while it hydrated names the snapshot's chunks (borrowed refs), and a partition with no
 * checkpoint started at op 0 from them. Each replica is lost in turn, so the rebuilt ones serve.
 */
import { describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { DynamoDbChunkMapStore } from '../../lib/aws/dynamodb-chunk-map-store.js';
import { DynamoDbPartitionMetaStore } from '../../lib/aws/dynamodb-partition-meta-store.js';
import { armFailpoint, FAILPOINTS } from '../../lib/faults.js';
import { logRef } from '../../lib/notes/ports.js';
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

  it('a replica lost after finalize read the maps ahead: the rebuilt replica is swapped too before the target is available', async () => {
    const { apiUrl, config } = cloud();
    const data = pattern(GEOMETRY.sizeBytes, 9);
    const { snapshotId } = await snapshotOf(apiUrl, data, GEOMETRY);
    let rebuilt = false;
    // After finalize read the metadata and maps ahead, and before it swaps them, partition 0's
    // primary is lost: the promoted secondary's rebuilt partner borrows the snapshot's chunks,
    // and the metadata finalize holds names the lost replica.
    const disarm = armFailpoint(FAILPOINTS.targetSwapping, async (context) => {
      if (rebuilt) return;
      rebuilt = true;
      const lost = await call(apiUrl, 'POST', `/volumes/${String(context.volumeId)}/partitions/0/failures`, { replica: 'primary' });
      expect(lost.status, JSON.stringify(lost.body)).toBe(200);
    });
    let target: string;
    try {
      const started = (await call(apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 1 })).body;
      target = started.volumeIds[0];
      expect((await jobEnded(apiUrl, started.jobId)).state).toBe('succeeded');
    } finally {
      disarm();
    }
    expect(rebuilt).toBe(true);
    // Flat: no map of any current replica names a snapshot object; the snapshot may go.
    const clients = createAwsClients(config);
    try {
      const metas = new DynamoDbPartitionMetaStore(clients.documents, config.tables.partitions);
      const maps = new DynamoDbChunkMapStore(clients.documents, config.tables.partitions);
      for (const partition of await metas.listPartitions(target!)) {
        const meta = (await metas.get(target!, partition))!;
        for (const replica of [meta.primary, meta.secondary]) {
          const map = await maps.get(logRef(target!, partition, replica.replicaId));
          for (const ref of Object.values(map?.chunks ?? {})) expect(ref.key, `partition ${partition} ${replica.replicaId}`).toMatch(new RegExp(`^volumes/${target!}/`));
        }
      }
    } finally {
      clients.destroy();
    }
    expect((await call(apiUrl, 'DELETE', `/snapshots/${snapshotId}`)).status).toBe(200);
    expect((await readVolume(apiUrl, target!, GEOMETRY.sizeBytes)).equals(data)).toBe(true);
  });
});
