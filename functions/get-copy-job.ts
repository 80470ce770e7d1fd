import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { copyJobIdSchema } from '../lib/copy-jobs/copy-job.js';
import { processServices } from '../lib/wiring.js';

/** GET /copy-jobs/{jobId}: state, rounds, intermediaries, chunks and bytes, throughput and ETA. */
export const handler = apiHandler(async (event) => {
  const jobId = pathParameter(event, 'jobId', copyJobIdSchema);
  return json(200, await processServices().copyJobs.status(jobId));
});
