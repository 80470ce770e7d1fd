import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../lib/wiring.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const OCTETS = { 'content-type': 'application/octet-stream' };

async function waitCompleted(apiUrl: string, snapshotId: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const shown = await call(apiUrl, 'GET', `/snapshots/${snapshotId}`);
    if (shown.body.state === 'completed') return shown.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`snapshot ${snapshotId} did not complete`);
}

describe('snapshots', () => {
  const cloud = useLocalCloud();
  let services: Services;

  beforeAll(() => {
    services = createServices(cloud().config);
  });
  afterAll(() => services.clients.destroy());

  it('holds the volume at its committed ops, spread over the sleds apart from the write replicas', async () => {
    const { apiUrl } = cloud();
    // 1 MiB volume: 64 KiB chunks, 4 chunks per partition → 4 partitions.
    const created = await call(apiUrl, 'POST', '/volumes', { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const volumeId = created.body.volumeId;
    const model = Buffer.alloc(1024 * KIB);
    for (const [offset, length, seed] of [[0, 96 * KIB, 1], [200 * KIB, 120 * KIB, 2], [40 * KIB, 8 * KIB, 3], [768 * KIB, 4 * KIB, 4]] as const) {
      const data = pattern(length, seed);
      expect((await call(apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${offset}`, data, OCTETS)).status).toBe(200);
      data.copy(model, offset);
    }
    const taken = await call(apiUrl, 'POST', `/volumes/${volumeId}/snapshots`);
    expect(taken.status).toBe(201);
    expect(taken.body.snapshotId).toMatch(/^snap-[0-9a-f]{17}$/);
    // Partition 2 (512 KiB to 768 KiB) was never written: it needs no work.
    expect(taken.body.progress.partitionsTotal).toBe(3);
    // A write after the snapshot is not in it.
    await call(apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=0`, pattern(64 * KIB, 99), OCTETS);

    const snapshot = await waitCompleted(apiUrl, taken.body.snapshotId);
    expect(snapshot.progress).toMatchObject({ partitionsDone: 3, partitionsTotal: 3 });
    const repository = (services.snapshots as unknown as { deps: { snapshots: any; chunks: any } }).deps;
    const rebuilt = Buffer.alloc(1024 * KIB);
    const sleds = new Set<number>();
    let chunkCount = 0;
    for (let partition = 0; partition < 4; partition++) {
      const stored = await repository.snapshots.getPartition(snapshot.snapshotId, partition);
      if (partition === 2) {
        expect(stored).toBeUndefined();
        continue;
      }
      const meta = await (services.data as any).deps.metas.get(volumeId, partition);
      expect([meta.primary.sled, meta.secondary.sled]).not.toContain(stored.sled);
      sleds.add(stored.sled);
      for (const [chunk, ref] of Object.entries(stored.chunks) as Array<[string, { sled: number; key: string; sha256: string }]>) {
        const bytes = await repository.chunks.read(ref, 0, 64 * KIB);
        expect(await repository.chunks.sha256(ref)).toBe(ref.sha256);
        bytes.copy(rebuilt, partition * 256 * KIB + Number(chunk) * 64 * KIB);
        chunkCount++;
      }
    }
    expect(rebuilt.equals(model)).toBe(true);
    // Only chunks that were ever written are stored: 0,1 | 3,4(→p1: 0,1) ... count them from the model.
    let written = 0;
    for (let c = 0; c < 16; c++) if (!model.subarray(c * 64 * KIB, (c + 1) * 64 * KIB).equals(Buffer.alloc(64 * KIB))) written++;
    expect(chunkCount).toBe(written);
    expect(snapshot.progress.chunksStored).toBe(written);
    expect(sleds.size).toBeGreaterThan(1);

    // A duplicate delivery changes nothing.
    await services.snapshots.materialize({ snapshotId: snapshot.snapshotId, partition: 1 });
    expect((await call(apiUrl, 'GET', `/snapshots/${snapshot.snapshotId}`)).body.progress).toEqual(snapshot.progress);
  });

  it('completes at once for a volume never written', async () => {
    const { apiUrl } = cloud();
    const created = await call(apiUrl, 'POST', '/volumes', { sizeBytes: 1024 * KIB });
    const taken = await call(apiUrl, 'POST', `/volumes/${created.body.volumeId}/snapshots`);
    expect(taken.body).toMatchObject({ state: 'completed', progress: { partitionsTotal: 0 } });
  });

  it('refuses unknown and malformed ids', async () => {
    const { apiUrl } = cloud();
    const unknownVolume = await call(apiUrl, 'POST', '/volumes/vol-0123456789abcdef0/snapshots');
    expect([unknownVolume.status, unknownVolume.body.error.code]).toEqual([404, 'VolumeNotFound']);
    const unknown = await call(apiUrl, 'GET', '/snapshots/snap-0123456789abcdef0');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'SnapshotNotFound']);
    const malformed = await call(apiUrl, 'GET', '/snapshots/snap-xyz');
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'ValidationError']);
  });
});
