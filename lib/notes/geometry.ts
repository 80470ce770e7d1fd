import { MisalignedIoError, PayloadTooLargeError, RangeOutOfBoundsError } from '../errors.js';
import { MIB, formatSize } from '../units/sizes.js';
import type { Volume } from '../volumes/volume.js';

/** Offsets and lengths of data I/O are multiples of this. */
export const BLOCK_SIZE = 4096;
/** Largest single write or read. */
export const MAX_IO_BYTES = 4 * MIB;

/** The part of an I/O that falls in one partition. */
export interface PartitionSlice {
  readonly partition: number;
  /** Volume offset of the slice. */
  readonly offset: number;
  readonly length: number;
  /** Where the slice starts within the request's buffer. */
  readonly bufferOffset: number;
}

/** Bytes in one partition of the volume. */
export function partitionBytes(volume: Pick<Volume, 'chunkSizeBytes' | 'partitionChunks'>): number {
  return volume.chunkSizeBytes * volume.partitionChunks;
}

/** Volume byte range [start, end) of partition `p`; the last one may be short. */
export function partitionRange(volume: Volume, partition: number): { start: number; end: number } {
  const size = partitionBytes(volume);
  const start = partition * size;
  return { start, end: Math.min(start + size, volume.sizeBytes) };
}

/** Checks that an I/O is aligned, within the size limits (a zero or an allocation query has none), and inside the volume. */
export function validateIo(volume: Volume, offset: number, length: number, what: 'write' | 'read' | 'zero' | 'allocation'): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new MisalignedIoError(`offset must be a non-negative whole number of bytes, got ${offset}`);
  }
  if (offset % BLOCK_SIZE !== 0) throw new MisalignedIoError(`offset ${offset} is not a multiple of ${BLOCK_SIZE}`);
  if (!Number.isSafeInteger(length) || length < 0) throw new MisalignedIoError(`length must be a non-negative whole number of bytes, got ${length}`);
  if (length === 0) throw new MisalignedIoError(`a ${what} must cover at least ${BLOCK_SIZE} bytes; it is empty`);
  if (length % BLOCK_SIZE !== 0) throw new MisalignedIoError(`${what} length ${length} is not a multiple of ${BLOCK_SIZE}`);
  if (length > MAX_IO_BYTES && what === 'write') throw new PayloadTooLargeError(MAX_IO_BYTES);
  if (length > MAX_IO_BYTES && what === 'read') {
    throw new MisalignedIoError(`a ${what} holds at most ${formatSize(MAX_IO_BYTES)} (${MAX_IO_BYTES} bytes); got ${length}`);
  }
  if (offset + length > volume.sizeBytes) {
    throw new RangeOutOfBoundsError(
      `bytes ${offset} to ${offset + length - 1} lie outside volume ${volume.volumeId} of ${volume.sizeBytes} bytes`,
    );
  }
}

/** Splits [offset, offset + length) at partition boundaries. */
export function splitByPartition(volume: Volume, offset: number, length: number): PartitionSlice[] {
  const size = partitionBytes(volume);
  const slices: PartitionSlice[] = [];
  let cursor = offset;
  const end = offset + length;
  while (cursor < end) {
    const partition = Math.floor(cursor / size);
    const sliceEnd = Math.min(end, (partition + 1) * size);
    slices.push({ partition, offset: cursor, length: sliceEnd - cursor, bufferOffset: cursor - offset });
    cursor = sliceEnd;
  }
  return slices;
}
