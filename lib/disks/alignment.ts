/**
 * Sub-block I/O on disks whose data path works in 4 KiB blocks. NBD clients that follow the
 * advertised 512-byte minimum can send I/O aligned to 512 bytes only: nbdfuse passes a file's
 * writes through as they come, and e2fsprogs writes the 1 KiB ext superblock at byte 1024.
 * Reads widen to whole blocks; writes that do not cover whole blocks are read-modify-written
 * under a per-volume gate (WriteGate), so no write of this process lands between the read and
 * the write-back of a block.
 */

/** The data path's block: offsets and lengths of volume and snapshot I/O are multiples of it. */
export const DATA_BLOCK = 4096;
/** The smallest I/O a disk accepts (and NBD advertises): a sector. */
export const SECTOR = 512;

/** [start, end) widened to whole data blocks. */
export function widen(offset: number, length: number): { start: number; end: number } {
  return { start: Math.floor(offset / DATA_BLOCK) * DATA_BLOCK, end: Math.ceil((offset + length) / DATA_BLOCK) * DATA_BLOCK };
}

/** True when the range covers whole data blocks. */
export function isBlockAligned(offset: number, length: number): boolean {
  return offset % DATA_BLOCK === 0 && length % DATA_BLOCK === 0;
}

/** Reads any sector-aligned range through a reader of whole data blocks. */
export async function readWidened(read: (offset: number, length: number) => Promise<Buffer>, offset: number, length: number): Promise<Buffer> {
  if (isBlockAligned(offset, length)) return read(offset, length);
  const { start, end } = widen(offset, length);
  const whole = await read(start, end - start);
  return whole.subarray(offset - start, offset - start + length);
}

/**
 * Whole-block writes run concurrently (shared); a read-modify-write runs alone (exclusive):
 * it waits for the writes in flight, and writes that arrive meanwhile wait for it.
 */
export class WriteGate {
  private exclusiveTail: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();

  /** True when nothing is queued or running (the gate can be dropped). */
  get idle(): boolean {
    return this.inFlight.size === 0 && this.pending === 0;
  }

  private pending = 0;

  async shared<T>(run: () => Promise<T>): Promise<T> {
    // Wait out every read-modify-write queued so far, including those queued while waiting.
    for (let tail = this.exclusiveTail; ; tail = this.exclusiveTail) {
      await tail;
      if (tail === this.exclusiveTail) break;
    }
    // No await between the check above and joining inFlight: a later exclusive sees this write.
    const running = run();
    this.inFlight.add(running);
    try {
      return await running;
    } finally {
      this.inFlight.delete(running);
    }
  }

  exclusive<T>(run: () => Promise<T>): Promise<T> {
    this.pending += 1;
    const result = this.exclusiveTail.then(async () => {
      await Promise.allSettled([...this.inFlight]);
      return run();
    });
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.exclusiveTail = settled.then(() => {
      this.pending -= 1;
    });
    return result;
  }
}
