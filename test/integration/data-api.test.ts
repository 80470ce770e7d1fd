import { beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const OCTETS = { 'content-type': 'application/octet-stream' };

async function put(apiUrl: string, volumeId: string, offset: number | string, body: Buffer, headers: Record<string, string> = {}) {
  return call(apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${offset}`, body, { ...OCTETS, ...headers });
}

async function get(apiUrl: string, volumeId: string, offset: number, length: number): Promise<Buffer> {
  const response = await fetch(`${apiUrl}/volumes/${volumeId}/data?offset=${offset}&length=${length}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/octet-stream');
  return Buffer.from(await response.arrayBuffer());
}

describe('data API', () => {
  const cloud = useLocalCloud();
  let volumeId: string;
  const written = pattern(64 * KIB, 42);

  beforeAll(async () => {
    // 8 MiB: 2 partitions of 4 MiB (1 MiB chunks x 4).
    const created = await call(cloud().apiUrl, 'POST', '/volumes', { sizeBytes: 8 * MIB, partitionChunks: 4 });
    volumeId = created.body.volumeId;
    const first = await put(cloud().apiUrl, volumeId, 4 * MIB - 32 * KIB, written);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ ops: [{ partition: 0, op: 1 }, { partition: 1, op: 1 }] });
  });

  it('reads back what it wrote across a partition boundary, with zeros around it', async () => {
    const read = await get(cloud().apiUrl, volumeId, 4 * MIB - 64 * KIB, 128 * KIB);
    expect(read.subarray(0, 32 * KIB).equals(Buffer.alloc(32 * KIB))).toBe(true);
    expect(read.subarray(32 * KIB, 96 * KIB).equals(written)).toBe(true);
    expect(read.subarray(96 * KIB).equals(Buffer.alloc(32 * KIB))).toBe(true);
  });

  it('reads a full 4 MiB range and accepts a full 4 MiB write', async () => {
    const big = pattern(4 * MIB, 7);
    const response = await put(cloud().apiUrl, volumeId, 4 * MIB, big);
    expect(response.status).toBe(200);
    expect((await get(cloud().apiUrl, volumeId, 4 * MIB, 4 * MIB)).equals(big)).toBe(true);
    // Restore, so the other tests see the first write on partition 1.
    await put(cloud().apiUrl, volumeId, 4 * MIB - 32 * KIB, written);
  });

  it('returns the first result for a retried Idempotency-Key and makes no second op', async () => {
    const { apiUrl } = cloud();
    const data = pattern(4 * KIB, 5);
    const first = await put(apiUrl, volumeId, 0, data, { 'Idempotency-Key': 'http-retry-1' });
    const again = await put(apiUrl, volumeId, 0, data, { 'Idempotency-Key': 'http-retry-1' });
    expect(again.body).toEqual(first.body);
    const status = await call(apiUrl, 'GET', `/volumes/${volumeId}/partitions/0`);
    expect(status.body.primary.lastCommittedOp).toBe(first.body.ops[0].op);
    const reused = await put(apiUrl, volumeId, 8192, data, { 'Idempotency-Key': 'http-retry-1' });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('IdempotencyKeyMismatch');
  });

  it('shows both replicas of a partition', async () => {
    const status = await call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/partitions/1`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ volumeId, partition: 1, offset: 4 * MIB, sizeBytes: 4 * MIB, initialized: true, inSync: true });
    expect(status.body.primary.role).toBe('primary');
    expect(status.body.secondary.role).toBe('secondary');
    expect(status.body.primary.sled).not.toBe(status.body.secondary.sled);
    expect(status.body.primary.lastCommittedOp).toBe(status.body.secondary.lastCommittedOp);
    expect(status.body.primary.pendingNotes).toEqual([]);
  });

  const bad: Array<[string, () => Promise<{ status: number; body: any }>, number, string, RegExp]> = [
    ['a misaligned offset', () => put(cloud().apiUrl, volumeId, 512, pattern(4 * KIB, 1)), 400, 'MisalignedIo', /offset 512 is not a multiple of 4096/],
    ['a misaligned length', () => put(cloud().apiUrl, volumeId, 0, Buffer.alloc(5000)), 400, 'MisalignedIo', /length 5000 is not a multiple of 4096/],
    ['a range past the end', () => put(cloud().apiUrl, volumeId, 8 * MIB - 4096, Buffer.alloc(8192)), 400, 'RangeOutOfBounds', /outside volume/],
    ['an offset past the end', () => put(cloud().apiUrl, volumeId, 16 * MIB, Buffer.alloc(4096)), 400, 'RangeOutOfBounds', /outside/],
    ['an empty body', () => put(cloud().apiUrl, volumeId, 0, Buffer.alloc(0)), 400, 'MisalignedIo', /empty/],
    ['a body over 4 MiB', () => put(cloud().apiUrl, volumeId, 0, Buffer.alloc(4 * MIB + 4096)), 413, 'PayloadTooLarge', /4194304/],
    ['a negative offset', () => put(cloud().apiUrl, volumeId, -4096, Buffer.alloc(4096)), 400, 'ValidationError', /offset/],
    ['a missing offset', () => call(cloud().apiUrl, 'PUT', `/volumes/${volumeId}/data`, Buffer.alloc(4096), OCTETS), 400, 'ValidationError', /offset is required/],
    ['a JSON body', () => call(cloud().apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=0`, { data: 'x' }), 415, 'UnsupportedMediaType', /octet-stream/],
    ['an unknown volume', () => put(cloud().apiUrl, 'vol-0123456789abcdef0', 0, Buffer.alloc(4096)), 404, 'VolumeNotFound', /vol-0123456789abcdef0/],
    ['a malformed Idempotency-Key', () => put(cloud().apiUrl, volumeId, 0, Buffer.alloc(4096), { 'Idempotency-Key': 'has spaces' }), 400, 'ValidationError', /Idempotency-Key/],
    ['a read over 4 MiB', () => call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/data?offset=0&length=${8 * MIB}`), 400, 'MisalignedIo', /at most 4 MiB/],
    ['a misaligned read', () => call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/data?offset=0&length=100`), 400, 'MisalignedIo', /length 100/],
    ['a read without length', () => call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/data?offset=0`), 400, 'ValidationError', /length is required/],
    ['a read out of bounds', () => call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/data?offset=${8 * MIB}&length=4096`), 400, 'RangeOutOfBounds', /outside/],
    ['a read of an unknown volume', () => call(cloud().apiUrl, 'GET', '/volumes/vol-0123456789abcdef0/data?offset=0&length=4096'), 404, 'VolumeNotFound', /does not exist/],
    ['an unknown partition', () => call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/partitions/2`), 404, 'PartitionNotFound', /partitions 0 to 1/],
    ['a malformed partition', () => call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/partitions/x`), 400, 'ValidationError', /partition/],
    ['a POST to the data route', () => call(cloud().apiUrl, 'POST', `/volumes/${volumeId}/data?offset=0`, Buffer.alloc(4096), OCTETS), 405, 'MethodNotAllowed', /PUT, GET/],
  ];

  it.each(bad)('refuses %s with a 4xx and changes nothing', async (_case, send, status, code, message) => {
    const { apiUrl } = cloud();
    const before = await Promise.all([0, 1].map((p) => call(apiUrl, 'GET', `/volumes/${volumeId}/partitions/${p}`)));
    const snapshot = await get(apiUrl, volumeId, 0, 4 * MIB);
    const response = await send();
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(response.body.error.code).toBe(code);
    expect(response.body.error.message).toMatch(message);
    const after = await Promise.all([0, 1].map((p) => call(apiUrl, 'GET', `/volumes/${volumeId}/partitions/${p}`)));
    expect(after.map((r) => r.body)).toEqual(before.map((r) => r.body));
    expect((await get(apiUrl, volumeId, 0, 4 * MIB)).equals(snapshot)).toBe(true);
  });

  it('deletes the volume with its notes and head-node state', async () => {
    const { apiUrl } = cloud();
    const created = await call(apiUrl, 'POST', '/volumes', { sizeBytes: 8 * MIB });
    const id = created.body.volumeId;
    // A note too big for the table, on each replica's journal sled, and a small one in the table.
    await put(apiUrl, id, 0, pattern(12 * KIB, 3));
    await put(apiUrl, id, 64 * KIB, pattern(4 * KIB, 4));
    const inspector = new LogInspector(cloud().config);
    const replicaLog = (replicaId: string) => ({ volumeId: id, partition: 0, replicaId });
    const tableNotes = () => Promise.all(['r1', 'r2'].map((replicaId) => inspector.tableNotes.list(0, replicaLog(replicaId))));
    expect((await tableNotes()).map((notes) => notes.length)).toEqual([1, 1]);
    const deleted = await call(apiUrl, 'DELETE', `/volumes/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.objectsRemoved).toBe(2); // the big note on each replica's journal sled
    expect((await call(apiUrl, 'GET', `/volumes/${id}/partitions/0`)).status).toBe(404);
    try {
      expect(await tableNotes()).toEqual([[], []]);
      expect(await inspector.metas.listPartitions(id)).toEqual([]);
      expect(await inspector.logs.range({ volumeId: id, partition: 0, replicaId: 'r1' }, 0)).toEqual([]);
      expect(await inspector.logs.range({ volumeId: id, partition: 0, replicaId: 'r2' }, 0)).toEqual([]);
    } finally {
      inspector.close();
    }
  });
});
