import { z } from 'zod';
import { volumeIdSchema } from '../volumes/volume.js';

const partition = z.number().int('partition must be a whole number').nonnegative('partition must be at least 0');

/**
 * A message on the flush queue: flush the partition's committed notes up to `uptoOp`. With
 * `orNewer`, the flush may go on to the newest op when that costs nothing more (the head in
 * its process holds every newer note): a flush requested every K ops then keeps up.
 */
export const flushMessageSchema = z
  .object({
    volumeId: volumeIdSchema,
    partition,
    uptoOp: z.number().int('uptoOp must be a whole number').nonnegative('uptoOp must be at least 0'),
    orNewer: z.boolean().optional(),
  })
  .readonly();
export type FlushMessage = z.output<typeof flushMessageSchema>;

/** A message on the flush queue that asks for a sweep of the partition's orphans (see orphans.ts). */
export const sweepMessageSchema = z.object({ volumeId: volumeIdSchema, partition, sweep: z.literal(true) }).readonly();
export type SweepMessage = z.output<typeof sweepMessageSchema>;

/** Anything the flush queue carries: a sweep names itself (`sweep: true`), any other message is a flush. */
export const flushQueueMessageSchema = z.union([sweepMessageSchema, flushMessageSchema]);
export type FlushQueueMessage = z.output<typeof flushQueueMessageSchema>;
