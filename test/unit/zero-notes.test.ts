import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextChunkMap, planChunks, replacedBy, type PlanView } from '../../lib/flush/flush-plan.js';
import type { PartitionGeometry } from '../../lib/flush/ports.js';
import { ExtentIndex } from '../../lib/notes/extent-index.js';
import { allocationOf, mergeRuns } from '../../lib/notes/head/allocation.js';
import { planRead, singleSource, type MemoryHolds } from '../../lib/notes/head/read-plan.js';
import { applyEntry } from '../../lib/notes/head/view-tracker.js';
import { extentsOf, hasPayload, payloadBytes, spanOf } from '../../lib/notes/note-extents.js';
import { noteIdsOf } from '../../lib/notes/note-ids.js';
import type { ChunkMap, ChunkRef, NoteExtent, PartitionMeta, WriteEntry } from '../../lib/notes/ports.js';
import { logEntryItem, logEntryOf } from '../../lib/aws/partitions-table-schema.js';
import { allZeros, zerosSha256 } from '../../lib/shared/zeros.js';
import { sha256Hex } from '../../lib/shared/hashing.js';

// Small numbers keep the cases readable: 16-byte chunks, 4 chunks a partition, partition 1.
const CHUNK = 16;
const START = 4 * CHUNK;
const GEOMETRY: PartitionGeometry = { start: START, chunkSizeBytes: CHUNK, partitionChunks: 4, volumeBytes: 3 * START };
const GRID = { start: START, chunkSizeBytes: CHUNK };
const NOTHING_HELD: MemoryHolds = { note: () => false, chunk: () => false };
const META: PartitionMeta = {
  volumeId: 'vol-0123456789abcdef0',
  partition: 1,
  epoch: 1,
  primary: { replicaId: 'r1', sled: 0 },
  secondary: { replicaId: 'r2', sled: 1 },
  replicaGeneration: 2,
};
const ref = (key: string): ChunkRef => ({ sled: 0, key, sha256: `sha-${key}` });
const mapOf = (chunks: Record<string, ChunkRef>, baseOp = 0): ChunkMap => ({ volumeId: META.volumeId, partition: 1, replicaId: 'r1', baseOp, chunks, version: 1 });

/** A write entry of the new shape: extents in the partition (offsets relative to START). */
function entry(op: number, extents: NoteExtent[], noteId = `n${op}`): WriteEntry {
  const shifted = extents.map((extent) => ({ ...extent, offset: START + extent.offset }));
  return { kind: 'write', op, epoch: 1, noteId, ...spanOf(shifted), sha256: 'sha', extents: shifted };
}
const zero = (offset: number, length: number): NoteExtent => ({ offset, length, zero: true });
const data = (offset: number, length: number, at: number): NoteExtent => ({ offset, length, at });

/** Byte by byte: `z` (a zero extent), `<noteId>@<payload byte>`, or `.` where no op after the base wrote. */
function resolve(index: ExtentIndex, offset = START, length = 4 * CHUNK): string[] {
  const bytes = new Array<string>(length).fill('.');
  for (const extent of index.lookup(offset, length)) {
    for (let i = 0; i < extent.length; i++) {
      bytes[extent.offset - offset + i] = extent.zero ? 'z' : `${extent.noteId}@${extent.offset + i - extent.noteOffset}`;
    }
  }
  return bytes;
}

describe('the log entry format with extents', () => {
  it('reads an entry of the old shape as one data extent over its payload', () => {
    const old: WriteEntry = { kind: 'write', op: 3, epoch: 1, noteId: 'n3', offset: 4096, length: 8192, sha256: 'x' };
    expect(extentsOf(old)).toEqual([{ offset: 4096, length: 8192, at: 0 }]);
    expect(hasPayload(old)).toBe(true);
    // Stored and read back from the partitions table, it is still that (no extents attribute).
    const item = logEntryItem({ volumeId: 'v', partition: 0, replicaId: 'r1' }, old);
    expect('extents' in item).toBe(false);
    expect(logEntryOf(item)).toEqual(old);
  });

  it('places data extents without `at` right after the data extents before them; zero extents take no payload', () => {
    const extents: NoteExtent[] = [{ offset: 8192, length: 4096 }, zero(0, 4096), { offset: 0, length: 4096 }];
    expect(extentsOf({ offset: 0, length: 12288, extents })).toEqual([
      { offset: 8192, length: 4096, at: 0 },
      { offset: 0, length: 4096, zero: true },
      { offset: 0, length: 4096, at: 4096 },
    ]);
    expect(payloadBytes(extents)).toBe(8192);
    expect(spanOf(extents)).toEqual({ offset: 0, length: 12288 });
  });

  it('round-trips a multi-extent entry through the table schema', () => {
    const grouped = entry(7, [data(0, 16, 0), zero(16, 32), data(8, 4, 16)]);
    expect(logEntryOf(logEntryItem({ volumeId: 'v', partition: 1, replicaId: 'r1' }, grouped))).toEqual(grouped);
  });

  it('names no journal note for a zero note (nothing to copy, sweep or collect), but names a grouped note', () => {
    const entries = [entry(1, [zero(0, 64)], 'z1'), entry(2, [data(0, 4, 0), zero(4, 4)], 'g2'), { kind: 'epoch', op: 3, epoch: 2 } as const];
    expect(hasPayload(entries[0]!)).toBe(false);
    expect(noteIdsOf(entries)).toEqual(['g2']);
  });
});

describe('ExtentIndex with zero and multi-extent notes', () => {
  it("applies a note's extents in order: a later extent wins where they overlap", () => {
    const index = new ExtentIndex();
    applyEntry(index, entry(1, [data(0, 8, 0), data(4, 8, 8), zero(6, 2)], 'g'));
    expect(resolve(index, START, 16)).toEqual(['g@0', 'g@1', 'g@2', 'g@3', 'g@8', 'g@9', 'z', 'z', 'g@12', 'g@13', 'g@14', 'g@15', '.', '.', '.', '.']);
    expect(index.lastOp).toBe(1);
  });

  it('lets a zero note cover older data, newer data cover the zeros, and ignores a replayed op', () => {
    const index = new ExtentIndex();
    applyEntry(index, entry(1, [data(0, 32, 0)], 'a'));
    applyEntry(index, entry(2, [zero(8, 48)], 'z'));
    applyEntry(index, entry(3, [data(16, 4, 0)], 'b'));
    applyEntry(index, entry(2, [data(0, 64, 0)], 'replayed'));
    const bytes = resolve(index);
    expect(bytes.slice(0, 8)).toEqual(['a@0', 'a@1', 'a@2', 'a@3', 'a@4', 'a@5', 'a@6', 'a@7']);
    expect(bytes.slice(8, 16).every((b) => b === 'z')).toBe(true);
    expect(bytes.slice(16, 20)).toEqual(['b@0', 'b@1', 'b@2', 'b@3']);
    expect(bytes.slice(20, 56).every((b) => b === 'z')).toBe(true);
    expect(bytes.slice(56).every((b) => b === '.')).toBe(true);
    expect(index.covers(START + 50, 4)).toBe(true);
  });

  it('matches a byte-by-byte model for any sequence of data and zero notes with several extents', () => {
    const extent = fc.record({ offset: fc.nat(63), length: fc.integer({ min: 1, max: 64 }), zero: fc.boolean() });
    fc.assert(
      fc.property(fc.array(fc.array(extent, { minLength: 1, maxLength: 4 }), { maxLength: 12 }), (notes) => {
        const index = new ExtentIndex();
        const model = new Array<string>(64).fill('.');
        notes.forEach((parts, i) => {
          let at = 0;
          const extents: NoteExtent[] = parts.map(({ offset, length, zero: isZero }) => {
            const clipped = Math.min(length, 64 - offset);
            if (isZero) return zero(offset, clipped);
            const made = data(offset, clipped, at);
            at += clipped;
            return made;
          });
          applyEntry(index, entry(i + 1, extents, `n${i + 1}`));
          for (const e of extentsOf({ offset: 0, length: 0, extents })) {
            for (let b = 0; b < e.length; b++) model[e.offset + b] = e.zero ? 'z' : `n${i + 1}@${e.at + b}`;
          }
        });
        expect(resolve(index)).toEqual(model);
      }),
    );
  });
});

describe('reads of zero extents', () => {
  it('plans zero extents as zeros: no note read and no chunk read, even over a flushed chunk', () => {
    const index = new ExtentIndex();
    applyEntry(index, entry(1, [data(0, 8, 0)], 'a'));
    applyEntry(index, entry(2, [zero(4, 24)], 'z'));
    const base = mapOf({ 0: ref('c0'), 1: ref('c1'), 2: ref('c2') });
    const plan = planRead(index.lookup(START, 48), base, GRID, START, 48, NOTHING_HELD);
    expect(plan.notesInJournal).toEqual([{ noteId: 'a', start: 0, length: 4, at: 0 }]);
    expect(plan.zeros).toEqual([[START + 4, START + 28]]);
    // Chunk 1 is all zeros now: only chunk 0 is not (its first 4 bytes come from note a) and chunk 2 from byte 28.
    expect(plan.chunksOnSleds.map((read) => [read.ref.key, read.pieces])).toEqual([['c1', [[START + 28, START + 32]]], ['c2', [[START + 32, START + 48]]]]);
    expect(singleSource(index.lookup(START + 8, 8), base, GRID, START + 8, 8)).toBeUndefined();
  });

  it('reads a data extent of a grouped note from its offset in the payload', () => {
    const index = new ExtentIndex();
    applyEntry(index, entry(1, [data(16, 8, 0), data(0, 8, 8)], 'g'));
    const plan = planRead(index.lookup(START, 24), undefined, GRID, START, 24, NOTHING_HELD);
    expect(plan.notesInJournal).toEqual([
      { noteId: 'g', start: 8, length: 8, at: 0 },
      { noteId: 'g', start: 0, length: 8, at: 16 },
    ]);
    expect(plan.zeros).toEqual([[START + 8, START + 16]]);
  });
});

describe('the flush plan with zeros', () => {
  const viewOf = (index: ExtentIndex, base?: ChunkMap): PlanView => ({ meta: META, base, index });

  it('drops a chunk that zero extents cover whole, and rebuilds a partly zeroed one through the view', () => {
    const index = new ExtentIndex(4);
    applyEntry(index, entry(5, [zero(0, 24)], 'z'));
    const plan = planChunks(GEOMETRY, viewOf(index, mapOf({ 0: ref('c0'), 1: ref('c1') }, 4)), 5, undefined)!;
    expect(plan.map((chunk) => [chunk.chunk, chunk.source.kind])).toEqual([
      [0, 'zeros'],
      [1, 'view'],
    ]);
  });

  it('drops a chunk that one note of written zeros wrote whole (no object copied)', () => {
    const index = new ExtentIndex();
    index.apply(START + CHUNK, CHUNK, { op: 1, noteId: 'nzeros', noteOffset: START + CHUNK, noteLength: CHUNK, sha256: zerosSha256(CHUNK) });
    index.apply(START + 2 * CHUNK, CHUNK, { op: 2, noteId: 'ndata', noteOffset: START + 2 * CHUNK, noteLength: CHUNK, sha256: sha256Hex('x') });
    const plan = planChunks(GEOMETRY, viewOf(index), 2, undefined)!;
    expect(plan.map((chunk) => [chunk.chunk, chunk.source.kind])).toEqual([
      [1, 'zeros'],
      [2, 'note'],
    ]);
  });

  it('removes dropped chunks from the next map, so their old versions are superseded', () => {
    const before = mapOf({ 0: ref('c0'), 1: ref('c1'), 3: ref('c3') }, 4);
    const next = nextChunkMap(before, { volumeId: META.volumeId, partition: 1, replicaId: 'r1' }, 6, { 1: ref('c1b') }, [0, 2]);
    expect(Object.keys(next.chunks).sort()).toEqual(['1', '3']);
    expect(next.chunks['1']).toEqual(ref('c1b'));
    expect(replacedBy(before, next).map((r) => r.key).sort()).toEqual(['c0', 'c1']);
  });

  it('tells all-zero bytes apart from any others, at any length', () => {
    expect(allZeros(Buffer.alloc(0))).toBe(true);
    expect(allZeros(Buffer.alloc(200_000))).toBe(true);
    const one = Buffer.alloc(200_000);
    one[199_999] = 1;
    expect(allZeros(one)).toBe(false);
    expect(allZeros(one.subarray(0, 199_999))).toBe(true);
    expect(zerosSha256(4096)).toBe(sha256Hex(Buffer.alloc(4096)));
  });
});

describe('the allocation map', () => {
  it('is all zeros for a partition nothing wrote', () => {
    expect(allocationOf([], undefined, GRID, START, 64)).toEqual([{ offset: START, length: 64, type: 'zero' }]);
  });

  it('overlays notes (block precision) on the chunk map (chunk precision), merged and covering the range', () => {
    const index = new ExtentIndex(4);
    applyEntry(index, entry(5, [data(40, 4, 0)], 'a'));
    applyEntry(index, entry(6, [zero(4, 8)], 'z'));
    const base = mapOf({ 0: ref('c0'), 1: ref('c1') }, 4);
    expect(allocationOf(index.lookup(START, 64), base, GRID, START, 64)).toEqual([
      { offset: START, length: 4, type: 'data' },
      { offset: START + 4, length: 8, type: 'zero' },
      { offset: START + 12, length: 20, type: 'data' },
      { offset: START + 32, length: 8, type: 'zero' },
      { offset: START + 40, length: 4, type: 'data' },
      { offset: START + 44, length: 20, type: 'zero' },
    ]);
    // A sub-range is clipped to it.
    expect(allocationOf(index.lookup(START + 6, 10), base, GRID, START + 6, 10)).toEqual([
      { offset: START + 6, length: 6, type: 'zero' },
      { offset: START + 12, length: 4, type: 'data' },
    ]);
  });

  it('merges the runs of consecutive partitions where they meet and agree', () => {
    expect(
      mergeRuns([
        [
          { offset: 0, length: 8, type: 'data' },
          { offset: 8, length: 8, type: 'zero' },
        ],
        [{ offset: 16, length: 16, type: 'zero' }],
        [{ offset: 32, length: 4, type: 'data' }],
      ]),
    ).toEqual([
      { offset: 0, length: 8, type: 'data' },
      { offset: 8, length: 24, type: 'zero' },
      { offset: 32, length: 4, type: 'data' },
    ]);
  });
});
