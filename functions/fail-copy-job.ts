import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { invocation } from '../lib/api/lambda.js';
import { processServices } from '../lib/wiring.js';

const input = z.object({ jobId: z.string(), error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional() });

/** Step Functions catch "Mark the job failed and clean up". */
export async function handler(event: unknown, context?: Context) {
  const { jobId, error } = input.parse(event);
  return invocation(context, { jobId }, async () => {
    await processServices().copyJobs.fail(jobId, error);
    return { jobId, state: 'failed' };
  });
}
