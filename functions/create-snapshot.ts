import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** POST /volumes/{volumeId}/snapshots: fixes the volume's committed ops; the chunks follow in the background. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const snapshot = await processServices().snapshots.create(volumeId);
  return json(201, snapshot, { location: `/snapshots/${snapshot.snapshotId}` });
});
