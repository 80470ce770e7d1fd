import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { copyJobIdSchema } from '../lib/copy-jobs/copy-job.js';
import { processServices } from '../lib/wiring.js';

/** GET /copy-jobs/{jobId}/events: the execution's state transitions (with its batches' on AWS); `truncated` when some were left out. */
export const handler = apiHandler(async (event) => {
  const jobId = pathParameter(event, 'jobId', copyJobIdSchema);
  return json(200, { jobId, ...(await processServices().copyJobs.events(jobId)) });
});
