import { z } from 'zod';
import { apiHandler, json, parseQuery, pathParameter } from '../lib/api/http.js';
import { byteOffset } from '../lib/api/params.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

const query = z.strictObject({ offset: byteOffset('offset').optional(), length: byteOffset('length').optional() });

/**
 * GET /volumes/{volumeId}/allocation?offset=N&length=M (both optional: the whole volume, or
 * from N to its end): {"extents": [{offset, length, type: "data"|"zero"}]}, merged, covering
 * the range. Notes since the last flush count to the 4 KiB block, flushed chunks to the chunk.
 */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const { offset, length } = parseQuery(event, query);
  const extents = await processServices().data.allocation(volumeId, offset ?? 0, length);
  return json(200, { volumeId, offset: offset ?? 0, extents });
});
