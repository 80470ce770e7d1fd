import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { invocation } from '../lib/api/lambda.js';
import { processServices } from '../lib/wiring.js';

const input = z.object({ jobId: z.string(), round: z.number().int(), batch: z.number().int() });

/** Step Functions task "Copy a partition batch". */
export async function handler(event: unknown, context?: Context) {
  const { jobId, round, batch } = input.parse(event);
  return invocation(context, { jobId }, async () => {
    return processServices().copyJobs.copyBatch(jobId, round, batch);
  });
}
