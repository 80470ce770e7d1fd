import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** GET /volumes/{volumeId}: shows one volume; a copy target also shows its hydration. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const services = processServices();
  const volume = await services.volumes.get(volumeId);
  const hydration = await services.copyJobs.volumeHydration(volumeId, volume.state, volume.source?.jobId);
  return json(200, hydration ? { ...volume, hydration } : volume);
});
