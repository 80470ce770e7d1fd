import { describe, expect, it } from 'vitest';
import type { FrozenImage, FrozenImages } from '../../lib/notes/chunk-images.js';
import { ExtentIndex } from '../../lib/notes/extent-index.js';
import type { ChunkMap, ChunkRef, PartitionMeta } from '../../lib/notes/ports.js';
import { chunkLength, chunkLocation, followingMap, nextChunkMap, planChunks, replacedBy, touchedChunks, type PlanView } from '../../lib/flush/flush-plan.js';
import type { PartitionGeometry } from '../../lib/flush/ports.js';

// The flush plan is pure: a view (map, extent index, images) in, chunks and maps out. Small
// numbers keep the cases readable: 16-byte chunks, 4 chunks a partition, partition 1 of a volume.
const CHUNK = 16;
const VOLUME = 'vol-0123456789abcdef0';
const START = 4 * CHUNK;
const GEOMETRY: PartitionGeometry = { start: START, chunkSizeBytes: CHUNK, partitionChunks: 4, volumeBytes: 3 * START };
const META: PartitionMeta = {
  volumeId: VOLUME,
  partition: 1,
  epoch: 1,
  primary: { replicaId: 'r1', sled: 0 },
  secondary: { replicaId: 'r2', sled: 1 },
  replicaGeneration: 2,
};

interface Write {
  readonly op: number;
  /** Offset within the partition. */
  readonly at: number;
  readonly length: number;
  readonly noteId?: string;
  readonly sha256?: string;
}

/** An index of the writes after `afterOp`, as the head builds it from the log (in op order). */
function indexOf(afterOp: number, writes: readonly Write[]): ExtentIndex {
  const index = new ExtentIndex(afterOp);
  for (const { op, at, length, noteId = `n${op}.t`, sha256 } of writes) {
    index.apply(START + at, length, { op, noteId, noteOffset: START + at, noteLength: length, ...(sha256 ? { sha256 } : {}) });
  }
  return index;
}

const ref = (key: string): ChunkRef => ({ sled: 0, key, sha256: `sha-${key}` });
const mapOf = (baseOp: number, chunks: Record<string, ChunkRef>, version = 1): ChunkMap => ({ volumeId: VOLUME, partition: 1, replicaId: 'r1', baseOp, chunks, version });
const viewOf = (index: ExtentIndex, base?: ChunkMap, images?: FrozenImages): PlanView => ({ meta: META, base, index, ...(images ? { images } : {}) });

/** Which op supplies each byte of a planned chunk assembled through the view (0: the base's byte). */
function opsOf(plan: NonNullable<ReturnType<typeof planChunks>>[number]): number[] {
  if (plan.source.kind !== 'view') throw new Error(`chunk ${plan.chunk} is not read through the view`);
  const ops = new Array<number>(plan.length).fill(0);
  for (const extent of plan.source.extents) for (let i = 0; i < extent.length; i++) ops[extent.offset - plan.start + i] = extent.op;
  return ops;
}

describe('flush plan', () => {
  it('plans the one chunk that ops inside it touched, fed by their extents', () => {
    const index = indexOf(0, [
      { op: 1, at: CHUNK + 2, length: 4 },
      { op: 2, at: CHUNK + 8, length: 4 },
    ]);
    const plan = planChunks(GEOMETRY, viewOf(index), 2, undefined);
    expect(plan?.map((chunk) => [chunk.chunk, chunk.start, chunk.length])).toEqual([[1, START + CHUNK, CHUNK]]);
    expect(opsOf(plan![0]!)).toEqual([0, 0, 1, 1, 1, 1, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0]);
  });

  it('plans every chunk an op spanning several chunks touched, and only those', () => {
    const index = indexOf(0, [{ op: 1, at: CHUNK - 4, length: CHUNK + 8 }]);
    expect(touchedChunks(GEOMETRY, index)).toEqual([0, 1, 2]);
    const plan = planChunks(GEOMETRY, viewOf(index), 1, undefined)!;
    expect(plan.map((chunk) => chunk.chunk)).toEqual([0, 1, 2]);
    expect(opsOf(plan[0]!)).toEqual([...new Array(12).fill(0), 1, 1, 1, 1]);
    expect(opsOf(plan[1]!)).toEqual(new Array(CHUNK).fill(1));
    expect(opsOf(plan[2]!)).toEqual([1, 1, 1, 1, ...new Array(12).fill(0)]);
  });

  it('plans a partial last chunk at its length, and nothing past the end of the volume', () => {
    // The volume ends 8 bytes into the partition's chunk 2: chunk 2 is short, chunk 3 does not exist.
    const geometry = { ...GEOMETRY, volumeBytes: START + 2 * CHUNK + 8 };
    expect([0, 1, 2, 3].map((chunk) => chunkLength(geometry, chunk))).toEqual([CHUNK, CHUNK, 8, 0]);
    const index = indexOf(0, [{ op: 1, at: 2 * CHUNK, length: 8 }]);
    const plan = planChunks(geometry, viewOf(index), 1, undefined)!;
    expect(plan.map((chunk) => [chunk.chunk, chunk.start, chunk.length])).toEqual([[2, START + 2 * CHUNK, 8]]);
    expect(opsOf(plan[0]!)).toEqual(new Array(8).fill(1));
  });

  it('lets the newest op win where ops overwrite each other', () => {
    const index = indexOf(0, [
      { op: 1, at: 0, length: CHUNK },
      { op: 2, at: 4, length: 8 },
      { op: 3, at: 6, length: 2 },
    ]);
    const [chunk] = planChunks(GEOMETRY, viewOf(index), 3, undefined)!;
    expect(opsOf(chunk!)).toEqual([1, 1, 1, 1, 2, 2, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1]);
    if (chunk!.source.kind !== 'view') throw new Error('read through the view');
    expect(chunk!.source.extents.map((extent) => extent.noteId)).toEqual(['n1.t', 'n2.t', 'n3.t', 'n2.t', 'n1.t']);
  });

  it('copies a sled note that is exactly one chunk, and reads a table note or a covered one through the view', () => {
    const index = indexOf(0, [
      { op: 1, at: 0, length: CHUNK, noteId: 'whole', sha256: 'sha-whole' },
      { op: 2, at: CHUNK, length: CHUNK, noteId: 'whole-in-table.t', sha256: 'sha-table' },
      { op: 3, at: 2 * CHUNK, length: CHUNK, noteId: 'overwritten', sha256: 'sha-overwritten' },
      { op: 4, at: 2 * CHUNK, length: 4, noteId: 'small', sha256: 'sha-small' },
    ]);
    const plan = planChunks(GEOMETRY, viewOf(index), 4, undefined)!;
    expect(plan.map((chunk) => chunk.source.kind)).toEqual(['note', 'view', 'view']);
    expect(plan[0]!.source).toEqual({ kind: 'note', noteId: 'whole', sha256: 'sha-whole', from: META.primary });
    // A sled note over two chunks is neither chunk's object: each is read through the view.
    const spanning = indexOf(0, [{ op: 1, at: 0, length: 2 * CHUNK, noteId: 'two-chunks', sha256: 'sha-two' }]);
    expect(planChunks(GEOMETRY, viewOf(spanning), 1, undefined)!.map((chunk) => chunk.source.kind)).toEqual(['view', 'view']);
  });

  it('plans on top of an existing chunk map: only the chunks after its base, and the map keeps the rest', () => {
    const before = mapOf(5, { '0': ref('c0-op5'), '1': ref('c1-op5'), '3': ref('c3-op5') }, 7);
    // The index starts after the base: ops 6 and 7 touched chunks 1 and 2 only.
    const index = indexOf(5, [
      { op: 6, at: CHUNK, length: 4 },
      { op: 7, at: 2 * CHUNK + 12, length: 4 },
    ]);
    const plan = planChunks(GEOMETRY, viewOf(index, before), 7, before)!;
    expect(plan.map((chunk) => chunk.chunk)).toEqual([1, 2]);
    const written = { '1': ref('c1-op7'), '2': ref('c2-op7') };
    const next = nextChunkMap(before, { volumeId: VOLUME, partition: 1, replicaId: 'r1' }, 7, written);
    expect(next).toEqual(mapOf(7, { '0': ref('c0-op5'), '1': ref('c1-op7'), '2': ref('c2-op7'), '3': ref('c3-op5') }, 8));
    // What the move frees: the old version of chunk 1 alone.
    expect(replacedBy(before, next)).toEqual([ref('c1-op5')]);
    // The secondary, behind at op 5, follows the primary's map under its own id; one at op 7 stays.
    expect(followingMap({ ...before, replicaId: 'r2', version: 3 }, next, 'r2')).toEqual({ ...next, replicaId: 'r2', version: 4 });
    expect(followingMap({ ...next, replicaId: 'r2', version: 9 }, next, 'r2')).toBeUndefined();
  });

  it('uses an image that shows the chunk as of the view, over the base only when it holds just the blocks written since', () => {
    const before = mapOf(5, { '0': ref('c0-op5'), '1': ref('c1-op5') });
    const index = indexOf(5, [
      { op: 6, at: 0, length: 4 },
      { op: 7, at: CHUNK, length: 4 },
      { op: 8, at: 2 * CHUNK, length: 4 },
    ]);
    const whole: FrozenImage = { bytes: Buffer.alloc(CHUNK, 1), written: undefined };
    const partial: FrozenImage = { bytes: Buffer.alloc(CHUNK, 2), written: new Uint8Array(4) };
    const images: FrozenImages = { op: 8, fromOp: 5, chunks: new Map([[0, whole], [1, partial], [2, partial]]) };
    const plan = planChunks(GEOMETRY, viewOf(index, before, images), 8, before)!;
    expect(plan.map((chunk) => chunk.source)).toEqual([
      { kind: 'image', image: whole },
      { kind: 'image', image: partial, base: ref('c1-op5') },
      // Chunk 2 was zeros in the base: the image is the chunk as it is.
      { kind: 'image', image: partial },
    ]);
    // Images frozen at another op than the view's do not show it; begun after its base, only the whole ones do.
    const kinds = (stale: FrozenImages) => planChunks(GEOMETRY, viewOf(index, before, stale), 8, before)!.map((chunk) => chunk.source.kind);
    expect(kinds({ ...images, op: 7 })).toEqual(['view', 'view', 'view']);
    expect(kinds({ ...images, fromOp: 6 })).toEqual(['image', 'view', 'view']);
  });

  it('plans nothing when there is nothing to flush', () => {
    const before = mapOf(9, { '0': ref('c0-op9') });
    // No view (the log held nothing past the base), or the base is at the target already.
    expect(planChunks(GEOMETRY, undefined, 9, before)).toBeUndefined();
    expect(planChunks(GEOMETRY, viewOf(indexOf(9, []), before), 9, before)).toBeUndefined();
    expect(planChunks(GEOMETRY, viewOf(indexOf(0, []), undefined), 0, undefined)).toBeUndefined();
    // Ops past the base that wrote no bytes (an epoch entry): no chunk, but the maps still move.
    const epochOnly = indexOf(9, []);
    epochOnly.apply(0, 0, { op: 10, noteId: '', noteOffset: 0 });
    expect(planChunks(GEOMETRY, viewOf(epochOnly, before), 10, before)).toEqual([]);
    expect(replacedBy(before, nextChunkMap(before, { volumeId: VOLUME, partition: 1, replicaId: 'r1' }, 10, {}))).toEqual([]);
  });

  it('puts each chunk of each attempt under a key of its own', () => {
    const first = chunkLocation(VOLUME, 1, 2, 7, 'aaaaaaaa', 4);
    expect(first.key).toBe(`volumes/${VOLUME}/chunks/1/2/op-7-aaaaaaaa`);
    expect(first.sled).toBeGreaterThanOrEqual(0);
    expect(first.sled).toBeLessThan(4);
    expect(chunkLocation(VOLUME, 1, 2, 7, 'bbbbbbbb', 4)).toEqual({ sled: first.sled, key: `volumes/${VOLUME}/chunks/1/2/op-7-bbbbbbbb` });
  });
});
