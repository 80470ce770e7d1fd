import { z } from 'zod';
import { processServices } from '../lib/wiring.js';

const input = z.object({ jobId: z.string(), round: z.number().int(), batch: z.number().int() });

/** Step Functions task "Copy a partition batch". */
export async function handler(event: unknown) {
  const { jobId, round, batch } = input.parse(event);
  return processServices().copyJobs.copyBatch(jobId, round, batch);
}
