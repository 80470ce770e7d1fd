import type { IncomingHttpHeaders } from 'node:http';
import { errorResponse, type ApiResult } from '../api/http.js';
import { MethodNotAllowedError } from '../errors.js';
import { localMetrics } from '../observability/process-telemetry.js';
import { PROMETHEUS_CONTENT_TYPE } from '../observability/prometheus-telemetry.js';
import type { RequestAuthorizer } from './sigv4-auth.js';

/** The embedded cloud's own route (no Lambda behind it, none on AWS): the process's metrics. */
export const METRICS_PATH = '/metrics';

/**
 * GET /metrics: the in-process registry in the Prometheus text exposition format. It is
 * authenticated like every other route (SLEDS_API_AUTH=sigv4 verifies the signature first).
 */
export async function metricsResponse(
  request: { method: string; url: URL; headers: IncomingHttpHeaders; body: Buffer },
  authorizer?: RequestAuthorizer,
): Promise<ApiResult> {
  const refusal = await authorizer?.verify(request);
  if (refusal) return refusal;
  if (request.method !== 'GET') return errorResponse(new MethodNotAllowedError(request.method, METRICS_PATH, ['GET']));
  return { statusCode: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE }, body: localMetrics.exposition() };
}
