import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { EXECUTE_API_SERVICE } from './sigv4-verifier.js';

/** AWS credentials, as the SDK's providers resolve them. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Resolves credentials, or undefined when there are none to find. */
export type CredentialSource = () => Promise<SigningCredentials | undefined>;

/** What {@link signRequest} signs. */
export interface RequestToSign {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
}

/**
 * Signs a request with SigV4 for `execute-api` and returns the headers to send: the given
 * ones plus `authorization`, `x-amz-date`, `x-amz-content-sha256` and, with a session token,
 * `x-amz-security-token`. `host` is signed but not returned: fetch sets it from the URL.
 */
export async function signRequest(
  request: RequestToSign,
  credentials: SigningCredentials,
  options: { region: string; service?: string; signingDate?: Date },
): Promise<Record<string, string>> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of request.url.searchParams) {
    const existing = query[name];
    query[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  const headers: Record<string, string> = { host: request.url.host };
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  const signer = new SignatureV4({
    credentials,
    region: options.region,
    service: options.service ?? EXECUTE_API_SERVICE,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: true,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: request.method,
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      path: request.url.pathname,
      query,
      headers,
      ...(request.body === undefined ? {} : { body: request.body }),
    }),
    options.signingDate ? { signingDate: options.signingDate } : {},
  );
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') result[name] = String(value);
  return result;
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
  return headers;
}

/**
 * A fetch that signs each request when `credentials` finds any, and sends it unsigned when it
 * finds none (the embedded cloud without SLEDS_API_AUTH needs none). Bodies must be a string
 * or bytes, as the API client sends them.
 */
export function signingFetch(inner: typeof fetch, credentials: CredentialSource, region: string): typeof fetch {
  const signed = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    // Asked on every request: the source caches, and refreshes what expires (SSO, roles).
    const found = await credentials();
    if (!found) return inner(input, init);
    if (input instanceof Request) throw new Error('signingFetch signs (url, init) calls only');
    const body = init?.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new Error('signingFetch signs string and byte bodies only');
    }
    const url = new URL(input);
    const headers = await signRequest(
      { method: init?.method ?? 'GET', url, headers: headersOf(init), ...(body == null ? {} : { body }) },
      found,
      { region },
    );
    return inner(url, { ...init, headers });
  };
  return signed as typeof fetch;
}
