import { apiHandler, json } from '../lib/api/http.js';
import { processServices } from '../lib/wiring.js';

/** GET /health: 200 when every backing service answers, 503 with the failures otherwise. */
export const handler = apiHandler(async () => {
  const report = await processServices().health();
  return json(report.status === 'ok' ? 200 : 503, report);
});
