import { apiHandler, json, pathParameter } from '../lib/api/http.js';
import { byteOffset } from '../lib/api/params.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

/** POST /volumes/{volumeId}/partitions/{partition}/rebuild: finishes a rebuild that was interrupted. */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const partition = pathParameter(event, 'partition', byteOffset('partition'));
  const services = processServices();
  const report = await services.rebuild.rebuild(volumeId, partition);
  services.telemetry.rebuildFinished({ volumeId, partition, millis: report.millis, source: report.source, opsCopied: report.opsCopied });
  return json(200, { volumeId, partition, rebuild: report });
});
