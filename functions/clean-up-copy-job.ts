import { z } from 'zod';
import { processServices } from '../lib/wiring.js';

const input = z.object({ jobId: z.string() });

/** Step Functions task "Remove the intermediaries". */
export async function handler(event: unknown) {
  const { jobId } = input.parse(event);
  return processServices().copyJobs.cleanUp(jobId);
}
