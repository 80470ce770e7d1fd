import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { snapshotIdSchema } from '../lib/snapshots/snapshot.js';
import { processServices } from '../lib/wiring.js';

/** GET /snapshots/{snapshotId}: state and progress until `completed`. */
export const handler = apiHandler(async (event) => {
  const snapshotId = pathParameter(event, 'snapshotId', snapshotIdSchema);
  return json(200, await processServices().snapshots.get(snapshotId));
});
