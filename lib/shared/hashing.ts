import { createHash } from 'node:crypto';

/** The SHA-256 of `data`, as lowercase hex: the form chunks, notes and checkpoints are verified in. */
export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
