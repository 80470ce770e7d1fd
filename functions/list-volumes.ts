import { z } from 'zod';
import { apiHandler, json, parseQuery } from '../lib/api/http.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

const query = z.strictObject({
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`)
    .default(DEFAULT_PAGE_SIZE),
  nextToken: z.string().min(1, 'nextToken must not be empty').max(2048, 'nextToken is too long').optional(),
});

/** GET /volumes: one page of volumes and, unless it is the last, a nextToken. */
export const handler = apiHandler(async (event) => {
  const { limit, nextToken } = parseQuery(event, query);
  const page = await processServices().volumes.list(limit, nextToken);
  return json(200, { volumes: page.volumes, ...(page.nextCursor ? { nextToken: page.nextCursor } : {}) });
});
