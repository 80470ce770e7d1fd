import { apiHandler, json, parseJsonBody } from '../lib/api/http.js';
import { createVolumeRequestSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** POST /volumes: creates an empty volume. */
export const handler = apiHandler(async (event) => {
  const spec = parseJsonBody(event, createVolumeRequestSchema);
  const volume = await processServices().volumes.create(spec);
  return json(201, volume, { location: `/volumes/${volume.volumeId}` });
});
