import { describe, expect, it } from 'vitest';
import { SIGV4_MESSAGES, verifySigV4, type SignedRequest } from '../../lib/api/sigv4-verifier.js';
import { signRequest } from '../../lib/api/sign-requests.js';

const KEY = { accessKeyId: 'AKIDTESTVERIFIER0001', secretAccessKey: 'verifier-secret' };
const SIGNED_AT = new Date('2026-03-01T12:00:00Z');
const REGION = 'us-east-1';

/** A manual clock: the test says what time it is. */
const at = (offsetMs: number) => () => new Date(SIGNED_AT.getTime() + offsetMs);

async function signed(
  options: { method?: string; url?: string; body?: string; headers?: Record<string, string>; region?: string; service?: string; secret?: string } = {},
): Promise<SignedRequest> {
  const url = new URL(options.url ?? 'http://127.0.0.1:4510/volumes?limit=2&nextToken=a%2Fb');
  const body = options.body;
  const headers = await signRequest(
    { method: options.method ?? 'POST', url, headers: { 'content-type': 'application/json', ...options.headers }, ...(body === undefined ? {} : { body }) },
    { ...KEY, secretAccessKey: options.secret ?? KEY.secretAccessKey },
    { region: options.region ?? REGION, signingDate: SIGNED_AT, ...(options.service ? { service: options.service } : {}) },
  );
  return {
    method: options.method ?? 'POST',
    path: url.pathname,
    query: url.searchParams,
    // What the server receives: the signed headers plus the host fetch sets and what it adds unsigned.
    headers: { ...headers, host: url.host, 'user-agent': 'node', 'content-length': String(Buffer.byteLength(body ?? '')) },
    body: Buffer.from(body ?? ''),
  };
}

const verify = (request: SignedRequest, clock = at(0)) =>
  verifySigV4(request, { region: REGION, secretFor: (id) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined), now: clock });

const MISMATCH = { ok: false, type: 'INVALID_SIGNATURE', message: SIGV4_MESSAGES.mismatch };

describe('verifySigV4', () => {
  it('accepts a request signed with the known key, within the clock skew either way', async () => {
    const request = await signed({ body: '{"sizeBytes":1048576}' });
    await expect(verify(request)).resolves.toEqual({ ok: true, accessKeyId: KEY.accessKeyId });
    await expect(verify(request, at(5 * 60_000))).resolves.toMatchObject({ ok: true });
    await expect(verify(request, at(-5 * 60_000))).resolves.toMatchObject({ ok: true });
  });

  it('accepts a GET with no body and an encoded path segment', async () => {
    const request = await signed({ method: 'GET', url: 'http://127.0.0.1:4510/v1/volumes/vol%2Fx/data?offset=0&length=4096' });
    await expect(verify(request)).resolves.toMatchObject({ ok: true });
  });

  it('refuses a request without Authorization as Missing Authentication Token', async () => {
    const { authorization: _, ...headers } = (await signed()).headers;
    const request = { ...(await signed()), headers };
    await expect(verify(request)).resolves.toMatchObject({
      ok: false,
      type: 'MISSING_AUTHENTICATION_TOKEN',
      errorType: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
  });

  it('refuses a signature made with the wrong secret', async () => {
    await expect(verify(await signed({ secret: 'not-the-secret' }))).resolves.toMatchObject(MISMATCH);
  });

  it('refuses a tampered body, with or without the payload hash header', async () => {
    const request = await signed({ body: '{"sizeBytes":1048576}' });
    const tampered = { ...request, body: Buffer.from('{"sizeBytes":2097152}') };
    await expect(verify(tampered)).resolves.toMatchObject(MISMATCH);
    const { 'x-amz-content-sha256': _, ...headers } = request.headers;
    await expect(verify({ ...tampered, headers })).resolves.toMatchObject(MISMATCH);
  });

  it('refuses a tampered path, query, method or signed header', async () => {
    const request = await signed({ headers: { 'idempotency-key': 'k1' } });
    await expect(verify({ ...request, path: '/volumes/vol-other' })).resolves.toMatchObject(MISMATCH);
    await expect(verify({ ...request, query: new URLSearchParams('limit=3&nextToken=a%2Fb') })).resolves.toMatchObject(MISMATCH);
    await expect(verify({ ...request, method: 'PUT' })).resolves.toMatchObject(MISMATCH);
    await expect(verify({ ...request, headers: { ...request.headers, 'idempotency-key': 'k2' } })).resolves.toMatchObject(MISMATCH);
    await expect(verify({ ...request, headers: { ...request.headers, host: 'evil.example:4510' } })).resolves.toMatchObject(MISMATCH);
    // Unsigned headers may change on the way (a proxy's user agent): they are not covered.
    await expect(verify({ ...request, headers: { ...request.headers, 'user-agent': 'curl' } })).resolves.toMatchObject({ ok: true });
  });

  it('refuses a signature of the wrong length or a header list that differs from the one signed', async () => {
    const request = await signed();
    const authorization = String(request.headers.authorization);
    const short = authorization.replace(/Signature=([0-9a-f]+)/, (_, sig: string) => `Signature=${sig.slice(0, 63)}`);
    await expect(verify({ ...request, headers: { ...request.headers, authorization: short } })).resolves.toMatchObject(MISMATCH);
    const fewer = authorization.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=host;x-amz-date');
    await expect(verify({ ...request, headers: { ...request.headers, authorization: fewer } })).resolves.toMatchObject(MISMATCH);
  });

  it('refuses an unknown access key', async () => {
    const request = await signed();
    const other = String(request.headers.authorization).replace(KEY.accessKeyId, 'AKIDSOMEONEELSE00001');
    await expect(verify({ ...request, headers: { ...request.headers, authorization: other } })).resolves.toEqual({
      ok: false,
      type: 'UNRECOGNIZED_CLIENT',
      errorType: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });
  });

  it('refuses a credential scoped to another service or region', async () => {
    await expect(verify(await signed({ service: 's3' }))).resolves.toMatchObject({
      ok: false,
      type: 'INVALID_SIGNATURE',
      message: "Credential should be scoped to correct service: 'execute-api'.",
    });
    await expect(verify(await signed({ region: 'eu-west-1' }))).resolves.toMatchObject({
      ok: false,
      type: 'INVALID_SIGNATURE',
      message: "Credential should be scoped to a valid region, not 'eu-west-1'.",
    });
  });

  it('refuses an X-Amz-Date more than 5 minutes old as expired, and one more than 5 minutes ahead', async () => {
    const request = await signed();
    await expect(verify(request, at(5 * 60_000 + 1000))).resolves.toEqual({
      ok: false,
      type: 'INVALID_SIGNATURE',
      errorType: 'InvalidSignatureException',
      message: 'Signature expired: 20260301T120000Z is now earlier than 20260301T120001Z (20260301T120501Z - 5 min.)',
    });
    await expect(verify(request, at(-5 * 60_000 - 1000))).resolves.toMatchObject({
      ok: false,
      type: 'INVALID_SIGNATURE',
      message: expect.stringMatching(/^Signature not yet current: 20260301T120000Z is still later than/),
    });
  });

  it('refuses a malformed Authorization header or a missing X-Amz-Date', async () => {
    const request = await signed();
    await expect(verify({ ...request, headers: { ...request.headers, authorization: 'Bearer abc' } })).resolves.toMatchObject({
      ok: false,
      type: 'INVALID_SIGNATURE',
      errorType: 'IncompleteSignatureException',
    });
    await expect(
      verify({ ...request, headers: { ...request.headers, authorization: 'AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request' } }),
    ).resolves.toMatchObject({ ok: false, message: expect.stringContaining("requires 'SignedHeaders' parameter") });
    const { 'x-amz-date': _, ...headers } = request.headers;
    await expect(verify({ ...request, headers })).resolves.toMatchObject({ ok: false, type: 'INVALID_SIGNATURE' });
  });
});
