import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** The service name API Gateway signs for: requests to an IAM-authorized API use it. */
export const EXECUTE_API_SERVICE = 'execute-api';

/** How far X-Amz-Date may be from the verifier's clock, either way (API Gateway: 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** A received request, as far as SigV4 covers it. */
export interface SignedRequest {
  readonly method: string;
  /** The path as received, percent-encoded (e.g. `/volumes/vol-1`). */
  readonly path: string;
  /** The query as received (decoded pairs; a name may repeat). */
  readonly query: URLSearchParams;
  /** Header names in lower case; a repeated header joined with ", ". */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Uint8Array;
}

/** What the verifier accepts. */
export interface SigV4VerifierOptions {
  /** The secret of an access key id, or undefined for a key it does not know. */
  readonly secretFor: (accessKeyId: string) => string | undefined;
  /** The region requests must be scoped to. */
  readonly region: string;
  /** The service requests must be scoped to (default `execute-api`). */
  readonly service?: string;
  /** The clock; injected so tests can move it. */
  readonly now?: () => Date;
  readonly maxSkewMs?: number;
}

/**
 * Why a request was refused. `type` is the API Gateway response type of that refusal (the
 * `$context.error.responseType` the deployed gateway responses put in the error's `code`),
 * `errorType` the `x-amzn-ErrorType` header API Gateway sends with it.
 */
export interface SigV4Refusal {
  readonly ok: false;
  readonly type: 'MISSING_AUTHENTICATION_TOKEN' | 'INVALID_SIGNATURE' | 'UNRECOGNIZED_CLIENT';
  readonly errorType: string;
  readonly message: string;
}

/** The outcome of verifying a request. */
export type SigV4Verdict = { readonly ok: true; readonly accessKeyId: string } | SigV4Refusal;

/** API Gateway's messages, verbatim where it has one. */
export const SIGV4_MESSAGES = {
  missing: 'Missing Authentication Token',
  mismatch:
    'The request signature we calculated does not match the signature you provided. ' +
    'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  unknownKey: 'The security token included in the request is invalid.',
} as const;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

const missing = (): SigV4Refusal => ({
  ok: false,
  type: 'MISSING_AUTHENTICATION_TOKEN',
  errorType: 'MissingAuthenticationTokenException',
  message: SIGV4_MESSAGES.missing,
});
const incomplete = (message: string): SigV4Refusal => ({
  ok: false,
  type: 'INVALID_SIGNATURE',
  errorType: 'IncompleteSignatureException',
  message,
});
const invalid = (message: string): SigV4Refusal => ({ ok: false, type: 'INVALID_SIGNATURE', errorType: 'InvalidSignatureException', message });

function header(request: SignedRequest, name: string): string | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(', ');
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=a;b, Signature=hex` */
function parseAuthorization(value: string):
  | { credential: string[]; signedHeaders: string[]; signature: string }
  | SigV4Refusal {
  const space = value.indexOf(' ');
  const algorithm = space < 0 ? value : value.slice(0, space);
  if (algorithm !== ALGORITHM) return incomplete(`Authorization header requires the algorithm ${ALGORITHM}, got '${algorithm}'.`);
  const fields = new Map<string, string>();
  for (const part of value.slice(space + 1).split(',')) {
    const equals = part.indexOf('=');
    if (equals > 0) fields.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  const absent = ['Credential', 'SignedHeaders', 'Signature'].filter((name) => !fields.get(name));
  if (absent.length > 0) {
    return incomplete(absent.map((name) => `Authorization header requires '${name}' parameter.`).join(' ') + ` Authorization=${value}`);
  }
  const credential = fields.get('Credential')!.split('/');
  if (credential.length !== 5) {
    return incomplete(`Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${fields.get('Credential')}'.`);
  }
  return { credential, signedHeaders: fields.get('SignedHeaders')!.split(';'), signature: fields.get('Signature')!.toLowerCase() };
}

/** `20260101T000000Z` as a Date, or undefined when it is not one. */
function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function sameHex(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time the same.
  return timingSafeEqual(left, left.length === right.length ? right : left) && left.length === right.length;
}

/**
 * Verifies a request's SigV4 `Authorization` header the way API Gateway does for an
 * IAM-authorized method: the access key must be known, the credential scoped to this region
 * and service, X-Amz-Date within the allowed skew, and the signature recomputed over the
 * received method, path, query, signed headers and body equal to the one sent. Pure: no
 * network, no AWS; the clock is injected.
 */
export async function verifySigV4(request: SignedRequest, options: SigV4VerifierOptions): Promise<SigV4Verdict> {
  const service = options.service ?? EXECUTE_API_SERVICE;
  const authorization = header(request, 'authorization');
  if (!authorization) return missing();
  const parsed = parseAuthorization(authorization.trim());
  if (!('credential' in parsed)) return parsed;
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = parsed.credential as [string, string, string, string, string];

  const dateHeader = header(request, 'x-amz-date');
  if (!dateHeader || !parsed.signedHeaders.includes('x-amz-date')) {
    return incomplete("Authorization header requires existence of a signed 'X-Amz-Date' header.");
  }
  if (!parsed.signedHeaders.includes('host')) return incomplete("'Host' must be a signed header.");
  const signingDate = parseAmzDate(dateHeader.trim());
  if (!signingDate) return incomplete(`X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '${dateHeader}'.`);
  if (terminator !== 'aws4_request') return incomplete(`Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'.`);
  if (scopeService !== service) return incomplete(`Credential should be scoped to correct service: '${service}'.`);
  if (scopeRegion !== options.region) return incomplete(`Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  if (scopeDate !== dateHeader.trim().slice(0, 8)) {
    return incomplete(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${dateHeader.trim().slice(0, 8)}'.`);
  }

  const now = (options.now ?? (() => new Date()))();
  const skew = options.maxSkewMs ?? MAX_CLOCK_SKEW_MS;
  const minutes = Math.round(skew / 60_000);
  if (signingDate.getTime() < now.getTime() - skew) {
    return invalid(
      `Signature expired: ${amzDate(signingDate)} is now earlier than ${amzDate(new Date(now.getTime() - skew))} (${amzDate(now)} - ${minutes} min.)`,
    );
  }
  if (signingDate.getTime() > now.getTime() + skew) {
    return invalid(
      `Signature not yet current: ${amzDate(signingDate)} is still later than ${amzDate(new Date(now.getTime() + skew))} (${amzDate(now)} + ${minutes} min.)`,
    );
  }

  const secret = options.secretFor(accessKeyId);
  if (secret === undefined) return { ok: false, type: 'UNRECOGNIZED_CLIENT', errorType: 'UnrecognizedClientException', message: SIGV4_MESSAGES.unknownKey };

  // The body as received decides the payload hash; a client-sent hash must agree with it.
  const bodyHash = request.body.length === 0 ? EMPTY_SHA256 : createHash('sha256').update(request.body).digest('hex');
  const claimedHash = header(request, 'x-amz-content-sha256');
  if (claimedHash !== undefined && claimedHash.trim().toLowerCase() !== bodyHash) return invalid(SIGV4_MESSAGES.mismatch);

  // Only the headers the client signed, exactly: the signer would otherwise add or skip some.
  const headers: Record<string, string> = {};
  for (const name of parsed.signedHeaders) {
    const value = header(request, name);
    if (value === undefined) return invalid(SIGV4_MESSAGES.mismatch);
    headers[name] = value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of request.query) {
    const existing = query[name];
    query[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: secret },
    region: scopeRegion,
    service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: true,
    applyChecksum: false,
  });
  const recomputed = await signer.sign(
    new HttpRequest({ method: request.method, protocol: 'https:', hostname: headers.host ?? '', path: request.path, query, headers, body: request.body }),
    { signingDate, signableHeaders: new Set(parsed.signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]+)/.exec(String(recomputed.headers.authorization ?? ''))?.[1] ?? '';
  // The signed header list must be the same too: the recomputed one is sorted and deduplicated.
  const expectedSigned = /SignedHeaders=([^,]+)/.exec(String(recomputed.headers.authorization ?? ''))?.[1] ?? '';
  const signedMatches = expectedSigned === parsed.signedHeaders.join(';');
  if (!sameHex(expected, parsed.signature) || !signedMatches) return invalid(SIGV4_MESSAGES.mismatch);
  return { ok: true, accessKeyId };
}
