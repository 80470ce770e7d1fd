import { apiHandler, json, parseQuery } from '../lib/api/http.js';
import { COPY_JOB_PAGE, pageQuery } from '../lib/api/params.js';
import { processServices } from '../lib/wiring.js';

const query = pageQuery(COPY_JOB_PAGE.max, COPY_JOB_PAGE.default);

/**
 * GET /copy-jobs: one page of copy jobs in no particular order, each with its state, progress,
 * throughput and ETA (not the drawn plan), and, unless it is the last, a nextToken.
 */
export const handler = apiHandler(async (event) => {
  const { limit, nextToken } = parseQuery(event, query);
  const page = await processServices().copyJobListing.list(limit, nextToken);
  return json(200, { copyJobs: page.copyJobs, ...(page.nextCursor ? { nextToken: page.nextCursor } : {}) });
});
