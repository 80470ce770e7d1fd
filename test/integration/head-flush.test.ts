import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { S3ChunkStore } from '../../lib/aws/s3-chunk-store.js';
import { MIN_HEAD_LEASE_MS } from '../../lib/config.js';
import { PartitionHead } from '../../lib/notes/partition-head.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { countCommands, useTwoProcesses } from '../support/processes.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;
const SIZE = 256 * KIB;
const BLOCK = 4 * KIB;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * The head that writes a partition keeps its committed notes' payloads in memory until they
 * are flushed. A flush in that process (the embedded cloud's flush poller) works from the
 * head's view and those payloads: it reads no note back from its sled and no log range.
 */
describe("a flush in the head's own process", () => {
  const cloud = useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 1024 });
  const processes = useTwoProcesses(cloud);
  let holder: Services;
  let other: Services;
  let inspector: LogInspector;
  beforeAll(() => {
    [holder, other] = processes();
    inspector = new LogInspector(cloud().config);
  });
  afterAll(() => inspector.close());

  /** A one-partition volume (4 chunks of 64 KiB, or more smaller ones) the holder wrote `count` 4 KiB blocks into, one at a time. */
  async function written(count: number, seed = 1, chunkSizeBytes = 64 * KIB, writer = holder) {
    const volume = await writer.volumes.create({ sizeBytes: SIZE, chunkSizeBytes, partitionChunks: SIZE / chunkSizeBytes });
    const model = Buffer.alloc(SIZE);
    const writes: Array<{ op: number; offset: number; data: Buffer }> = [];
    for (let i = 0; i < count; i++) {
      const offset = ((i * 37 + seed) % (SIZE / BLOCK)) * BLOCK;
      const data = pattern(BLOCK, seed * 1000 + i);
      const { ops } = await writer.data.write(volume.volumeId, offset, data);
      data.copy(model, offset);
      writes.push({ op: ops[0]!.op, offset, data });
    }
    return { volumeId: volume.volumeId, model, writes };
  }

  /** The partition's chunk objects as the primary's chunk map names them, read straight from the sleds. */
  async function chunkBytes(volumeId: string, chunkSizeBytes = 64 * KIB): Promise<{ baseOp: number; bytes: Buffer }> {
    const map = await inspector.chunkMap(volumeId, 0);
    const store = new S3ChunkStore(other.clients.s3, cloud().config.sledBuckets);
    const bytes = Buffer.alloc(SIZE);
    for (const [chunk, ref] of Object.entries(map?.chunks ?? {})) {
      const data = await store.read(ref, 0, chunkSizeBytes);
      expect(sha256(data)).toBe(ref.sha256);
      data.copy(bytes, Number(chunk) * chunkSizeBytes);
    }
    return { baseOp: map?.baseOp ?? 0, bytes };
  }

  it('reads no note back and flushes up to the newest op when the message allows it', async () => {
    const { volumeId, model, writes } = await written(40);
    const newest = writes.at(-1)!.op;
    const counts = countCommands(holder.clients);
    const result = await holder.flush.flush({ volumeId, partition: 0, uptoOp: 10, orNewer: true });
    expect(result.flushedOp).toBe(newest);
    expect(result.chunksWritten).toBe(4);
    // The chunks' bytes came from memory: no GetObject of any note, and four chunk puts.
    expect(counts.get('GetObject') ?? 0).toBe(0);
    expect(counts.get('PutObject')).toBe(4);
    const flushed = await chunkBytes(volumeId);
    expect(flushed.baseOp).toBe(newest);
    expect(flushed.bytes.equals(model)).toBe(true);
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    expect((await other.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  it('keeps the view of a head that only writes, with many writers, current without reading the log again', async () => {
    const volume = await holder.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(SIZE);
    const writing = countCommands(holder.clients);
    // Eight writers, each on its own blocks, so the model does not depend on their interleaving.
    // Concurrent writes may share an op (group commit): the newest op is the highest any got.
    let newest = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, writer) => {
        for (let i = 0; i < 8; i++) {
          const offset = (writer * 8 + i) * BLOCK;
          const data = pattern(BLOCK, 500 + writer * 8 + i);
          const { ops } = await holder.data.write(volume.volumeId, offset, data);
          newest = Math.max(newest, ops[0]!.op);
          data.copy(model, offset);
        }
      }),
    );
    // Three queries in all: the two logs' tails, and the view, built once while the writes went on.
    expect(writing.get('Query')).toBe(3);
    const counts = countCommands(holder.clients);
    const result = await holder.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 1, orNewer: true });
    expect(result.flushedOp).toBe(newest);
    // One query, for the checkpoint list: none of the log's entries (the cold path reads the tail and the range too).
    expect(counts.get('Query')).toBe(1);
    expect(counts.get('GetObject') ?? 0).toBe(0);
    expect((await chunkBytes(volume.volumeId)).bytes.equals(model)).toBe(true);
    expect((await holder.data.partitionStatus(volume.volumeId, 0)).primary.lastCommittedOp).toBe(newest);
  });

  /** A flushed volume, then eight notes on every other block of chunk 0: eight notes over eight gaps of the old chunk. */
  async function scatteredOverFlushedChunk(seed: number) {
    const { volumeId, model } = await written(64, seed);
    await holder.flush.flush({ volumeId, partition: 0, uptoOp: 0, orNewer: true });
    for (let block = 0; block < 16; block += 2) {
      const data = pattern(BLOCK, seed * 100 + block);
      await holder.data.write(volumeId, block * BLOCK, data);
      data.copy(model, block * BLOCK);
    }
    return { volumeId, model };
  }

  it('rewrites a chunk it flushed without reading anything back', async () => {
    const { volumeId, model } = await scatteredOverFlushedChunk(6);
    const counts = countCommands(holder.clients);
    const result = await holder.flush.flush({ volumeId, partition: 0, uptoOp: 0, orNewer: true });
    expect(result.chunksWritten).toBe(1);
    // The old chunk and the notes came from this process's memory.
    expect(counts.get('GetObject') ?? 0).toBe(0);
    expect(counts.get('PutObject')).toBe(1);
    expect((await chunkBytes(volumeId)).bytes.equals(model)).toBe(true);
  });

  it('elsewhere, reads the old chunk under scattered notes with one GET, not one per gap', async () => {
    const { volumeId, model } = await scatteredOverFlushedChunk(7);
    const counts = countCommands(other.clients);
    const result = await other.flush.flush({ volumeId, partition: 0, uptoOp: 1000 });
    expect(result.chunksWritten).toBe(1);
    // Eight notes in the table, read in one batch, and one ranged GET for the eight gaps between them.
    expect(counts.get('BatchGetItem')).toBe(1);
    expect(counts.get('GetObject')).toBe(1);
    expect((await chunkBytes(volumeId)).bytes.equals(model)).toBe(true);
  });

  it('stops at uptoOp when the message does not let it go further', async () => {
    const { volumeId, model, writes } = await written(20, 2);
    const result = await holder.flush.flush({ volumeId, partition: 0, uptoOp: 12 });
    expect(result.flushedOp).toBe(12);
    const asOf12 = Buffer.alloc(SIZE);
    for (const write of writes.filter((w) => w.op <= 12)) write.data.copy(asOf12, write.offset);
    expect((await chunkBytes(volumeId)).bytes.equals(asOf12)).toBe(true);
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  it('stops at the op of a snapshot that holds the volume, and goes on once the hold is released', async () => {
    const { volumeId, model, writes } = await written(10, 9);
    const deps = (holder.flush as unknown as { deps: { volumes: any; snapshots: any } }).deps;
    const snapshotId = 'snap-0123456789abcdef0';
    const volume = await holder.volumes.get(volumeId);
    await deps.snapshots.create({
      snapshotId,
      volumeId,
      state: 'creating',
      sizeBytes: SIZE,
      chunkSizeBytes: volume.chunkSizeBytes,
      partitionChunks: volume.partitionChunks,
      partitionCount: 1,
      ops: { '0': 6 },
      sleds: { '0': 0 },
      progress: { partitionsDone: 0, partitionsTotal: 1, chunksStored: 0, bytesStored: 0 },
      createdAt: new Date().toISOString(),
    });
    await deps.volumes.addHold(volumeId, snapshotId);
    const held = await holder.flush.flush({ volumeId, partition: 0, uptoOp: 10, orNewer: true });
    expect(held.flushedOp).toBe(6);
    // The holder's chunks as of op 10 went out before the hold was read: they are gone again.
    expect(await inspector.storedChunkKeys(volumeId)).toEqual(await inspector.namedChunkKeys(volumeId, 0));
    // The chunks hold exactly the first 6 writes; the reads still see all 10.
    const asOf6 = Buffer.alloc(SIZE);
    for (const write of writes.filter((w) => w.op <= 6)) write.data.copy(asOf6, write.offset);
    expect(await chunkBytes(volumeId)).toEqual({ baseOp: 6, bytes: asOf6 });
    expect((await other.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);

    await deps.volumes.removeHold(volumeId, snapshotId);
    expect((await holder.flush.flush({ volumeId, partition: 0, uptoOp: 10, orNewer: true })).flushedOp).toBe(10);
    expect(await chunkBytes(volumeId)).toEqual({ baseOp: 10, bytes: model });
  });

  it("flushes right when another process moved the chunk map under the holder's lease, and leaves no chunk behind", async () => {
    const { volumeId, model } = await written(12, 5);
    // A flush elsewhere (as on AWS) moves both maps; it appends nothing, so the holder's
    // lease and view stay, on the map as it was.
    expect((await other.flush.flush({ volumeId, partition: 0, uptoOp: 12 })).flushedOp).toBe(12);
    for (const block of [3, 33]) {
      const data = pattern(BLOCK, 5500 + block);
      await holder.data.write(volumeId, block * BLOCK, data);
      data.copy(model, block * BLOCK);
    }
    // Its chunks go out on the old map; the reads that come back meanwhile say so: it removes
    // them and flushes again from the log.
    expect((await holder.flush.flush({ volumeId, partition: 0, uptoOp: 14 })).flushedOp).toBe(14);
    expect(await chunkBytes(volumeId)).toEqual({ baseOp: 14, bytes: model });
    expect(await inspector.storedChunkKeys(volumeId)).toEqual(await inspector.namedChunkKeys(volumeId, 0));
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  it("puts the head's chunk images without assembling a note, and lays an image over an older chunk read once", async () => {
    const { volumeId, model } = await written(40, 8);
    const assembling = vi.spyOn(PartitionHead.prototype, 'startViewRead');
    try {
      // The chunks were zeros before: the holder's images are the chunks as they are.
      expect((await holder.flush.flush({ volumeId, partition: 0, uptoOp: 0, orNewer: true })).flushedOp).toBe(40);
      expect(assembling).not.toHaveBeenCalled();
      expect((await chunkBytes(volumeId)).bytes.equals(model)).toBe(true);
      // The other process writes three blocks of chunk 1: its images start at the flushed op,
      // and its flush lays them over chunk 1 as flushed. Its first write waits out the holder's
      // lease and asks for the log; it takes a lease of its own two lease lengths later.
      for (const block of [17, 18, 30]) {
        if (block === 18) await new Promise((resolve) => setTimeout(resolve, 2 * MIN_HEAD_LEASE_MS + 100));
        const data = pattern(BLOCK, 8000 + block);
        await other.data.write(volumeId, block * BLOCK, data);
        data.copy(model, block * BLOCK);
      }
      const counts = countCommands(other.clients);
      expect((await other.flush.flush({ volumeId, partition: 0, uptoOp: 0, orNewer: true })).flushedOp).toBe(43);
      expect(assembling).not.toHaveBeenCalled();
      // One GET, of chunk 1 as flushed, and one PUT.
      expect(counts.get('GetObject')).toBe(1);
      expect(counts.get('PutObject')).toBe(1);
      expect((await chunkBytes(volumeId)).bytes.equals(model)).toBe(true);
      // The holder writes again: its images, whole since its flush at op 40, missed the other's
      // ops, so they start again from its own next op and its flush lays them over chunk 1 as
      // the other flushed it (images that went on would put the old blocks 17, 18 and 30).
      for (const block of [19, 20]) {
        if (block === 20) await new Promise((resolve) => setTimeout(resolve, 2 * MIN_HEAD_LEASE_MS + 100));
        const data = pattern(BLOCK, 8100 + block);
        await holder.data.write(volumeId, block * BLOCK, data);
        data.copy(model, block * BLOCK);
      }
      expect((await holder.flush.flush({ volumeId, partition: 0, uptoOp: 0, orNewer: true })).flushedOp).toBe(45);
      expect(assembling).not.toHaveBeenCalled();
      expect((await chunkBytes(volumeId)).bytes.equals(model)).toBe(true);
    } finally {
      assembling.mockRestore();
    }
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  it('flushes the right bytes when the images do not fit in the head cache, and keeps none meanwhile', async () => {
    // 1 MiB of cache: room for 512 KiB of images, and the partition is 1 MiB of 64 KiB chunks.
    const small = createServices({ ...cloud().config, headCacheMib: 1 });
    try {
      const size = 1024 * KIB;
      const volume = await small.volumes.create({ sizeBytes: size, chunkSizeBytes: 64 * KIB, partitionChunks: 16 });
      const model = Buffer.alloc(size);
      for (let i = 0; i < 40; i++) {
        const offset = ((i * 37) % (size / BLOCK)) * BLOCK;
        const data = pattern(BLOCK, 9100 + i);
        await small.data.write(volume.volumeId, offset, data);
        data.copy(model, offset);
      }
      const cache = (small.data as any).deps.cache;
      // Images of every chunk would take 1 MiB: the head stopped keeping any, and holds the notes
      // (the buffers of the images it dropped wait as spares, within the images' half).
      expect(cache.imageSize.images).toBe(0);
      expect(cache.imageSize.spares).toBeLessThanOrEqual(512 * KIB);
      expect(cache.size).toBe(40 * BLOCK + cache.imageSize.spares);
      expect((await small.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 0, orNewer: true })).flushedOp).toBe(40);
      const map = await inspector.chunkMap(volume.volumeId, 0);
      const store = new S3ChunkStore(other.clients.s3, cloud().config.sledBuckets);
      for (const [chunk, ref] of Object.entries(map?.chunks ?? {})) {
        const expected = model.subarray(Number(chunk) * 64 * KIB, (Number(chunk) + 1) * 64 * KIB);
        expect((await store.read(ref, 0, 64 * KIB)).equals(expected), `chunk ${chunk}`).toBe(true);
      }
      expect((await other.data.read(volume.volumeId, 0, size)).equals(model)).toBe(true);
    } finally {
      small.clients.destroy();
    }
  });

  it('reads the notes back when it runs in another process: a hundred table notes per call, a GET per sled note', async () => {
    // The other process never saw the payloads.
    const { volumeId, model } = await written(40, 3);
    let counts = countCommands(other.clients);
    let result = await other.flush.flush({ volumeId, partition: 0, uptoOp: 1000, orNewer: true });
    expect(result.flushedOp).toBe(40);
    // One call per chunk built (4), each for fewer than a hundred live notes.
    expect(counts.get('BatchGetItem')).toBe(4);
    expect(counts.get('GetObject') ?? 0).toBe(0);
    expect((await chunkBytes(volumeId)).bytes.equals(model)).toBe(true);
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);

    // The same writes with every note on its sled: one ranged GET per live note.
    const sledWriter = createServices({ ...cloud().config, tableNoteBytes: 0 });
    try {
      const sledNotes = await written(40, 3, 64 * KIB, sledWriter);
      counts = countCommands(other.clients);
      result = await other.flush.flush({ volumeId: sledNotes.volumeId, partition: 0, uptoOp: 1000, orNewer: true });
      expect(result.flushedOp).toBe(40);
      expect(counts.get('GetObject')).toBeGreaterThanOrEqual(30);
      expect(counts.get('BatchGetItem') ?? 0).toBe(0);
      expect((await chunkBytes(sledNotes.volumeId)).bytes.equals(sledNotes.model)).toBe(true);
    } finally {
      sledWriter.clients.destroy();
    }
  });

  it('puts each chunk exactly as of the flushed op while the head keeps writing', async () => {
    // 16 chunks: more than a flush puts at once, so the later ones are built while writes land.
    const { volumeId, writes } = await written(64, 4, 16 * KIB);
    // Four writers into the upper half, whose chunks the flush builds last.
    const more = Promise.all(
      [0, 1, 2, 3].map(async (writer) => {
        for (let i = 0; i < 10; i++) {
          const offset = (SIZE / BLOCK / 2 + ((writer * 10 + i) * 11) % (SIZE / BLOCK / 2)) * BLOCK;
          const data = pattern(BLOCK, 9000 + writer * 10 + i);
          const { ops } = await holder.data.write(volumeId, offset, data);
          writes.push({ op: ops[0]!.op, offset, data });
        }
      }),
    );
    const flushes: number[] = [];
    for (let i = 0; i < 3; i++) flushes.push((await holder.flush.flush({ volumeId, partition: 0, uptoOp: 0, orNewer: true })).flushedOp);
    await more;
    expect(flushes[0]).toBeGreaterThanOrEqual(64);
    // The chunk objects hold exactly the writes up to the map's op: none later leaked in.
    const flushed = await chunkBytes(volumeId, 16 * KIB);
    const expected = Buffer.alloc(SIZE);
    for (const write of [...writes].sort((a, b) => a.op - b.op)) if (write.op <= flushed.baseOp) write.data.copy(expected, write.offset);
    expect(flushed.bytes.equals(expected)).toBe(true);
    const model = Buffer.alloc(SIZE);
    for (const write of [...writes].sort((a, b) => a.op - b.op)) write.data.copy(model, write.offset);
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    expect((await other.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  it('serves the holder its own unflushed writes with no call at all', async () => {
    const { volumeId, model } = await written(8, 5);
    // The first read builds the view; the head's lease then makes it the truth.
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    const data = pattern(BLOCK, 77);
    await holder.data.write(volumeId, 5 * BLOCK, data);
    data.copy(model, 5 * BLOCK);
    const counts = countCommands(holder.clients);
    expect((await holder.data.read(volumeId, 4 * BLOCK, 3 * BLOCK)).equals(model.subarray(4 * BLOCK, 7 * BLOCK))).toBe(true);
    expect(Object.fromEntries(counts)).toEqual({});
  });

  it('signs every note and chunk PUT with the digest it computed, so the signer hashes no body again', async () => {
    // Every note on its sled, as PutObject.
    const services = createServices({ ...cloud().config, tableNoteBytes: 0 });
    // The SDK's SHA-256, which its signer uses: the size of every input it hashes from now on.
    type Hash = { update(data: string | Uint8Array): void };
    const { prototype } = (services.clients.s3.config as unknown as { sha256: { prototype: Hash } }).sha256;
    const original = prototype.update;
    const hashed: number[] = [];
    const update = vi.spyOn(prototype, 'update').mockImplementation(function (this: Hash, data) {
      hashed.push(typeof data === 'string' ? data.length : data.byteLength);
      return Reflect.apply(original, this, [data]);
    });
    const puts: Array<{ key: string; digest: string | undefined; body: Buffer }> = [];
    services.clients.s3.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => (args: any) => {
        if (context.commandName === 'PutObjectCommand') {
          const body = Buffer.from(args.request.body as Uint8Array);
          puts.push({ key: args.request.path as string, digest: args.request.headers['x-amz-content-sha256'], body });
        }
        return next(args);
      },
      { step: 'deserialize', name: 'testPutRecorder' },
    );
    try {
      const volume = await services.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
      for (let i = 0; i < 8; i++) await services.data.write(volume.volumeId, i * 3 * BLOCK, pattern(BLOCK, 700 + i));
      const result = await services.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 8 });
      expect(result.chunksWritten).toBe(2);
      expect(puts.filter((put) => put.key.includes('/chunks/'))).toHaveLength(2);
      expect(puts.length).toBe(2 + 2 * 8); // every note on both journals, and the chunks
      for (const put of puts) expect(put.digest, put.key).toBe(sha256(put.body));
      // The signer hashed its canonical requests, never a body of a note (4 KiB) or a chunk.
      expect(hashed.length).toBeGreaterThan(0);
      expect(Math.max(...hashed)).toBeLessThan(BLOCK);
    } finally {
      update.mockRestore();
      services.clients.destroy();
    }
  });
});
