/**
 * The receiving side of one connection: bytes from the stream are queued for the decoders,
 * `waitFor` lets a decoder wait for the bytes it needs, and the stream is paused while the
 * queue holds more than a high-water mark that nobody is waiting on (backpressure).
 * The stream can be replaced, so a later STARTTLS can hand the raw socket to a TLS layer.
 */
import type { Duplex } from 'node:stream';
import { ByteQueue } from './byte-queue.js';
import type { Decoded } from './codec/decoded.js';
import { NbdConnectionClosedError, NbdProtocolError } from './errors.js';

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Queues a stream's bytes for decoding, with pausing as backpressure. */
export class StreamSource {
  /** The received bytes not yet decoded. */
  readonly queue = new ByteQueue();
  private stream: Duplex | undefined;
  private waiter: Waiter | undefined;
  private closedReason: Error | undefined;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onEnd = (): void => this.close(new NbdConnectionClosedError());
  private readonly onError = (error: Error): void => this.close(new NbdConnectionClosedError(`The connection failed: ${error.message}`));

  constructor(
    stream: Duplex,
    private readonly highWaterBytes: number,
  ) {
    this.attach(stream);
  }

  /** Reads from `stream` from now on (the previous one, if any, must be detached first). */
  attach(stream: Duplex): void {
    this.stream = stream;
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  /** Stops reading from the current stream and returns it (for an upgrade to TLS). */
  detach(): Duplex | undefined {
    const stream = this.stream;
    if (stream === undefined) return undefined;
    stream.pause();
    stream.off('data', this.onData);
    stream.off('end', this.onEnd);
    stream.off('close', this.onEnd);
    stream.off('error', this.onError);
    this.stream = undefined;
    return stream;
  }

  /** Resolves once at least `bytes` bytes are queued; rejects if the stream ends first. */
  waitFor(bytes: number): Promise<void> {
    if (this.queue.length >= bytes) return Promise.resolve();
    if (this.closedReason !== undefined) return Promise.reject(this.closedReason);
    if (this.waiter !== undefined) return Promise.reject(new Error('StreamSource allows one waiter at a time.'));
    return new Promise<void>((resolve, reject) => {
      this.waiter = { bytes, resolve, reject };
      this.stream?.resume();
    });
  }

  /**
   * Decodes the next message, waiting for bytes as long as the decoder needs more. Throws
   * NbdProtocolError for a malformed message and NbdConnectionClosedError if the stream ends.
   */
  async next<T>(decode: (queue: ByteQueue) => Decoded<T>): Promise<T> {
    for (;;) {
      const step = decode(this.queue);
      if (step.kind === 'ok') {
        this.settle();
        return step.value;
      }
      if (step.kind === 'invalid') throw new NbdProtocolError(step.message);
      await this.waitFor(step.bytes);
    }
  }

  /** Called after decoders consumed bytes: reading resumes below the high-water mark. */
  settle(): void {
    if (this.queue.length < this.highWaterBytes && this.closedReason === undefined) this.stream?.resume();
  }

  /** Stops waiting: a pending waitFor rejects with `reason` and later ones too. */
  close(reason: Error): void {
    if (this.closedReason === undefined) this.closedReason = reason;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.closedReason);
  }

  private receive(chunk: Buffer): void {
    this.queue.push(chunk);
    const waiter = this.waiter;
    if (waiter !== undefined && this.queue.length >= waiter.bytes) {
      this.waiter = undefined;
      waiter.resolve();
    }
    const starving = this.waiter !== undefined;
    if (this.queue.length >= this.highWaterBytes && !starving) this.stream?.pause();
  }
}
