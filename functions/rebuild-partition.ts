import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { byteOffset } from '../lib/api/params.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** POST /volumes/{volumeId}/partitions/{partition}/rebuild: finishes a rebuild that was interrupted. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const partition = pathParameter(event, 'partition', byteOffset('partition'));
  return json(200, { volumeId, partition, rebuild: await processServices().rebuild.rebuild(volumeId, partition) });
});
