import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { snapshotIdSchema } from '../lib/snapshots/snapshot.js';
import { processServices } from '../lib/wiring.js';

/** DELETE /snapshots/{snapshotId}: 409 naming the volumes still hydrating from it; otherwise removes its objects and records. */
export const handler = apiHandler(async (event) => {
  const snapshotId = pathParameter(event, 'snapshotId', snapshotIdSchema);
  return json(200, await processServices().snapshotDeletion.delete(snapshotId));
});
