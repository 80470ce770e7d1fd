import { describe, expect, it } from 'vitest';
import { formatValue, readTags, TAG_MAGIC, tagBlock, taggedPayload } from '../support/history/tags.js';
import { BLOCK_SIZE } from '../support/history/types.js';

/** Block tags: a write's blocks carry a parseable, verifiable identity. */
describe('history block tags', () => {
  it('writes a 16-byte tag (magic, client, seq, block) and parses it back', () => {
    const buf = Buffer.alloc(BLOCK_SIZE);
    tagBlock(buf, 7, 123456, 42);
    expect(buf.readUInt32LE(0)).toBe(TAG_MAGIC);
    expect([buf.readUInt32LE(4), buf.readUInt32LE(8), buf.readUInt32LE(12)]).toEqual([7, 123456, 42]);
    expect(readTags(buf)).toEqual([{ tag: { client: 7, seq: 123456, block: 42 } }]);
  });

  it('fills the rest of the block with filler that depends on the tag', () => {
    const a = Buffer.alloc(BLOCK_SIZE);
    const b = Buffer.alloc(BLOCK_SIZE);
    tagBlock(a, 1, 1, 0);
    tagBlock(b, 1, 2, 0);
    expect(a.subarray(16).equals(b.subarray(16))).toBe(false);
    expect(a.subarray(16).every((x) => x === 0)).toBe(false);
  });

  it('parses each block of a buffer: tag, zero or unknown', () => {
    const { buf, values } = taggedPayload(3, 9, 5 * BLOCK_SIZE, 2 * BLOCK_SIZE);
    expect(values).toEqual([{ tag: { client: 3, seq: 9, block: 5 } }, { tag: { client: 3, seq: 9, block: 6 } }]);
    const garbage = Buffer.alloc(BLOCK_SIZE, 0xab);
    const device = Buffer.concat([buf, Buffer.alloc(BLOCK_SIZE), garbage]);
    expect(readTags(device)).toEqual([...values, 'zero', 'unknown']);
  });

  it('reports a torn block (tag intact, filler not) as unknown, unless verification is off', () => {
    const buf = Buffer.alloc(BLOCK_SIZE);
    tagBlock(buf, 2, 3, 4);
    buf.fill(0, 2048); // the second half of the block never landed
    expect(readTags(buf)).toEqual(['unknown']);
    expect(readTags(buf, false)).toEqual([{ tag: { client: 2, seq: 3, block: 4 } }]);
    const flipped = Buffer.alloc(BLOCK_SIZE);
    tagBlock(flipped, 2, 3, 4);
    flipped[4000] = (flipped[4000] as number) ^ 1;
    expect(readTags(flipped)).toEqual(['unknown']);
  });

  it('tags the block at an offset inside a larger buffer, leaving the others alone', () => {
    const buf = Buffer.alloc(3 * BLOCK_SIZE);
    tagBlock(buf, 1, 1, 10, BLOCK_SIZE);
    expect(readTags(buf)).toEqual(['zero', { tag: { client: 1, seq: 1, block: 10 } }, 'zero']);
  });

  it('rejects misuse: partial blocks, ids beyond uint32', () => {
    expect(() => tagBlock(Buffer.alloc(100), 1, 1, 1)).toThrow(RangeError);
    expect(() => tagBlock(Buffer.alloc(BLOCK_SIZE), -1, 1, 1)).toThrow(/clientId/);
    expect(() => tagBlock(Buffer.alloc(BLOCK_SIZE), 1, 2 ** 32, 1)).toThrow(/seq/);
    expect(() => readTags(Buffer.alloc(100))).toThrow(RangeError);
    expect(() => taggedPayload(1, 1, 512, BLOCK_SIZE)).toThrow(RangeError);
  });

  it('formats values for reports', () => {
    expect(formatValue({ tag: { client: 3, seq: 17, block: 5 } })).toBe('c3#17@5');
    expect(formatValue('zero')).toBe('zero');
  });
});
