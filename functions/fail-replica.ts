import { z } from 'zod';
import { apiHandler, json, parseJsonBody, pathParameter } from '../lib/api/http.js';
import { byteOffset } from '../lib/api/params.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

const body = z.strictObject({ replica: z.enum(['primary', 'secondary'], { error: 'replica must be "primary" or "secondary"' }) });

/**
 * POST /volumes/{volumeId}/partitions/{partition}/failures: loses that head-node replica
 * (its state and journal are dropped), promotes the survivor if needed, and rebuilds a new
 * secondary; answers once it serves.
 */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const partition = pathParameter(event, 'partition', byteOffset('partition'));
  const { replica } = parseJsonBody(event, body);
  const services = processServices();
  const report = await services.rebuild.loseReplica(volumeId, partition, replica);
  services.telemetry.rebuildFinished({ volumeId, partition, millis: report.millis, source: report.source, opsCopied: report.opsCopied });
  return json(200, { volumeId, partition, lost: replica, rebuild: report });
});
