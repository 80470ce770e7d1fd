import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { invocation } from '../lib/api/lambda.js';
import { processServices } from '../lib/wiring.js';

const input = z.object({ jobId: z.string() });

/** Step Functions task "Plan the copy job". */
export async function handler(event: unknown, context?: Context) {
  const { jobId } = input.parse(event);
  return invocation(context, { jobId }, async () => {
    return processServices().copyJobs.planJob(jobId);
  });
}
