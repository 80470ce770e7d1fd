/**
 * What the server advertises for an opened device: its transmission flags, truthfully, and a
 * check that its size constraints are ones the protocol allows.
 */
import { TransmissionFlag as F } from './constants.js';
import type { BlockDevice, BlockSizes } from './ports.js';

/** The 16-bit transmission flags for `device`; SEND_DF only once structured replies are on. */
export function transmissionFlags(device: BlockDevice, structured: boolean): number {
  let flags = F.HAS_FLAGS | F.SEND_FLUSH | F.SEND_CACHE;
  if (device.readOnly) flags |= F.READ_ONLY;
  else flags |= F.SEND_FUA | F.SEND_TRIM | F.SEND_WRITE_ZEROES | F.SEND_FAST_ZERO;
  if (device.canMultiConn) flags |= F.CAN_MULTI_CONN;
  if (structured) flags |= F.SEND_DF;
  return flags;
}

/** Says what is wrong with a device's size constraints, or returns null if they are valid. */
export function blockSizesProblem(sizes: BlockSizes, size: number): string | null {
  const { minimum, preferred, maximum } = sizes;
  const powerOfTwo = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
  if (!powerOfTwo(minimum) || minimum > 65536) return `minimum block size ${minimum} must be a power of 2 up to 65536`;
  if (!powerOfTwo(preferred) || preferred < Math.max(minimum, 512)) {
    return `preferred block size ${preferred} must be a power of 2 of at least ${Math.max(minimum, 512)}`;
  }
  if (!Number.isInteger(maximum) || maximum < preferred || maximum > 0xffffffff) {
    return `maximum payload ${maximum} must be at least the preferred block size and fit 32 bits`;
  }
  if (!Number.isSafeInteger(size) || size < 0 || size % minimum !== 0) return `size ${size} must be a multiple of ${minimum}`;
  return null;
}
