import { describe, expect, it } from 'vitest';
import { ChunkImages, forEachRun } from '../../lib/notes/chunk-images.js';
import { BLOCK_SIZE } from '../../lib/notes/geometry.js';
import { HeadCache } from '../../lib/notes/head-cache.js';

const CHUNK = 4 * BLOCK_SIZE;
/** Partition 1 of a volume of two partitions of 3 chunks of 4 blocks: it starts at byte 3 * CHUNK. */
const GEOMETRY = { start: 3 * CHUNK, chunkSizeBytes: CHUNK, partitionChunks: 3, volumeBytes: 6 * CHUNK };
const block = (fill: number, blocks = 1) => Buffer.alloc(blocks * BLOCK_SIZE, fill);
/** Room for any number of images. */
const unbounded = () => new HeadCache(1 << 30).imageBudget(() => undefined);

describe('ChunkImages', () => {
  it('applies writes in op order, across chunk borders, and refuses an op out of order', () => {
    const images = new ChunkImages(GEOMETRY, unbounded(), 10);
    // Blocks 3 of chunk 0 and 0 of chunk 1.
    expect(images.apply(11, GEOMETRY.start + 3 * BLOCK_SIZE, Buffer.concat([block(1), block(2)]))).toBe(true);
    expect(images.apply(13, GEOMETRY.start, block(3))).toBe(false);
    expect(images.apply(11, GEOMETRY.start, block(3))).toBe(false);
    expect(images.throughOp).toBe(11);
    const frozen = images.freeze();
    expect(frozen).toMatchObject({ op: 11, fromOp: 10 });
    expect([...frozen.chunks.keys()]).toEqual([0, 1]);
    expect(frozen.chunks.get(0)!.bytes.equals(Buffer.concat([block(0, 3), block(1)]))).toBe(true);
    expect([...frozen.chunks.get(0)!.written!]).toEqual([0, 0, 0, 1]);
    expect(frozen.chunks.get(1)!.bytes.equals(Buffer.concat([block(2), block(0, 3)]))).toBe(true);
    expect([...frozen.chunks.get(1)!.written!]).toEqual([1, 0, 0, 0]);
  });

  it('is a whole chunk once every block was written', () => {
    const images = new ChunkImages(GEOMETRY, unbounded(), 0);
    for (let i = 0; i < 4; i++) images.apply(i + 1, GEOMETRY.start + CHUNK + i * BLOCK_SIZE, block(i + 1));
    const image = images.freeze().chunks.get(1)!;
    expect(image.written).toBeUndefined();
    expect(image.bytes.equals(Buffer.concat([block(1), block(2), block(3), block(4)]))).toBe(true);
  });

  it('copies a frozen image before the next write changes it', () => {
    const images = new ChunkImages(GEOMETRY, unbounded(), 0);
    images.apply(1, GEOMETRY.start, block(1));
    const frozen = images.freeze().chunks.get(0)!;
    images.apply(2, GEOMETRY.start, block(2));
    images.apply(3, GEOMETRY.start + BLOCK_SIZE, block(3));
    expect(frozen.bytes.equals(Buffer.concat([block(1), block(0, 3)]))).toBe(true);
    expect([...frozen.written!]).toEqual([1, 0, 0, 0]);
    const later = images.freeze().chunks.get(0)!;
    expect(later.bytes.equals(Buffer.concat([block(2), block(3), block(0, 2)]))).toBe(true);
    expect([...later.written!]).toEqual([1, 1, 0, 0]);
  });

  it('after a flush, fills the blocks no write reached from what the flush put, writes since included', () => {
    const images = new ChunkImages(GEOMETRY, unbounded(), 0);
    images.apply(1, GEOMETRY.start, block(1));
    const flushed = images.freeze();
    images.apply(2, GEOMETRY.start + 2 * BLOCK_SIZE, block(2));
    // The chunk as the flush put it at op 1: the base's blocks under the image's.
    const put = Buffer.concat([block(1), block(7), block(8), block(9)]);
    expect(flushed.op).toBe(1);
    images.settle(0, 1, put);
    const image = images.freeze().chunks.get(0)!;
    expect(image.written).toBeUndefined();
    expect(image.bytes.equals(Buffer.concat([block(1), block(7), block(2), block(9)]))).toBe(true);
    // The flush's bytes are not changed.
    expect(put.equals(Buffer.concat([block(1), block(7), block(8), block(9)]))).toBe(true);
  });

  it('takes the flushed bytes as they are when no write came since the freeze, and refuses an op it has not reached', () => {
    const images = new ChunkImages(GEOMETRY, unbounded(), 5);
    images.apply(6, GEOMETRY.start, block(1));
    images.freeze();
    const put = Buffer.concat([block(1), block(4, 3)]);
    images.settle(0, 7, put);
    expect(images.freeze().chunks.get(0)!.written).toBeDefined();
    images.settle(0, 6, put);
    // A chunk only ops before the images touched: the flush's bytes, at the images' newest op only.
    images.settle(2, 6, block(5, 4));
    images.settle(1, 4, block(6, 4));
    const frozen = images.freeze();
    expect(frozen.chunks.get(0)).toEqual({ bytes: put, written: undefined });
    expect(frozen.chunks.get(2)!.bytes.equals(block(5, 4))).toBe(true);
    expect(frozen.chunks.has(1)).toBe(false);
  });

  it('takes its memory from the cache, refuses a write past half of it, and gives the memory back', () => {
    const cache = new HeadCache(5 * CHUNK);
    const images = new ChunkImages(GEOMETRY, cache.imageBudget(() => undefined), 0);
    expect(images.apply(1, GEOMETRY.start, block(1))).toBe(true);
    expect(images.apply(2, GEOMETRY.start + CHUNK, block(1))).toBe(true);
    expect(cache.size).toBe(2 * CHUNK);
    // A third chunk would pass half the cache: nothing of the write is applied.
    expect(images.apply(3, GEOMETRY.start + CHUNK + 3 * BLOCK_SIZE, block(2, 2))).toBe(false);
    expect(images.throughOp).toBe(2);
    const frozen = images.freeze().chunks.get(1)!;
    expect(frozen.bytes.equals(Buffer.concat([block(1), block(0, 3)]))).toBe(true);
    images.apply(3, GEOMETRY.start, block(2));
    const chunk0 = images.freeze().chunks.get(0)!.bytes;
    images.apply(4, GEOMETRY.start + BLOCK_SIZE, block(5));
    images.dispose();
    // The buffers of images nobody else holds wait for the next images: chunk 0's copy of
    // op 4 does, chunk 1's, frozen above, does not. A new image takes it, zeroed.
    expect(cache.size).toBe(CHUNK);
    const next = new ChunkImages(GEOMETRY, cache.imageBudget(() => undefined), 0);
    next.apply(1, GEOMETRY.start + 2 * CHUNK, block(6));
    const reused = next.freeze().chunks.get(2)!.bytes;
    expect(reused).not.toBe(chunk0);
    expect(reused.equals(Buffer.concat([block(6), block(0, 3)]))).toBe(true);
    expect(cache.size).toBe(CHUNK);
    expect(frozen.bytes.equals(Buffer.concat([block(1), block(0, 3)]))).toBe(true);
    next.dispose();
  });

  it('makes room by dropping the oldest cached entries', () => {
    const cache = new HeadCache(4 * CHUNK);
    const notes = cache.partition('v', 0);
    notes.putNote('n1', block(1, 4));
    notes.putNote('n2', block(2, 6));
    expect(cache.size).toBe(2.5 * CHUNK);
    // 3.5 chunks with the image: fits.
    new ChunkImages(GEOMETRY, cache.imageBudget(() => undefined), 0).apply(1, GEOMETRY.start, block(3));
    expect(notes.note('n1')).toBeDefined();
    // 4.5 chunks with a second image: the oldest note goes.
    new ChunkImages(GEOMETRY, cache.imageBudget(() => undefined), 0).apply(1, GEOMETRY.start, block(3));
    expect(notes.note('n1')).toBeUndefined();
    expect(notes.note('n2')).toBeDefined();
    expect(cache.size).toBe(3.5 * CHUNK);
  });

  it('gives spare image buffers up before any cached note', () => {
    const cache = new HeadCache(4 * CHUNK);
    const images = new ChunkImages(GEOMETRY, cache.imageBudget(() => undefined), 0);
    images.apply(1, GEOMETRY.start, block(1));
    images.dispose();
    expect(cache.imageSize).toEqual({ images: 0, spares: CHUNK });
    const notes = cache.partition('v', 0);
    notes.putNote('n1', block(1, 6));
    notes.putNote('n2', block(2, 8));
    // 4.5 chunks with the spare: the spare goes, both notes stay.
    expect(cache.imageSize.spares).toBe(0);
    expect(notes.note('n1')).toBeDefined();
    expect(cache.size).toBe(3.5 * CHUNK);
  });

  it("makes room by dropping the images of the head that wrote least recently, and refuses what does not fit alone", () => {
    const cache = new HeadCache(4 * CHUNK);
    const dropped: string[] = [];
    const heads = new Map<string, ChunkImages>();
    const head = (name: string) => {
      const images = new ChunkImages(GEOMETRY, cache.imageBudget(() => {
        dropped.push(name);
        heads.get(name)?.dispose();
      }), 0);
      heads.set(name, images);
      return images;
    };
    const [a, b] = [head('a'), head('b')];
    expect(a.apply(1, GEOMETRY.start, block(1))).toBe(true);
    expect(b.apply(1, GEOMETRY.start, block(1))).toBe(true);
    // a writes again: b is now the one that wrote least recently.
    expect(a.apply(2, GEOMETRY.start + BLOCK_SIZE, block(2))).toBe(true);
    expect(head('c').apply(1, GEOMETRY.start, block(3))).toBe(true);
    expect(dropped).toEqual(['b']);
    expect(cache.size).toBe(2 * CHUNK);
    // A write into two more chunks cannot fit even once every other head's images are gone.
    expect(a.apply(3, GEOMETRY.start + 2 * CHUNK - BLOCK_SIZE, block(4, 2))).toBe(false);
    expect(dropped).toEqual(['b', 'c']);
    expect(a.throughOp).toBe(2);
  });

  it('names runs of written and unwritten blocks', () => {
    const runs: Array<[number, number]> = [];
    forEachRun(Uint8Array.from([0, 1, 1, 0, 0, 1]), 0, (from, to) => runs.push([from, to]));
    expect(runs).toEqual([
      [0, BLOCK_SIZE],
      [3 * BLOCK_SIZE, 5 * BLOCK_SIZE],
    ]);
  });
});
