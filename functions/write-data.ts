import { z } from 'zod';
import { apiHandler, header, json, parseQuery, pathParameter, requireBinaryBody } from '../lib/api/http.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';
import { byteOffset } from '../lib/api/params.js';

const query = z.strictObject({ offset: byteOffset('offset') });

/** PUT /volumes/{volumeId}/data?offset=N: writes the octet-stream body; 200 once both replicas committed. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const { offset } = parseQuery(event, query);
  const body = requireBinaryBody(event);
  const result = await processServices().data.write(volumeId, offset, body, header(event, 'idempotency-key'));
  return json(200, result);
});
