import { z } from 'zod';
import { apiHandler, binary, parseQuery, pathParameter } from '../lib/api/http.js';
import { byteOffset } from '../lib/api/params.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

const query = z.strictObject({ offset: byteOffset('offset'), length: byteOffset('length') });

/** GET /volumes/{volumeId}/data?offset=N&length=M: the newest committed bytes, zeros where never written. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const { offset, length } = parseQuery(event, query);
  return binary(200, await processServices().data.read(volumeId, offset, length));
});
