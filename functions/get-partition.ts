import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { byteOffset } from '../lib/api/params.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** GET /volumes/{volumeId}/partitions/{partition}: both head-node replicas of one partition. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const partition = pathParameter(event, 'partition', byteOffset('partition'));
  return json(200, await processServices().data.partitionStatus(volumeId, partition));
});
