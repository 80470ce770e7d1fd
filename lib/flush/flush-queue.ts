import { VolumeNotFoundError, VolumeStateError } from '../errors.js';
import type { WorkQueue } from '../queues/ports.js';
import type { FlushMessage, FlushQueueMessage, SweepMessage } from './messages.js';
import { SWEEP_DELAY_SECONDS } from './orphans.js';
import type { FlushResult, SweepResult } from './ports.js';

/**
 * Why queued work on a volume is done although it failed: the volume was deleted (or is being
 * deleted) since the work was asked for. Any other error is thrown again, for a retry.
 */
export function volumeGoneReason(error: unknown): string {
  if (error instanceof VolumeNotFoundError) return 'the volume is gone';
  if (error instanceof VolumeStateError) return error.message;
  throw error;
}

/** The work a flush queue message asks for. */
export interface FlushWork {
  flush(message: FlushMessage): Promise<FlushResult>;
  sweep(volumeId: string, partition: number): Promise<SweepResult>;
}

/**
 * Both ends of the flush queue: what goes on it (flushes every few ops, a sweep after each
 * checkpoint) and what a delivered message does. The messages are validated by the handler
 * (messages.ts); here a delivered one runs, and one for a volume deleted since is done, not
 * retried into the dead-letter queue.
 */
export class FlushQueue {
  constructor(
    private readonly queue: WorkQueue<FlushQueueMessage>,
    private readonly work: FlushWork,
  ) {}

  /** Queues a flush of the partition (called after writes, every few ops). */
  async request(message: FlushMessage): Promise<void> {
    await this.queue.sendAll([message]);
  }

  /**
   * Queues a sweep of the partition for later (SWEEP_DELAY_SECONDS). Not asking is no harm:
   * the next checkpoint asks again, so a failure to send is swallowed.
   */
  async requestSweep(volumeId: string, partition: number): Promise<void> {
    await this.queue.sendAll([{ volumeId, partition, sweep: true } satisfies SweepMessage], { delaySeconds: SWEEP_DELAY_SECONDS }).catch(() => undefined);
  }

  /** A flush the queue delivered: one for a volume deleted (or being deleted) since it was asked for is done. */
  flushQueued(message: FlushMessage): Promise<FlushResult | { readonly skipped: string }> {
    return this.work.flush(message).catch((error: unknown) => ({ skipped: volumeGoneReason(error) }));
  }

  /** A sweep the queue delivered: one for a volume deleted since it was asked for is done. */
  sweepQueued({ volumeId, partition }: SweepMessage): Promise<SweepResult> {
    return this.work.sweep(volumeId, partition).catch((error: unknown) => ({ skipped: volumeGoneReason(error), chunksRemoved: 0, notesRemoved: 0 }));
  }
}
