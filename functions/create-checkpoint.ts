import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { reportFlushLag } from '../lib/api/lambda.js';
import { byteOffset } from '../lib/api/params.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** POST /volumes/{volumeId}/partitions/{partition}/checkpoints: flush, then checkpoint now. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const partition = pathParameter(event, 'partition', byteOffset('partition'));
  const services = processServices();
  const checkpoint = await services.flush.checkpoint(volumeId, partition);
  await reportFlushLag(services, volumeId, partition);
  return json(201, checkpoint);
});
