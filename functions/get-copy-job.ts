import { z } from 'zod';
import { apiHandler, json, parseQuery, pathParameter } from '../lib/api/http.js';
import { copyJobIdSchema } from '../lib/copy-jobs/copy-job.js';
import { processServices } from '../lib/wiring.js';

const querySchema = z.object({
  include: z.literal('tree', { error: 'include must be "tree"' }).optional(),
});

/**
 * GET /copy-jobs/{jobId}: state, rounds, intermediaries, chunks and bytes, throughput and ETA;
 * with `?include=tree`, also the fan-out tree with chunks copied per node (read from the plan).
 */
export const handler = apiHandler(async (event) => {
  const jobId = pathParameter(event, 'jobId', copyJobIdSchema);
  const { include } = parseQuery(event, querySchema);
  const services = processServices();
  const status = await services.copyJobs.status(jobId);
  if (include !== 'tree') return json(200, status);
  return json(200, { ...status, tree: (await services.copyJobs.tree(jobId)) ?? null });
});
