import { ChunkGoneError, NoteGoneError } from '../../errors.js';
import type { ReadExecutor } from './read-executor.js';
import type { HeadView } from './types.js';
import type { ViewTracker } from './view-tracker.js';

/** A note or chunk version the view named is gone: a flush collected it (the adapters turn a sled's NoSuchKey, or a table note's absence, into these). */
export const collected = (error: unknown): boolean => error instanceof NoteGoneError || error instanceof ChunkGoneError;

/** A promise's outcome, without throwing: a speculative read may be thrown away. */
async function settle(work: Promise<void>): Promise<{ error?: unknown }> {
  try {
    await work;
    return {};
  } catch (error) {
    return { error };
  }
}

/**
 * Reads of one partition through the freshest view that is cheap to prove fresh: the head's own
 * view under its lease (no query at all), else the held view read speculatively while one query
 * of the log confirms it, else a view refreshed first.
 */
export class PartitionReader {
  constructor(
    private readonly view: ViewTracker,
    private readonly executor: ReadExecutor,
  ) {}

  /** Reads [offset, offset + length) of the volume (inside this partition) into `into` at `at`. */
  async read(offset: number, length: number, into: Buffer, at: number): Promise<void> {
    try {
      await this.readOnce(offset, length, into, at);
    } catch (error) {
      // A flush may have moved the base and collected the objects this read was about to use.
      if (!collected(error)) throw error;
      this.view.forgetView();
      await this.readOnce(offset, length, into, at);
    }
  }

  /**
   * Reads [offset, offset + length) into a new buffer. Under a lease, when one note or one
   * chunk holds the whole range, the buffer is that object's bytes as they came, with no copy.
   */
  async readBuffer(offset: number, length: number): Promise<Buffer> {
    const meta = this.view.meta;
    if (meta && this.view.underLease(meta)) {
      const single = this.executor.single(this.view.current(meta), offset, length);
      if (single) {
        try {
          return await single();
        } catch (error) {
          if (!collected(error)) throw error;
          this.view.forgetView(); // a flush collected it: the general path starts again from fresh metadata
        }
      }
    }
    const into = Buffer.alloc(length);
    await this.read(offset, length, into, 0);
    return into;
  }

  private async readThrough(view: HeadView, offset: number, length: number, into: Buffer, at: number): Promise<void> {
    await this.executor.start(view, offset, length, into, at);
  }

  private async readOnce(offset: number, length: number, into: Buffer, at: number): Promise<void> {
    const meta = await this.view.loadMeta(false);
    if (!meta) return; // never written nor copied: the buffer's zeros are the answer
    if (this.view.underLease(meta)) {
      await this.readThrough(this.view.current(meta), offset, length, into, at);
      return;
    }
    // With a view already held, its objects are read while the log is asked what changed:
    // the answer almost always confirms the view, and the read then costs no extra round trip.
    // Objects are immutable and never reused, so a confirmed view read exactly the right bytes.
    const known = this.view.known(meta);
    const knownOp = this.view.index.lastOp;
    const speculative = known ? settle(this.readThrough(known, offset, length, into, at)) : undefined;
    let current: HeadView;
    try {
      current = await this.view.refresh(meta);
    } catch (error) {
      await speculative;
      throw error;
    }
    if (speculative && known && current.meta === known.meta && current.base === known.base && current.index === known.index) {
      // The same view, unless an op that arrived meanwhile wrote into this range.
      if (!current.index.lookup(offset, length).some((extent) => extent.op > knownOp)) {
        const outcome = await speculative;
        if (outcome.error !== undefined) throw outcome.error;
        return;
      }
    }
    await speculative;
    into.fill(0, at, at + length);
    await this.readThrough(current, offset, length, into, at);
  }
}
