import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPayload } from '../../lib/notes/note-extents.js';
import type { LogEntry, WriteEntry } from '../../lib/notes/ports.js';
import { createServices, journalStore, type Services } from '../../lib/wiring.js';
import { noteIdsOf } from '../../lib/notes/note-ids.js';
import { eventually, jobEnded, readVolume } from '../support/copy-jobs.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const TIB = 1024 * GIB;
const OCTETS = { 'content-type': 'application/octet-stream' };

describe('zero notes and thin provisioning', () => {
  // No automatic flushes and no checkpoints: each test flushes when it wants, and a flush's
  // garbage collection then removes every chunk version the maps stop naming.
  const cloud = useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 1_000_000 });
  let services: Services;
  let inspector: LogInspector;

  beforeAll(() => {
    services = createServices(cloud().config);
    inspector = new LogInspector(cloud().config);
  });
  afterAll(() => {
    services.clients.destroy();
    inspector.close();
  });

  /** Every object of the volume on every sled (notes, chunks, checkpoints). */
  async function objectsOf(volumeId: string): Promise<string[]> {
    const keys: string[] = [];
    for (const bucket of cloud().config.sledBuckets) {
      const listed = await services.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `volumes/${volumeId}/` }));
      keys.push(...(listed.Contents ?? []).map((object) => object.Key ?? ''));
    }
    return keys.sort();
  }

  /** The notes each replica of a partition holds, on its sled or in the table. */
  async function journalOf(volumeId: string, partition: number): Promise<string[]> {
    const meta = await inspector.meta(volumeId, partition);
    const found: string[] = [];
    const journal = journalStore(services.clients, cloud().config);
    for (const replica of [meta.primary, meta.secondary]) found.push(...(await journal.list(replica.sled, { volumeId, partition, replicaId: replica.replicaId })));
    return found;
  }

  const create = async (body: Record<string, unknown>) => {
    const created = await call(cloud().apiUrl, 'POST', '/volumes', body);
    expect(created.status).toBe(201);
    return created.body.volumeId as string;
  };
  const put = (volumeId: string, offset: number, body: Buffer) => call(cloud().apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${offset}`, body, OCTETS);
  const zero = (volumeId: string, body: unknown, headers: Record<string, string> = {}) => call(cloud().apiUrl, 'POST', `/volumes/${volumeId}/zero`, body, headers);
  const allocation = (volumeId: string, query = '') => call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/allocation${query}`);
  const read = async (volumeId: string, offset: number, length: number) => {
    const response = await fetch(`${cloud().apiUrl}/volumes/${volumeId}/data?offset=${offset}&length=${length}`);
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  };
  const writeEntries = (log: LogEntry[]) => log.filter((entry): entry is WriteEntry => entry.kind === 'write');

  it('zeroes a range over HTTP: reads zeros, one op per partition, no journal object or table item for it', async () => {
    // 8 MiB: 2 partitions of 4 x 1 MiB chunks.
    const volumeId = await create({ sizeBytes: 8 * MIB, partitionChunks: 4 });
    const model = Buffer.alloc(8 * MIB);
    for (const offset of [2 * MIB, 4 * MIB]) {
      const data = pattern(2 * MIB, offset / MIB);
      expect((await put(volumeId, offset, data)).status).toBe(200);
      data.copy(model, offset);
    }
    const journalsBefore = [...(await journalOf(volumeId, 0)), ...(await journalOf(volumeId, 1))].sort();
    const objectsBefore = await objectsOf(volumeId);

    const zeroed = await zero(volumeId, { offset: 3 * MIB, length: 2 * MIB });
    expect(zeroed.status).toBe(200);
    expect(zeroed.body).toEqual({ ops: [{ partition: 0, op: 2 }, { partition: 1, op: 2 }] });
    model.fill(0, 3 * MIB, 5 * MIB);
    expect((await read(volumeId, 0, 4 * MIB)).equals(model.subarray(0, 4 * MIB))).toBe(true);
    expect((await read(volumeId, 4 * MIB, 4 * MIB)).equals(model.subarray(4 * MIB))).toBe(true);

    // Each partition's op is one zero extent and names no payload: nothing was put anywhere.
    for (const partition of [0, 1]) {
      const { primary, secondary } = await inspector.logsOf(volumeId, partition);
      expect(secondary).toEqual(primary);
      const last = primary.at(-1) as WriteEntry;
      expect(last.extents).toEqual([{ offset: partition === 0 ? 3 * MIB : 4 * MIB, length: MIB, zero: true }]);
      expect(hasPayload(last)).toBe(false);
      expect(await journalOf(volumeId, partition)).not.toContain(last.noteId);
    }
    expect([...(await journalOf(volumeId, 0)), ...(await journalOf(volumeId, 1))].sort()).toEqual(journalsBefore);
    expect(await objectsOf(volumeId)).toEqual(objectsBefore);
  });

  it('zeroes 1 GiB with one op per partition touched and stores nothing; a new 1 TiB volume stores nothing either', async () => {
    // 1 GiB: 4 partitions of 256 x 1 MiB chunks.
    const volumeId = await create({ sizeBytes: GIB, partitionChunks: 256 });
    expect(await objectsOf(volumeId)).toEqual([]);
    const zeroed = await zero(volumeId, { offset: 0, length: GIB });
    expect(zeroed.status).toBe(200);
    expect(zeroed.body.ops).toEqual([0, 1, 2, 3].map((partition) => ({ partition, op: 1 })));
    for (const partition of [0, 1, 2, 3]) expect(await inspector.expectReplicasIdentical(volumeId, partition)).toBe(1);
    for (const partition of [0, 1, 2, 3]) await services.flush.flush({ volumeId, partition, uptoOp: 1 });
    expect(await objectsOf(volumeId)).toEqual([]);
    expect((await allocation(volumeId)).body.extents).toEqual([{ offset: 0, length: GIB, type: 'zero' }]);
    expect((await read(volumeId, GIB - 4 * MIB, 4 * MIB)).equals(Buffer.alloc(4 * MIB))).toBe(true);

    // 1 TiB in 64 partitions of 1024 x 16 MiB chunks: creating it puts no object and no partition item.
    const huge = await create({ sizeBytes: TIB, chunkSizeBytes: 16 * MIB, partitionChunks: 1024 });
    expect(await objectsOf(huge)).toEqual([]);
    expect(await inspector.metas.listPartitions(huge)).toEqual([]);
    expect((await allocation(huge)).body).toEqual({ volumeId: huge, offset: 0, extents: [{ offset: 0, length: TIB, type: 'zero' }] });
  });

  it('drops chunks that became zeros at the flush (zeroed, or written with zeros) from the chunk map and from the sleds', async () => {
    // 4 MiB: 1 partition of 4 x 1 MiB chunks.
    const volumeId = await create({ sizeBytes: 4 * MIB, partitionChunks: 4 });
    const model = pattern(4 * MIB, 9);
    expect((await put(volumeId, 0, model)).status).toBe(200);
    await services.flush.flush({ volumeId, partition: 0, uptoOp: 1 });
    expect(await inspector.storedChunkKeys(volumeId)).toHaveLength(4);
    expect((await allocation(volumeId)).body.extents).toEqual([{ offset: 0, length: 4 * MIB, type: 'data' }]);

    // Chunk 1 zeroed whole and half of chunk 2; chunk 3 written with zero bytes.
    expect((await zero(volumeId, { offset: MIB, length: MIB + 512 * KIB })).status).toBe(200);
    expect((await put(volumeId, 3 * MIB, Buffer.alloc(MIB))).status).toBe(200);
    model.fill(0, MIB, 2 * MIB + 512 * KIB);
    model.fill(0, 3 * MIB);
    // Before the flush the notes answer to the block.
    expect((await allocation(volumeId)).body.extents).toEqual([
      { offset: 0, length: MIB, type: 'data' },
      { offset: MIB, length: MIB + 512 * KIB, type: 'zero' },
      { offset: 2 * MIB + 512 * KIB, length: MIB + 512 * KIB, type: 'data' },
    ]);
    const result = await services.flush.flush({ volumeId, partition: 0, uptoOp: 3 });
    expect(result.flushedOp).toBe(3);
    const map = await inspector.chunkMap(volumeId, 0);
    expect(Object.keys(map!.chunks).sort()).toEqual(['0', '2']);
    // Garbage collection removed the superseded versions: two chunk objects are left, the ones the maps name.
    const stored = await inspector.storedChunkKeys(volumeId);
    expect(stored).toHaveLength(2);
    expect(stored).toEqual(await inspector.namedChunkKeys(volumeId, 0));
    expect((await read(volumeId, 0, 4 * MIB)).equals(model)).toBe(true);
    // After the flush, the process that flushed answers from the chunk map, at chunk precision:
    // chunk 2 is data (it holds some). (The API's process may still hold its leased view, whose
    // notes answer to the block: just as true, finer.)
    expect(await services.data.allocation(volumeId)).toEqual([
      { offset: 0, length: MIB, type: 'data' },
      { offset: MIB, length: MIB, type: 'zero' },
      { offset: 2 * MIB, length: MIB, type: 'data' },
      { offset: 3 * MIB, length: MIB, type: 'zero' },
    ]);
  });

  it('rebuilds a lost replica after zero notes, with the same log, and reads the same bytes', async () => {
    const volumeId = await create({ sizeBytes: 256 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(256 * KIB);
    const write = async (offset: number, length: number, seed: number) => {
      const data = pattern(length, seed);
      await services.data.write(volumeId, offset, data);
      data.copy(model, offset);
    };
    await write(0, 256 * KIB, 1);
    await services.data.zero(volumeId, 64 * KIB, 64 * KIB);
    model.fill(0, 64 * KIB, 128 * KIB);
    await services.flush.flush({ volumeId, partition: 0, uptoOp: 2 });
    await services.data.zero(volumeId, 8 * KIB, 16 * KIB);
    model.fill(0, 8 * KIB, 24 * KIB);
    await write(12 * KIB, 4 * KIB, 2);
    await services.data.zero(volumeId, 128 * KIB, 128 * KIB);
    model.fill(0, 128 * KIB);
    for (const replica of ['secondary', 'primary'] as const) {
      await services.rebuild.loseReplica(volumeId, 0, replica);
      const { primary, secondary } = await inspector.logsOf(volumeId, 0);
      // Only the notes with a payload are in the new replica's journal: the zero notes have none.
      expect((await journalOf(volumeId, 0)).sort()).toEqual([...noteIdsOf(primary), ...noteIdsOf(primary)].sort());
      expect(primary.filter((entry) => entry.op >= (secondary[0]?.op ?? Infinity))).toEqual(secondary);
      expect(writeEntries(secondary).filter((entry) => entry.extents?.some((extent) => 'zero' in extent)).length).toBeGreaterThan(0);
      expect((await createServices(cloud().config).data.read(volumeId, 0, 256 * KIB)).equals(model)).toBe(true);
    }
  });

  it('leaves zeroed chunks out of a snapshot, and its copies read them as zeros', async () => {
    const { apiUrl } = cloud();
    // 1 MiB: 64 KiB chunks, 4 a partition, 4 partitions; partition 0 written whole, then chunks 1 and 2 zeroed.
    const volumeId = await create({ sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(1024 * KIB);
    const data = pattern(256 * KIB, 5);
    expect((await put(volumeId, 0, data)).status).toBe(200);
    data.copy(model);
    expect((await zero(volumeId, { offset: 64 * KIB, length: 128 * KIB })).status).toBe(200);
    model.fill(0, 64 * KIB, 192 * KIB);
    const taken = await call(apiUrl, 'POST', `/volumes/${volumeId}/snapshots`);
    expect(taken.status).toBe(201);
    const snapshotId = taken.body.snapshotId as string;
    await eventually('the snapshot', async () => ((await call(apiUrl, 'GET', `/snapshots/${snapshotId}`)).body.state === 'completed' ? true : undefined));
    const stored = await (services.snapshots as unknown as { deps: { snapshots: { getPartition(id: string, p: number): Promise<{ chunks: Record<string, unknown> }> } } }).deps.snapshots.getPartition(snapshotId, 0);
    expect(Object.keys(stored.chunks).sort()).toEqual(['0', '3']);
    expect((await call(apiUrl, 'GET', `/snapshots/${snapshotId}`)).body.progress.chunksStored).toBe(2);

    const job = await call(apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 2 });
    expect(job.status).toBe(202);
    expect((await jobEnded(apiUrl, job.body.jobId)).state).toBe('succeeded');
    for (const target of job.body.volumeIds as string[]) {
      expect((await readVolume(apiUrl, target, 1024 * KIB)).equals(model)).toBe(true);
      const copied = (await objectsOf(target)).filter((key) => key.includes('/chunks/'));
      expect(copied).toHaveLength(2);
    }
  });

  it('returns the first result for a retried keyed zero and makes no second op; a zero is not a write under that key', async () => {
    const volumeId = await create({ sizeBytes: 8 * MIB, partitionChunks: 4 });
    const headers = { 'Idempotency-Key': 'zero-retry-1' };
    const first = await zero(volumeId, { offset: 0, length: 8 * MIB }, headers);
    const again = await zero(volumeId, { offset: 0, length: 8 * MIB }, headers);
    expect(first.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(1);
    const other = await zero(volumeId, { offset: 0, length: 4096 }, headers);
    expect(other.status).toBe(422);
    const write = await call(cloud().apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=0`, Buffer.alloc(8 * MIB).subarray(0, 4096), { ...OCTETS, ...headers });
    expect(write.status).toBe(422);
  });

  it('answers the allocation route for a range, and refuses bad zero and allocation requests with a 4xx that changes nothing', async () => {
    const volumeId = await create({ sizeBytes: 8 * MIB, partitionChunks: 4 });
    expect((await put(volumeId, 4 * MIB - 8 * KIB, pattern(16 * KIB, 3))).status).toBe(200);
    const ranged = await allocation(volumeId, `?offset=${4 * MIB - 16 * KIB}&length=${32 * KIB}`);
    expect(ranged.status).toBe(200);
    expect(ranged.body).toEqual({
      volumeId,
      offset: 4 * MIB - 16 * KIB,
      extents: [
        { offset: 4 * MIB - 16 * KIB, length: 8 * KIB, type: 'zero' },
        { offset: 4 * MIB - 8 * KIB, length: 16 * KIB, type: 'data' },
        { offset: 4 * MIB + 8 * KIB, length: 8 * KIB, type: 'zero' },
      ],
    });
    // From an offset to the end of the volume.
    expect((await allocation(volumeId, `?offset=${6 * MIB}`)).body.extents).toEqual([{ offset: 6 * MIB, length: 2 * MIB, type: 'zero' }]);

    const before = [await inspector.logsOf(volumeId, 0), await inspector.logsOf(volumeId, 1)];
    const bad: Array<[string, () => ReturnType<typeof zero>, number, string, RegExp]> = [
      ['a misaligned zero offset', () => zero(volumeId, { offset: 512, length: 4096 }), 400, 'MisalignedIo', /offset 512 is not a multiple of 4096/],
      ['a misaligned zero length', () => zero(volumeId, { offset: 0, length: 5000 }), 400, 'MisalignedIo', /length 5000 is not a multiple of 4096/],
      ['an empty zero', () => zero(volumeId, { offset: 0, length: 0 }), 400, 'MisalignedIo', /empty/],
      ['a zero past the end', () => zero(volumeId, { offset: 4 * MIB, length: 8 * MIB }), 400, 'RangeOutOfBounds', /outside volume/],
      ['a zero without a length', () => zero(volumeId, { offset: 0 }), 400, 'ValidationError', /length/],
      ['a zero with a text offset', () => zero(volumeId, { offset: '0', length: 4096 }), 400, 'ValidationError', /offset/],
      ['a zero with a negative length', () => zero(volumeId, { offset: 0, length: -4096 }), 400, 'ValidationError', /length/],
      ['a zero with an unknown field', () => zero(volumeId, { offset: 0, length: 4096, fill: 1 }), 400, 'ValidationError', /fill/],
      ['a zero with a bad key', () => zero(volumeId, { offset: 0, length: 4096 }, { 'Idempotency-Key': 'no spaces' }), 400, 'ValidationError', /Idempotency-Key/],
      ['a zero of an unknown volume', () => zero('vol-0000000000000000f', { offset: 0, length: 4096 }), 404, 'VolumeNotFound', /vol-0000000000000000f/],
      ['a misaligned allocation offset', () => allocation(volumeId, '?offset=100'), 400, 'MisalignedIo', /offset 100/],
      ['an allocation past the end', () => allocation(volumeId, `?offset=0&length=${16 * MIB}`), 400, 'RangeOutOfBounds', /outside volume/],
      ['an allocation with a bad length', () => allocation(volumeId, '?length=abc'), 400, 'ValidationError', /length/],
      ['an allocation with an unknown parameter', () => allocation(volumeId, '?size=4096'), 400, 'ValidationError', /size/],
    ];
    for (const [what, send, status, code, message] of bad) {
      const response = await send();
      expect(response.status, what).toBe(status);
      expect(response.body.error.code, what).toBe(code);
      expect(response.body.error.message, what).toMatch(message);
    }
    expect([await inspector.logsOf(volumeId, 0), await inspector.logsOf(volumeId, 1)]).toEqual(before);
  });
});
