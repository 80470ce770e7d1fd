import { sha256Hex } from './hashing.js';

const ZERO_BLOCK = Buffer.alloc(64 * 1024);
const zeroDigests = new Map<number, string>();

/** True when every byte is zero: such a chunk is not stored (thin provisioning; an absent chunk reads as zeros). */
export function allZeros(bytes: Buffer): boolean {
  for (let from = 0; from < bytes.length; from += ZERO_BLOCK.length) {
    const to = Math.min(bytes.length, from + ZERO_BLOCK.length);
    if (!bytes.subarray(from, to).equals(ZERO_BLOCK.subarray(0, to - from))) return false;
  }
  return true;
}

/** The SHA-256 of `length` zero bytes (a note or chunk of written zeros has it). */
export function zerosSha256(length: number): string {
  let digest = zeroDigests.get(length);
  if (digest === undefined) {
    digest = sha256Hex(Buffer.alloc(length));
    if (zeroDigests.size < 16) zeroDigests.set(length, digest);
  }
  return digest;
}
