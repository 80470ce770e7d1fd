import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** GET /volumes/{volumeId}: shows one volume. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  return json(200, await processServices().volumes.get(volumeId));
});
