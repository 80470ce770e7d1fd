/**
 * A BlockDevice in memory with a real sparse allocation map: pages never written (or trimmed,
 * or zeroed without NO_HOLE) hold no memory and report as holes, pages zeroed with NO_HOLE
 * report as allocated zeroes, and written pages report as data.
 */
import { AllocationFlag } from './constants.js';
import { NbdConfigError } from './errors.js';
import type { BlockDevice, BlockSizes, Extent, WriteOptions, ZeroOptions } from './ports.js';

/** Options of a MemoryBlockDevice. */
export interface MemoryDeviceOptions {
  /** Size in bytes; a multiple of the page size. */
  readonly size: number;
  readonly readOnly?: boolean;
  readonly canMultiConn?: boolean;
  /** Defaults: minimum 4 KiB, preferred 1 MiB (the Sleds chunk size), maximum 32 MiB. */
  readonly blockSizes?: BlockSizes;
  /** Allocation granularity; defaults to the minimum block size. */
  readonly pageSize?: number;
}

/** Operation counts, so tests can check that refused requests changed nothing. */
export interface MemoryDeviceCounters {
  reads: number;
  writes: number;
  zeroes: number;
  trims: number;
  flushes: number;
  caches: number;
}

/** Default size constraints of a memory device. */
export const MEMORY_DEVICE_BLOCK_SIZES: BlockSizes = { minimum: 4096, preferred: 1024 * 1024, maximum: 32 * 1024 * 1024 };

// A page zeroed with NO_HOLE: allocated, reads as zeroes, holds no buffer.
const ALLOCATED_ZERO = 'zero';
type Page = Buffer | typeof ALLOCATED_ZERO;

/** A sparse in-memory disk. */
export class MemoryBlockDevice implements BlockDevice {
  readonly size: number;
  readonly readOnly: boolean;
  readonly canMultiConn: boolean;
  readonly blockSizes: BlockSizes;
  /** Operations performed so far. */
  readonly counters: MemoryDeviceCounters = { reads: 0, writes: 0, zeroes: 0, trims: 0, flushes: 0, caches: 0 };
  private readonly pageSize: number;
  private readonly pages = new Map<number, Page>();

  constructor(options: MemoryDeviceOptions) {
    this.size = options.size;
    this.readOnly = options.readOnly ?? false;
    this.canMultiConn = options.canMultiConn ?? true;
    this.blockSizes = options.blockSizes ?? MEMORY_DEVICE_BLOCK_SIZES;
    this.pageSize = options.pageSize ?? this.blockSizes.minimum;
    if (!Number.isSafeInteger(this.size) || this.size < 0 || this.size % this.pageSize !== 0) {
      throw new NbdConfigError(`A memory device's size (${this.size}) must be a multiple of its page size (${this.pageSize}).`);
    }
  }

  /** Bytes of memory the allocated pages hold. */
  get allocatedBytes(): number {
    let bytes = 0;
    for (const page of this.pages.values()) if (page !== ALLOCATED_ZERO) bytes += page.length;
    return bytes;
  }

  /** Reads the range (synchronously; also used by tests to inspect contents). */
  readSync(offset: number, length: number): Buffer {
    this.checkRange(offset, length);
    const out = Buffer.alloc(length);
    this.forEachPage(offset, length, (index, start, end, at) => {
      const page = this.pages.get(index);
      if (page !== undefined && page !== ALLOCATED_ZERO) page.copy(out, at, start, end);
    });
    return out;
  }

  /** Reads `length` bytes at `offset`. */
  async read(offset: number, length: number): Promise<Buffer> {
    this.counters.reads += 1;
    return this.readSync(offset, length);
  }

  /** Writes `data` at `offset`. */
  async write(offset: number, data: Buffer, _options: WriteOptions): Promise<void> {
    this.checkWritable(offset, data.length);
    this.counters.writes += 1;
    this.forEachPage(offset, data.length, (index, start, end, at) => {
      let page = this.pages.get(index);
      if (start === 0 && end === this.pageSize) {
        this.pages.set(index, Buffer.from(data.subarray(at, at + this.pageSize)));
        return;
      }
      if (page === undefined || page === ALLOCATED_ZERO) {
        page = Buffer.alloc(this.pageSize);
        this.pages.set(index, page);
      }
      data.copy(page, start, at, at + (end - start));
    });
  }

  /** Zeroes the range: whole pages become holes, or allocated zeroes under NO_HOLE. */
  async zero(offset: number, length: number, options: ZeroOptions): Promise<void> {
    this.checkWritable(offset, length);
    this.counters.zeroes += 1;
    this.forEachPage(offset, length, (index, start, end) => {
      if (start === 0 && end === this.pageSize) {
        if (options.noHole) this.pages.set(index, ALLOCATED_ZERO);
        else this.pages.delete(index);
        return;
      }
      const page = this.pages.get(index);
      if (page !== undefined && page !== ALLOCATED_ZERO) page.fill(0, start, end);
    });
  }

  /** Drops the whole pages inside the range (they read as zeroes afterwards). */
  async trim(offset: number, length: number): Promise<void> {
    this.checkWritable(offset, length);
    this.counters.trims += 1;
    this.forEachPage(offset, length, (index, start, end) => {
      if (start === 0 && end === this.pageSize) this.pages.delete(index);
    });
  }

  /** Nothing to make durable: memory is the medium. */
  async flush(): Promise<void> {
    this.counters.flushes += 1;
  }

  /** Nothing to prefetch. */
  async cache(offset: number, length: number): Promise<void> {
    this.checkRange(offset, length);
    this.counters.caches += 1;
  }

  /** base:allocation of the range, page by page, with neighbours of equal status merged. */
  async blockStatus(offset: number, length: number): Promise<readonly Extent[]> {
    this.checkRange(offset, length);
    const extents: { length: number; flags: number }[] = [];
    this.forEachPage(offset, length, (index, start, end) => {
      const page = this.pages.get(index);
      const flags = page === undefined ? AllocationFlag.HOLE | AllocationFlag.ZERO : page === ALLOCATED_ZERO ? AllocationFlag.ZERO : 0;
      const last = extents[extents.length - 1];
      if (last !== undefined && last.flags === flags) last.length += end - start;
      else extents.push({ length: end - start, flags });
    });
    return extents;
  }

  // Calls `visit` for each page the range touches with the byte span inside the page and the
  // position of that span within the range.
  private forEachPage(offset: number, length: number, visit: (index: number, start: number, end: number, at: number) => void): void {
    let at = 0;
    while (at < length) {
      const position = offset + at;
      const index = Math.floor(position / this.pageSize);
      const start = position - index * this.pageSize;
      const end = Math.min(this.pageSize, start + (length - at));
      visit(index, start, end, at);
      at += end - start;
    }
  }

  private checkRange(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`Bytes ${offset} to ${offset + length} are outside the device of ${this.size} bytes.`);
    }
  }

  private checkWritable(offset: number, length: number): void {
    this.checkRange(offset, length);
    if (this.readOnly) throw Object.assign(new Error('The device is read-only.'), { code: 'EROFS' });
  }
}
