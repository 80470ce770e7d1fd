/**
 * A FIFO of received bytes that decoders read from: chunks go in as they arrive from the
 * socket, whole messages come out whether they were split across chunks or packed many to one.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0; // bytes of chunks[0] already consumed
  private total = 0;

  /** Bytes waiting to be read. */
  get length(): number {
    return this.total;
  }

  /** Appends received bytes. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The next `n` bytes without consuming them; `n` must not exceed `length`. */
  peek(n: number): Buffer {
    this.assertAvailable(n);
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first !== undefined && first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let skip = this.head;
    for (const chunk of this.chunks) {
      const part = chunk.subarray(skip, Math.min(chunk.length, skip + n - copied));
      part.copy(out, copied);
      copied += part.length;
      skip = 0;
      if (copied === n) break;
    }
    return out;
  }

  /** Removes and returns the next `n` bytes; `n` must not exceed `length`. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** Discards the next `n` bytes (at most `length`). */
  skip(n: number): void {
    let left = Math.min(n, this.total);
    this.total -= left;
    while (left > 0) {
      const first = this.chunks[0] as Buffer;
      const available = first.length - this.head;
      if (available > left) {
        this.head += left;
        return;
      }
      left -= available;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Removes and returns everything queued (used when a TLS layer takes over the stream). */
  drain(): Buffer {
    return this.take(this.total);
  }

  private assertAvailable(n: number): void {
    if (n < 0 || n > this.total) throw new RangeError(`ByteQueue holds ${this.total} bytes; ${n} were asked for.`);
  }
}
