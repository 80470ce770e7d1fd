import type { MemoryBlockDevice } from '../../lib/nbd/memory-device.js';
import type { BlockDevice, Extent, WriteOptions, ZeroOptions } from '../../lib/nbd/ports.js';

/**
 * Wraps a device so that a test can hold operations at a gate, delay them, and see how many
 * run at once.
 */
export class ProbeDevice implements BlockDevice {
  active = 0;
  maxActive = 0;
  /** Called before each read or write; a test may return a promise to hold it. */
  gate: (op: 'read' | 'write', offset: number) => Promise<void> | void = () => {};

  constructor(readonly inner: MemoryBlockDevice) {}

  get size(): number {
    return this.inner.size;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  get canMultiConn(): boolean {
    return this.inner.canMultiConn;
  }
  get blockSizes(): BlockDevice['blockSizes'] {
    return this.inner.blockSizes;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    return this.around('read', offset, () => this.inner.read(offset, length));
  }
  async write(offset: number, data: Buffer, options: WriteOptions): Promise<void> {
    return this.around('write', offset, () => this.inner.write(offset, data, options));
  }
  zero(offset: number, length: number, options: ZeroOptions): Promise<void> {
    return this.inner.zero(offset, length, options);
  }
  trim(offset: number, length: number): Promise<void> {
    return this.inner.trim(offset, length);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  cache(offset: number, length: number): Promise<void> {
    return this.inner.cache(offset, length);
  }
  blockStatus(offset: number, length: number): Promise<readonly Extent[]> {
    return this.inner.blockStatus(offset, length);
  }

  private async around<T>(op: 'read' | 'write', offset: number, body: () => Promise<T>): Promise<T> {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.gate(op, offset);
      return await body();
    } finally {
      this.active -= 1;
    }
  }
}

/** A promise with its resolver, to hold and release gated operations. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
