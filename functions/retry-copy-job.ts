import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { copyJobIdSchema } from '../lib/copy-jobs/copy-job.js';
import { processServices } from '../lib/wiring.js';

/**
 * POST /copy-jobs/{jobId}/retry: finishes the hydration of a failed job's targets (202, a new
 * execution); a job that succeeded or still runs is answered as it is (200).
 */
export const handler = apiHandler(async (event) => {
  const jobId = pathParameter(event, 'jobId', copyJobIdSchema);
  const { restarted, job } = await processServices().copyJobs.retry(jobId);
  return json(restarted ? 202 : 200, { restarted, ...job });
});
