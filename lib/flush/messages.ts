import { z } from 'zod';
import { volumeIdSchema } from '../volumes/volume.js';

const partition = z.number().int('partition must be a whole number').nonnegative('partition must be at least 0');

/**
 * A message on the flush queue: flush the partition's committed notes up to `uptoOp`. With
 * `orNewer`, the flush may go on to the newest op when that costs nothing more (the head in
 * its process holds every newer note): a flush requested every K ops then keeps up.
 */
export const flushMessageSchema = z.object({
  volumeId: volumeIdSchema,
  partition,
  uptoOp: z.number().int('uptoOp must be a whole number').nonnegative('uptoOp must be at least 0'),
  orNewer: z.boolean().optional(),
});
export type FlushMessage = Readonly<z.output<typeof flushMessageSchema>>;

/** A message on the flush queue that asks for a sweep of the partition's orphans (see orphans.ts). */
export const sweepMessageSchema = z.object({ volumeId: volumeIdSchema, partition, sweep: z.literal(true) });
export type SweepMessage = Readonly<z.output<typeof sweepMessageSchema>>;

/**
 * Anything the flush queue carries: a sweep says `sweep: true`, a flush has no `sweep`. Told
 * apart by that key first, so an invalid message is reported against the one it claims to be.
 */
export const flushQueueMessageSchema = z.discriminatedUnion('sweep', [sweepMessageSchema, flushMessageSchema.extend({ sweep: z.undefined().optional() })]);
export type FlushQueueMessage = Readonly<z.output<typeof flushQueueMessageSchema>>;
