import type { IncomingHttpHeaders } from 'node:http';
import type { ApiResult } from '../api/http.js';
import { SIGV4_MESSAGES, verifySigV4, type SigV4Refusal } from '../api/sigv4-verifier.js';

/** Checks a request before the local API builds its proxy event; an ApiResult refuses it. */
export interface RequestAuthorizer {
  /** Verifies a request to a known route; undefined lets it through. */
  verify(request: { method: string; url: URL; headers: IncomingHttpHeaders; body: Buffer }): Promise<ApiResult | undefined>;
  /** The answer to a request for a route that does not exist. */
  unknownRoute(): ApiResult;
}

/**
 * A refusal in the shape the deployed API's gateway responses give it (infra/constructs/
 * rest-api.ts, DEFAULT_4XX): `{"error": {"code": <response type>, "message"}}`, status 403,
 * and API Gateway's `x-amzn-ErrorType` header.
 */
export function refusalResponse(refusal: SigV4Refusal): ApiResult {
  return {
    statusCode: 403,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': refusal.errorType },
    body: JSON.stringify({ error: { code: refusal.type, message: refusal.message } }),
  };
}

/**
 * SigV4 verification for the embedded cloud (SLEDS_API_AUTH=sigv4), as API Gateway with IAM
 * authorization on every method: one accepted key pair, scoped to `region` and execute-api.
 */
export function sigV4Authorizer(options: {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  now?: () => Date;
}): RequestAuthorizer {
  return {
    async verify({ method, url, headers, body }) {
      const verdict = await verifySigV4(
        { method, path: url.pathname, query: url.searchParams, headers, body },
        {
          region: options.region,
          secretFor: (id) => (id === options.accessKeyId ? options.secretAccessKey : undefined),
          ...(options.now ? { now: options.now } : {}),
        },
      );
      return verdict.ok ? undefined : refusalResponse(verdict);
    },
    // API Gateway answers a path or method it has no resource for as it answers an unsigned request.
    unknownRoute: () =>
      refusalResponse({ ok: false, type: 'MISSING_AUTHENTICATION_TOKEN', errorType: 'MissingAuthenticationTokenException', message: SIGV4_MESSAGES.missing }),
  };
}
