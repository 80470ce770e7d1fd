/**
 * The web console's server: serves the front-end (bundled by esbuild when the server starts)
 * and proxies `/api/*` to the Sleds API through an injected transport, so the browser talks
 * only to this process and never holds API credentials. The transport is a `fetch`: the
 * global one for the embedded cloud, a SigV4-signing one for a deployed stack.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Sends one request to the Sleds API; `fetch` itself qualifies, and so does a signing wrapper. */
export type ConsoleTransport = typeof fetch;

export interface ConsoleServerOptions {
  /** Base URL of the Sleds API, without a trailing slash; may carry a path (an API Gateway stage). */
  readonly apiBaseUrl: string;
  /** How requests reach the API; the global fetch when absent. */
  readonly transport?: ConsoleTransport;
  /** A loopback address: 127.0.0.1 (the default), ::1 or localhost. */
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Per-request deadline for the API. */
  readonly timeoutMs?: number;
}

export interface ConsoleServer {
  /** Where the console answers, e.g. http://127.0.0.1:9401 */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
/** Non-GET requests must carry it: a cross-site form cannot, so no other page can act through the console. */
export const CONSOLE_HEADER = 'x-sleds-console';
const PROXIED_METHODS = new Set(['GET', 'POST', 'DELETE']);
const MAX_BODY_BYTES = 64 * 1024;
const APP_DIR = fileURLToPath(new URL('./app/', import.meta.url));

interface Assets {
  readonly js: string;
  readonly css: string;
}

/** Bundles the front-end (TSX, Preact) into one ES module, in memory. */
export async function buildConsoleAssets(): Promise<Assets> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [`${APP_DIR}main.tsx`],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = result.outputFiles[0]?.text;
  if (js === undefined) throw new Error('esbuild produced no console bundle');
  return { js, css: await readFile(`${APP_DIR}console.css`, 'utf8') };
}

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sleds console</title>
<link rel="stylesheet" href="/assets/console.css">
<script type="module" src="/assets/console.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;

function send(response: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  response.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
  });
  response.end(body);
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  send(response, status, 'application/json', JSON.stringify({ error: { code, message } }));
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Starts the console on a loopback address. The browser gets the page, the bundle and the
 * stylesheet, and reaches the API at `/api/...` (GET, POST and DELETE; no data routes).
 */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new Error(`The console listens on loopback only (127.0.0.1, ::1 or localhost), not ${host}.`);
  const apiBaseUrl = options.apiBaseUrl.replace(/\/+$/, '');
  const transport = options.transport ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const assets = await buildConsoleAssets();
  let allowedHosts = new Set<string>();

  async function proxy(request: IncomingMessage, response: ServerResponse, path: string, search: string): Promise<void> {
    const method = request.method ?? 'GET';
    if (!PROXIED_METHODS.has(method)) return sendError(response, 405, 'MethodNotAllowed', `The console does not pass ${method} to the API.`);
    const body = method === 'POST' ? await readBody(request) : undefined;
    let answer: Response;
    try {
      answer = await transport(`${apiBaseUrl}${path}${search}`, {
        method,
        headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: new Uint8Array(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return sendError(response, 502, 'ApiUnreachable', `No Sleds API answers at ${apiBaseUrl} (${(error as Error).message}).`);
    }
    const text = await answer.text();
    send(response, answer.status, answer.headers.get('content-type') ?? 'application/json', text);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends its own Host.
    if (!allowedHosts.has(request.headers.host ?? '')) return sendError(response, 421, 'MisdirectedRequest', 'Unknown Host header.');
    const method = request.method ?? 'GET';
    const origin = request.headers.origin;
    if (method !== 'GET' && method !== 'HEAD') {
      if (request.headers[CONSOLE_HEADER] !== '1' || (origin !== undefined && !allowedHosts.has(origin.replace(/^https?:\/\//, '')))) {
        return sendError(response, 403, 'Forbidden', `Requests that change something must come from the console itself (${CONSOLE_HEADER}: 1).`);
      }
    }
    const url = new URL(request.url ?? '/', 'http://console');
    if (url.pathname.startsWith('/api/')) return proxy(request, response, url.pathname.slice(4), url.search);
    if (method !== 'GET') return sendError(response, 405, 'MethodNotAllowed', `${method} ${url.pathname} is not supported.`);
    switch (url.pathname) {
      case '/':
      case '/index.html':
        return send(response, 200, 'text/html; charset=utf-8', INDEX_HTML);
      case '/assets/console.js':
        return send(response, 200, 'text/javascript; charset=utf-8', assets.js);
      case '/assets/console.css':
        return send(response, 200, 'text/css; charset=utf-8', assets.css);
      default:
        return sendError(response, 404, 'NotFound', `Nothing at ${url.pathname}.`);
    }
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, 'ConsoleError', (error as Error).message);
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const shownHost = host === '::1' ? '[::1]' : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
