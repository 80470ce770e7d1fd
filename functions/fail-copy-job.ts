import { z } from 'zod';
import { processServices } from '../lib/wiring.js';

const input = z.object({ jobId: z.string(), error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional() });

/** Step Functions catch "Mark the job failed and clean up". */
export async function handler(event: unknown) {
  const { jobId, error } = input.parse(event);
  await processServices().copyJobs.fail(jobId, error);
  return { jobId, state: 'failed' };
}
