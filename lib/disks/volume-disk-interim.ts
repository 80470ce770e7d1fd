/**
 * INTERIM zero and allocation for volume disks, kept in this one file so that it is replaced
 * in one place. Sleds has no zero notes (a note with a range and no payload, one op) and no
 * allocation map on the heads yet; both are being added to the partition head. Until then:
 *
 * - `zeroByWriting` zeroes a range by writing zero blocks, one piece of at most one chunk per
 *   write (each piece one op per partition, acknowledged on both replicas). Correct, but
 *   neither one op nor cheap: it stores real notes of zeros, and a fast zero is refused.
 * - `allocationAllData` reports the whole range as data (no holes, no known zeros): true for
 *   reads, merely unhelpful to sparse-aware copies.
 *
 * When zero notes and the allocation map land: have VolumeDataDisk.zero call the head's zero
 * note, VolumeDataDisk.allocation the head's map, set VolumeDataDisk.zeroIsFast to true, and
 * delete this file.
 */
import type { DiskExtent } from './ports.js';

/** The writes `zeroByWriting` issues (VolumeDataService.write satisfies it). */
export interface ZeroWriter {
  write(volumeId: string, offset: number, data: Buffer): Promise<unknown>;
}

/** How many zero pieces are in flight at once for one zeroing. */
const ZERO_CONCURRENCY = 8;

/** Zero and allocation, the interim way. */
export class InterimZeroAndAllocation {
  // One shared buffer of zeros per chunk size: never written to, so it can back every piece.
  private readonly zeros = new Map<number, Buffer>();

  constructor(private readonly writer: ZeroWriter) {}

  /**
   * Zeroes [offset, offset + length) of a volume of chunks of `chunkSizeBytes` by writing zero
   * buffers in pieces that never cross a chunk boundary. NOT one op: replaced by zero notes.
   */
  async zeroByWriting(volumeId: string, chunkSizeBytes: number, offset: number, length: number): Promise<void> {
    let zeros = this.zeros.get(chunkSizeBytes);
    if (!zeros) {
      zeros = Buffer.alloc(chunkSizeBytes);
      this.zeros.set(chunkSizeBytes, zeros);
    }
    const pieces: Array<{ at: number; length: number }> = [];
    for (let at = offset; at < offset + length; ) {
      const piece = Math.min(chunkSizeBytes - (at % chunkSizeBytes), offset + length - at);
      pieces.push({ at, length: piece });
      at += piece;
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let piece = pieces[next++]; piece; piece = pieces[next++]) {
        await this.writer.write(volumeId, piece.at, zeros.subarray(0, piece.length));
      }
    };
    await Promise.all(Array.from({ length: Math.min(ZERO_CONCURRENCY, pieces.length) }, worker));
  }

  /** The whole range as one run of data: no allocation map exists yet. */
  allocationAllData(length: number): readonly DiskExtent[] {
    return [{ length, zero: false, hole: false }];
  }
}
