import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** DELETE /volumes/{volumeId}: removes the volume's objects, then its metadata. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const { objectsRemoved } = await processServices().volumes.delete(volumeId);
  return json(200, { volumeId, deleted: true, objectsRemoved });
});
