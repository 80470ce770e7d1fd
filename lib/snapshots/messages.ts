import { z } from 'zod';
import { snapshotIdSchema } from './snapshot.js';

/** A message on the snapshot queue: materialize one partition. */
export const materializeMessageSchema = z.object({
  snapshotId: snapshotIdSchema,
  partition: z.number().int('partition must be a whole number').nonnegative('partition must be at least 0'),
});
export type MaterializeMessage = Readonly<z.output<typeof materializeMessageSchema>>;
