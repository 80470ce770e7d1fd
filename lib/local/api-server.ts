import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorResponse, type ApiEvent, type ApiHandler, type ApiResult } from '../api/http.js';
import { BINARY_MEDIA_TYPES, MAX_REQUEST_BODY_BYTES, findRoute } from '../api/routes.js';
import { DEFAULT_LISTEN_HOST } from '../config.js';
import { MethodNotAllowedError, PayloadTooLargeError, RouteNotFoundError } from '../errors.js';
import { HANDLER_MODULES } from './handler-registry.js';
import { METRICS_PATH, metricsResponse } from './metrics-route.js';
import type { RequestAuthorizer } from './sigv4-auth.js';

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  /**
   * Starts serving requests. Until then every request gets 503 `{"message":"starting"}`: the
   * port is bound first (so a second instance fails fast), but the handlers cannot serve until
   * the cloud behind them is up and their configuration is in place.
   */
  open(): void;
  close(): Promise<void>;
}

/** The answer to a request that arrives before `open()`. */
const STARTING: ApiResult = {
  statusCode: 503,
  headers: { 'content-type': 'application/json', 'retry-after': '1' },
  body: JSON.stringify({ message: 'starting' }),
};

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw new PayloadTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function isBinary(contentType: string | undefined): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type !== undefined && BINARY_MEDIA_TYPES.includes(type);
}

/** Builds the API Gateway REST proxy event that a deployed handler would receive. */
export function toProxyEvent(
  request: IncomingMessage,
  url: URL,
  resource: string,
  pathParameters: Record<string, string>,
  body: Buffer,
): ApiEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(', ');
    multiValueHeaders[name] = values;
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const binary = isBinary(request.headers['content-type']);
  const hasQuery = Object.keys(query).length > 0;
  const hasParameters = Object.keys(pathParameters).length > 0;
  return {
    resource,
    path: url.pathname,
    httpMethod: request.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: hasParameters ? pathParameters : null,
    stageVariables: null,
    body: body.length === 0 ? null : binary ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: binary && body.length > 0,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: undefined,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: request.method ?? 'GET',
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: request.headers['user-agent'] ?? null,
        userArn: null,
      },
      path: url.pathname,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: resource,
      resourcePath: resource,
    },
  };
}

function send(response: ServerResponse, result: ApiResult, closeConnection = false): void {
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body, 'utf8');
  const headers: Record<string, string | number | boolean> = { ...(result.headers ?? {}), 'content-length': body.length };
  if (closeConnection) headers.connection = 'close';
  response.writeHead(result.statusCode, headers as Record<string, string>);
  response.end(body);
}

async function dispatch(request: IncomingMessage, response: ServerResponse, authorizer?: RequestAuthorizer): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const method = request.method ?? 'GET';
  const match = findRoute(method, url.pathname);
  if (url.pathname === METRICS_PATH && !('route' in match)) {
    return send(response, await metricsResponse({ method, url, headers: request.headers, body: await readBody(request, MAX_REQUEST_BODY_BYTES) }, authorizer));
  }
  if (!('route' in match)) {
    // Drain the body so the client sees the answer instead of a reset.
    request.resume();
    if (authorizer) return send(response, authorizer.unknownRoute());
    const error =
      match.allowed.length > 0
        ? new MethodNotAllowedError(method, url.pathname, match.allowed)
        : new RouteNotFoundError(method, url.pathname);
    send(response, errorResponse(error));
    return;
  }
  let body: Buffer;
  try {
    body = await readBody(request, MAX_REQUEST_BODY_BYTES);
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError)) throw error;
    send(response, errorResponse(error), true);
    request.resume();
    return;
  }
  // Before the event exists: a refused request reaches no handler and so changes nothing.
  const refusal = await authorizer?.verify({ method, url, headers: request.headers, body });
  if (refusal) return send(response, refusal);
  const load = HANDLER_MODULES[match.route.handler];
  if (!load) throw new Error(`no handler module named ${match.route.handler}`);
  const handler: ApiHandler = (await load()).handler;
  const event = toProxyEvent(request, url, match.route.resource, match.pathParameters, body);
  send(response, await handler(event));
}

/**
 * Serves the API on `host` (default loopback) the way API Gateway does: match the route, build
 * a proxy event, invoke the handler in-process, write its result back. It answers 503
 * "starting" until `open()` is called, unless `open` is set.
 */
export async function startApiServer(options: { port: number; host?: string; open?: boolean; authorizer?: RequestAuthorizer }): Promise<ApiServer> {
  let serving = options.open ?? false;
  const server: Server = createServer((request, response) => {
    if (!serving) {
      request.resume();
      send(response, STARTING);
      return;
    }
    dispatch(request, response, options.authorizer).catch((error: unknown) => {
      if (!response.headersSent) send(response, errorResponse(error));
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? DEFAULT_LISTEN_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    // A wildcard host listens on loopback too: that is where a user on this machine calls it.
    url: `http://${urlHost(options.host ?? DEFAULT_LISTEN_HOST)}:${port}`,
    port,
    open: () => {
      serving = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
