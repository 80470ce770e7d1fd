import { z } from 'zod';
import { apiHandler, header, json, parseJsonBody, pathParameter } from '../lib/api/http.js';
import { volumeIdSchema } from '../lib/volumes/volume.js';
import { processServices } from '../lib/wiring.js';

const byteCount = (name: string) =>
  z.number({ error: `${name} is required and must be a number of bytes` }).int(`${name} must be a whole number of bytes`).nonnegative(`${name} must not be negative`).max(Number.MAX_SAFE_INTEGER);

const body = z.strictObject({ offset: byteCount('offset'), length: byteCount('length') });

/**
 * POST /volumes/{volumeId}/zero with {"offset": N, "length": M}: the range reads as zeros
 * from now on (a discard or write-zeroes of any size); one op per partition it touches, no
 * payload stored. 200 {"ops": [...]} once both replicas committed.
 */
export const handler = apiHandler(async (event) => {
  const volumeId = pathParameter(event, 'volumeId', volumeIdSchema);
  const { offset, length } = parseJsonBody(event, body);
  const result = await processServices().data.zero(volumeId, offset, length, header(event, 'idempotency-key'));
  return json(200, result);
});
