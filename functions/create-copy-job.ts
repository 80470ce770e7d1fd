import { apiHandler, json, parseJsonBody, pathParameter } from '../lib/api/http.js';
import { copyRequestSchema } from '../lib/copy-jobs/copy-job.js';
import { snapshotIdSchema } from '../lib/snapshots/snapshot.js';
import { processServices } from '../lib/wiring.js';

/** POST /snapshots/{snapshotId}/copies: N volumes in `creating` and a running copy job. */
export const handler = apiHandler(async (event) => {
  const snapshotId = pathParameter(event, 'snapshotId', snapshotIdSchema);
  const request = parseJsonBody(event, copyRequestSchema);
  const created = await processServices().copyJobs.create(snapshotId, request);
  return json(202, created, { location: `/copy-jobs/${created.jobId}` });
});
