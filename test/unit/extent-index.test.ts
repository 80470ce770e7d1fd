import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExtentIndex } from '../../lib/notes/extent-index.js';

/** Resolves a range byte by byte from the index: the op that wrote each byte, 0 where none did. */
function opsByByte(index: ExtentIndex, offset: number, length: number): number[] {
  const bytes = new Array<number>(length).fill(0);
  let cursor = offset;
  for (const extent of index.lookup(offset, length)) {
    expect(extent.offset).toBeGreaterThanOrEqual(cursor);
    for (let i = 0; i < extent.length; i++) bytes[extent.offset - offset + i] = extent.op;
    cursor = extent.offset + extent.length;
  }
  return bytes;
}

describe('ExtentIndex', () => {
  it('resolves overlapping and partly overlapping writes, newest op first', () => {
    const index = new ExtentIndex();
    index.apply(0, 100, { op: 1, noteId: 'a', noteOffset: 0 });
    index.apply(20, 10, { op: 2, noteId: 'b', noteOffset: 20 });
    index.apply(90, 30, { op: 3, noteId: 'c', noteOffset: 90 });
    index.apply(10, 5, { op: 4, noteId: 'd', noteOffset: 10 });
    expect(index.lookup(0, 130)).toEqual([
      { offset: 0, length: 10, op: 1, noteId: 'a', noteOffset: 0 },
      { offset: 10, length: 5, op: 4, noteId: 'd', noteOffset: 10 },
      { offset: 15, length: 5, op: 1, noteId: 'a', noteOffset: 0 },
      { offset: 20, length: 10, op: 2, noteId: 'b', noteOffset: 20 },
      { offset: 30, length: 60, op: 1, noteId: 'a', noteOffset: 0 },
      { offset: 90, length: 30, op: 3, noteId: 'c', noteOffset: 90 },
    ]);
    expect(index.lookup(120, 10)).toEqual([]);
  });

  it('ignores a replayed op', () => {
    const index = new ExtentIndex();
    index.apply(0, 10, { op: 2, noteId: 'b', noteOffset: 0 });
    index.apply(0, 10, { op: 1, noteId: 'a', noteOffset: 0 });
    expect(index.lookup(0, 10)[0]?.op).toBe(2);
    expect(index.lastOp).toBe(2);
  });

  it('matches a byte-array model for random overlapping writes', () => {
    const size = 256;
    const write = fc.record({ offset: fc.nat(size - 1), length: fc.integer({ min: 1, max: 64 }) });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 60 }), fc.nat(size - 1), fc.integer({ min: 1, max: size }), (writes, readAt, readLength) => {
        const index = new ExtentIndex();
        const model = new Array<number>(2 * size + 64).fill(0);
        writes.forEach((w, i) => {
          index.apply(w.offset, w.length, { op: i + 1, noteId: `n${i}`, noteOffset: w.offset });
          for (let b = w.offset; b < w.offset + w.length; b++) model[b] = i + 1;
        });
        expect(opsByByte(index, readAt, readLength)).toEqual(model.slice(readAt, readAt + readLength));
      }),
      { numRuns: 300 },
    );
  });

  it('clones: ops applied to the original after the clone do not reach the copy', () => {
    const index = new ExtentIndex(5);
    index.apply(0, 100, { op: 6, noteId: 'a', noteOffset: 0 });
    const copy = index.clone();
    index.apply(40, 20, { op: 7, noteId: 'b', noteOffset: 40 });
    expect(copy.lastOp).toBe(6);
    expect(copy.afterOp).toBe(5);
    expect(copy.lookup(0, 100)).toEqual([{ offset: 0, length: 100, op: 6, noteId: 'a', noteOffset: 0 }]);
    expect(index.lookup(0, 100).map((extent) => extent.op)).toEqual([6, 7, 6]);
  });

  it('rebases onto a chunk map at op n: segments of ops up to n go, later ones and the last op stay', () => {
    const index = new ExtentIndex();
    index.apply(0, 100, { op: 1, noteId: 'a', noteOffset: 0, noteLength: 100, sha256: 'x' });
    index.apply(20, 10, { op: 2, noteId: 'b', noteOffset: 20 });
    index.apply(50, 10, { op: 3, noteId: 'c', noteOffset: 50 });
    const rebased = index.rebase(2);
    expect(rebased.afterOp).toBe(2);
    expect(rebased.lastOp).toBe(3);
    expect(rebased.lookup(0, 100)).toEqual([{ offset: 50, length: 10, op: 3, noteId: 'c', noteOffset: 50 }]);
    // The original is untouched, and the note's length and digest travel with its segments.
    expect(index.lookup(0, 20)).toEqual([{ offset: 0, length: 20, op: 1, noteId: 'a', noteOffset: 0, noteLength: 100, sha256: 'x' }]);
  });

  it('says whether any op wrote into a range, without listing the extents', () => {
    const index = new ExtentIndex();
    index.apply(100, 50, { op: 1, noteId: 'a', noteOffset: 100 });
    index.apply(0, 0, { op: 2, noteId: '', noteOffset: 0 });
    expect(index.covers(0, 100)).toBe(false);
    expect(index.covers(0, 101)).toBe(true);
    expect(index.covers(149, 10)).toBe(true);
    expect(index.covers(150, 10)).toBe(false);
    expect(index.covers(120, 1)).toBe(true);
    // Property: covers agrees with lookup.
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 1, max: 40 })), { maxLength: 20 }), fc.nat(250), fc.integer({ min: 1, max: 60 }), (writes, offset, length) => {
        const random = new ExtentIndex();
        writes.forEach(([at, len], i) => random.apply(at, len, { op: i + 1, noteId: `n${i}`, noteOffset: at }));
        expect(random.covers(offset, length)).toBe(random.lookup(offset, length).length > 0);
      }),
    );
  });
});
