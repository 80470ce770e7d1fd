import { BLOCK_SIZE, type BlockTag, type BlockValue } from './types.js';

/**
 * Block tags: how a recorder learns, cheaply, which write a block it read came from. Each
 * written 4 KiB block starts with a 16-byte tag (magic, client, seq, block index) followed by
 * filler derived from the tag, so a reader can parse the tag back and verify the whole block
 * (a torn or corrupted block is reported as 'unknown', not as the write it half resembles).
 */

/** "SLDT": marks a tagged block. */
export const TAG_MAGIC = 0x534c4454;
/** Bytes at the start of a block taken by the tag. */
export const TAG_SIZE = 16;

/** A deterministic, never-zero seed from a tag (so the filler is never all zeros). */
function seedOf(clientId: number, seq: number, blockIndex: number): number {
  let h = 0x811c9dc5;
  for (const v of [clientId, seq, blockIndex]) {
    h = Math.imul(h ^ (v >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (v >>> 16), 0x01000193) >>> 0;
  }
  return h === 0 ? 0x9e3779b9 : h;
}

/** Fills (or, with `check`, compares) the bytes after the tag with xorshift32 output. */
function filler(block: Buffer, seed: number, check: boolean): boolean {
  let x = seed;
  for (let i = TAG_SIZE; i < BLOCK_SIZE; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if (!check) block.writeUInt32LE(x, i);
    else if (block.readUInt32LE(i) !== x) return false;
  }
  return true;
}

function checkIds(clientId: number, seq: number, blockIndex: number): void {
  for (const [name, v] of [['clientId', clientId], ['seq', seq], ['blockIndex', blockIndex]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${name} must be a uint32, got ${v}`);
  }
}

/**
 * Writes a unique tag and its filler over the 4 KiB block of `buf` at `at` (a byte offset
 * inside `buf`, default 0). `blockIndex` is the block's absolute index on the device.
 */
export function tagBlock(buf: Buffer, clientId: number, seq: number, blockIndex: number, at = 0): void {
  checkIds(clientId, seq, blockIndex);
  if (at % BLOCK_SIZE !== 0 || at + BLOCK_SIZE > buf.length) throw new RangeError(`no whole block at ${at} in a buffer of ${buf.length}`);
  const block = buf.subarray(at, at + BLOCK_SIZE);
  block.writeUInt32LE(TAG_MAGIC, 0);
  block.writeUInt32LE(clientId, 4);
  block.writeUInt32LE(seq, 8);
  block.writeUInt32LE(blockIndex, 12);
  filler(block, seedOf(clientId, seq, blockIndex), false);
}

/**
 * A payload for a write of `length` bytes at device `offset`: every block tagged with
 * (clientId, seq, its block index). Returns the buffer and the values the write carries.
 */
export function taggedPayload(clientId: number, seq: number, offset: number, length: number): { buf: Buffer; values: BlockValue[] } {
  if (offset % BLOCK_SIZE !== 0 || length % BLOCK_SIZE !== 0) throw new RangeError(`range ${offset}+${length} is not aligned to ${BLOCK_SIZE}`);
  const buf = Buffer.allocUnsafe(length);
  const values: BlockValue[] = [];
  for (let i = 0; i < length / BLOCK_SIZE; i++) {
    const block = offset / BLOCK_SIZE + i;
    tagBlock(buf, clientId, seq, block, i * BLOCK_SIZE);
    values.push({ tag: { client: clientId, seq, block } });
  }
  return { buf, values };
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i += 4) if (block.readUInt32LE(i) !== 0) return false;
  return true;
}

/**
 * Parses each 4 KiB block of `buf`: `{ tag }` for an intact tagged block, 'zero' for all
 * zeros, 'unknown' for anything else (including a tagged block whose filler does not match).
 * Pass `verify: false` to trust the 16-byte tag without checking the filler.
 */
export function readTags(buf: Buffer, verify = true): BlockValue[] {
  if (buf.length % BLOCK_SIZE !== 0) throw new RangeError(`buffer of ${buf.length} bytes is not whole blocks`);
  const out: BlockValue[] = [];
  for (let at = 0; at < buf.length; at += BLOCK_SIZE) {
    const block = buf.subarray(at, at + BLOCK_SIZE);
    if (block.readUInt32LE(0) === TAG_MAGIC) {
      const tag: BlockTag = { client: block.readUInt32LE(4), seq: block.readUInt32LE(8), block: block.readUInt32LE(12) };
      if (!verify || filler(block, seedOf(tag.client, tag.seq, tag.block), true)) {
        out.push({ tag });
        continue;
      }
    }
    out.push(isZero(block) ? 'zero' : 'unknown');
  }
  return out;
}

/** A short human form of a block value: `c3#17@5` (client 3, seq 17, block 5), `zero`, `unknown`. */
export function formatValue(v: BlockValue): string {
  return typeof v === 'string' ? v : `c${v.tag.client}#${v.tag.seq}@${v.tag.block}`;
}
