import { apiHandler, json, parseQuery } from '../lib/api/http.js';
import { pageQuery } from '../lib/api/params.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

const query = pageQuery(MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);

/** GET /volumes: one page of volumes and, unless it is the last, a nextToken. */
export const handler = apiHandler(async (event) => {
  const { limit, nextToken } = parseQuery(event, query);
  const page = await processServices().volumes.list(limit, nextToken);
  return json(200, { volumes: page.volumes, ...(page.nextCursor ? { nextToken: page.nextCursor } : {}) });
});
