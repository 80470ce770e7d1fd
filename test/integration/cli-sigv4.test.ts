import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type CliIo } from '../../lib/cli/main.js';
import { signRequest } from '../../lib/api/sign-requests.js';
import { LOCAL_API_CREDENTIALS } from '../../lib/config.js';
import { startLocalCloud, type LocalCloud } from '../../lib/local/local-cloud.js';

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const REGION = 'us-east-1';
const MISMATCH = /^The request signature we calculated does not match the signature you provided\./;

interface Answer {
  readonly status: number;
  readonly body: any;
  readonly errorType: string | null;
}

/** Sends a request signed for `signAs` (another method, path or body than sent, when a test tampers). */
async function send(
  base: string,
  request: { method: string; path: string; body?: string },
  signAs: { method?: string; path?: string; body?: string; secret?: string; signingDate?: Date } | 'unsigned' = {},
): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', ...(request.body === undefined ? {} : { 'content-type': 'application/json' }) };
  let sent = headers;
  if (signAs !== 'unsigned') {
    const signedBody = signAs.body ?? request.body;
    sent = await signRequest(
      { method: signAs.method ?? request.method, url: new URL(`${base}${signAs.path ?? request.path}`), headers, ...(signedBody === undefined ? {} : { body: signedBody }) },
      { ...LOCAL_API_CREDENTIALS, ...(signAs.secret ? { secretAccessKey: signAs.secret } : {}) },
      { region: REGION, ...(signAs.signingDate ? { signingDate: signAs.signingDate } : {}) },
    );
  }
  const response = await fetch(`${base}${request.path}`, { method: request.method, headers: sent, ...(request.body === undefined ? {} : { body: request.body }) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, errorType: response.headers.get('x-amzn-errortype') };
}

/** A spawned `sleds` bin with only the environment given (a private HOME: no ~/.aws of the developer's). */
async function spawnCli(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), 'sleds-cli-home-'));
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['lib/cli/sleds.mjs', ...argv], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: home, AWS_EC2_METADATA_DISABLED: 'true', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const LOCAL_KEY_ENV = { AWS_ACCESS_KEY_ID: LOCAL_API_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_API_CREDENTIALS.secretAccessKey };

describe('the embedded cloud with SLEDS_API_AUTH=sigv4', () => {
  let cloud: LocalCloud;
  const volumeIds = async (): Promise<string[]> => {
    const listed = await send(cloud.apiUrl, { method: 'GET', path: '/volumes?limit=1000' });
    expect(listed.status).toBe(200);
    return (listed.body.volumes as Array<{ volumeId: string }>).map((volume) => volume.volumeId).sort();
  };

  beforeAll(async () => {
    cloud = await startLocalCloud({ port: 0, sledCount: 2, apiAuth: { mode: 'sigv4', ...LOCAL_API_CREDENTIALS } });
  });

  afterAll(async () => {
    await cloud?.stop();
  });

  it('serves a CLI signing with the local test key from the environment, end to end', async () => {
    const created = await spawnCli(['volume', 'create', '--size', '64MiB', '--name', 'signed', '--json', '--endpoint', cloud.apiUrl], LOCAL_KEY_ENV);
    expect(created, created.stderr).toMatchObject({ code: 0, stderr: '' });
    const volume = JSON.parse(created.stdout) as { volumeId: string; name: string };
    expect(volume.name).toBe('signed');

    const listed = await spawnCli(['volume', 'list', '--json', '--endpoint', cloud.apiUrl], LOCAL_KEY_ENV);
    expect(listed, listed.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.stringify(JSON.parse(listed.stdout))).toContain(volume.volumeId);
    expect(await volumeIds()).toContain(volume.volumeId);
  });

  it('refuses the CLI without credentials (403 Missing Authentication Token) and creates nothing', async () => {
    const before = await volumeIds();
    const refused = await spawnCli(['volume', 'create', '--size', '64MiB', '--endpoint', cloud.apiUrl], {});
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('sleds: Missing Authentication Token (MISSING_AUTHENTICATION_TOKEN)\n');
    expect(await volumeIds()).toEqual(before);
  });

  it('refuses the CLI with the wrong secret and creates nothing', async () => {
    const before = await volumeIds();
    const refused = await spawnCli(['volume', 'create', '--size', '64MiB', '--endpoint', cloud.apiUrl], {
      ...LOCAL_KEY_ENV,
      AWS_SECRET_ACCESS_KEY: 'not-the-local-secret',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^sleds: The request signature we calculated does not match .* \(INVALID_SIGNATURE\)\n$/);
    expect(await volumeIds()).toEqual(before);
  });

  it('answers an unsigned POST /volumes 403 in the gateway responses\' shape, and creates no volume', async () => {
    const before = await volumeIds();
    const refused = await send(cloud.apiUrl, { method: 'POST', path: '/volumes', body: '{"sizeBytes":67108864}' }, 'unsigned');
    expect(refused).toEqual({
      status: 403,
      body: { error: { code: 'MISSING_AUTHENTICATION_TOKEN', message: 'Missing Authentication Token' } },
      errorType: 'MissingAuthenticationTokenException',
    });
    expect(await volumeIds()).toEqual(before);
  });

  it('refuses a wrong secret, a tampered body and a tampered path with 403, changing nothing', async () => {
    const create = { method: 'POST', path: '/volumes', body: '{"sizeBytes":67108864,"name":"tampered"}' };
    const before = await volumeIds();
    const wrongSecret = await send(cloud.apiUrl, create, { secret: 'wrong' });
    const tamperedBody = await send(cloud.apiUrl, create, { body: '{"sizeBytes":67108864,"name":"original"}' });
    const tamperedPath = await send(cloud.apiUrl, create, { path: '/volumes/vol-0123456789abcdef0/snapshots' });
    for (const refused of [wrongSecret, tamperedBody, tamperedPath]) {
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('INVALID_SIGNATURE');
      expect(refused.body.error.message).toMatch(MISMATCH);
    }
    expect(await volumeIds()).toEqual(before);

    // A DELETE signed for one volume, sent for another, deletes neither.
    const kept = await send(cloud.apiUrl, { method: 'POST', path: '/volumes', body: '{"sizeBytes":67108864,"name":"kept"}' });
    expect(kept.status).toBe(201);
    const other = await send(cloud.apiUrl, { method: 'DELETE', path: `/volumes/${kept.body.volumeId}` }, { path: '/volumes/vol-0123456789abcdef0' });
    expect(other.status).toBe(403);
    expect(await volumeIds()).toContain(kept.body.volumeId);
  });

  it('refuses an expired signature (X-Amz-Date over 5 minutes old) and one from the future', async () => {
    const before = await volumeIds();
    const create = { method: 'POST', path: '/volumes', body: '{"sizeBytes":67108864}' };
    const expired = await send(cloud.apiUrl, create, { signingDate: new Date(Date.now() - 6 * 60_000) });
    expect(expired.status).toBe(403);
    expect(expired.body.error).toMatchObject({ code: 'INVALID_SIGNATURE', message: expect.stringMatching(/^Signature expired: \d{8}T\d{6}Z is now earlier than/) });
    const early = await send(cloud.apiUrl, create, { signingDate: new Date(Date.now() + 6 * 60_000) });
    expect(early.status).toBe(403);
    expect(early.body.error.message).toMatch(/^Signature not yet current/);
    expect(await volumeIds()).toEqual(before);
  });

  it('refuses unsigned, wrongly signed and expired reads of GET /snapshots and GET /copy-jobs with 403, and serves signed ones', async () => {
    for (const path of ['/snapshots', '/copy-jobs', '/snapshots?limit=1', '/copy-jobs?limit=1']) {
      const request = { method: 'GET', path };
      const unsigned = await send(cloud.apiUrl, request, 'unsigned');
      expect(unsigned, path).toMatchObject({ status: 403, body: { error: { code: 'MISSING_AUTHENTICATION_TOKEN' } } });
      const wrong = await send(cloud.apiUrl, request, { secret: 'wrong' });
      expect(wrong.status, path).toBe(403);
      expect(wrong.body.error.message, path).toMatch(MISMATCH);
      // Signed for another page than the one asked for.
      const otherQuery = await send(cloud.apiUrl, request, { path: `${path.split('?')[0]}?limit=2` });
      expect(otherQuery.status, path).toBe(403);
      const expired = await send(cloud.apiUrl, request, { signingDate: new Date(Date.now() - 6 * 60_000) });
      expect(expired.status, path).toBe(403);
      expect(expired.body.error.message, path).toMatch(/^Signature expired/);
      expect((await send(cloud.apiUrl, request)).status, path).toBe(200);
    }
  });

  it('takes no snapshot and starts no copy job for an unsigned, wrongly signed or expired request: the list routes show nothing new', async () => {
    const created = await send(cloud.apiUrl, { method: 'POST', path: '/volumes', body: '{"sizeBytes":1048576}' });
    expect(created.status).toBe(201);
    const volumeId = created.body.volumeId as string;
    const listed = async (path: string, key: string, id: string) =>
      ((await send(cloud.apiUrl, { method: 'GET', path: `${path}?limit=100` })).body[key] as Array<Record<string, string>>).map((item) => item[id]).sort();
    const snapshot = { method: 'POST', path: `/volumes/${volumeId}/snapshots` };
    const snapshotsBefore = await listed('/snapshots', 'snapshots', 'snapshotId');
    for (const refused of [
      await send(cloud.apiUrl, snapshot, 'unsigned'),
      await send(cloud.apiUrl, snapshot, { secret: 'wrong' }),
      await send(cloud.apiUrl, snapshot, { signingDate: new Date(Date.now() - 6 * 60_000) }),
    ]) {
      expect(refused.status).toBe(403);
    }
    expect(await listed('/snapshots', 'snapshots', 'snapshotId')).toEqual(snapshotsBefore);

    // A signed snapshot to copy from, then refused copies.
    const taken = await send(cloud.apiUrl, snapshot);
    expect(taken.status).toBe(201);
    const copies = { method: 'POST', path: `/snapshots/${taken.body.snapshotId}/copies`, body: '{"count":2}' };
    const jobsBefore = await listed('/copy-jobs', 'copyJobs', 'jobId');
    const volumesBefore = await volumeIds();
    for (const refused of [
      await send(cloud.apiUrl, copies, 'unsigned'),
      await send(cloud.apiUrl, copies, { secret: 'wrong' }),
      await send(cloud.apiUrl, copies, { body: '{"count":1}' }),
      await send(cloud.apiUrl, copies, { signingDate: new Date(Date.now() - 6 * 60_000) }),
    ]) {
      expect(refused.status).toBe(403);
    }
    expect(await listed('/copy-jobs', 'copyJobs', 'jobId')).toEqual(jobsBefore);
    expect(await volumeIds()).toEqual(volumesBefore);
  });

  it('requires a signature on /health too, as the deployed API does (IAM on every method)', async () => {
    expect((await send(cloud.apiUrl, { method: 'GET', path: '/health' }, 'unsigned')).status).toBe(403);
    expect((await send(cloud.apiUrl, { method: 'GET', path: '/health' })).status).toBe(200);
  });

  it('answers a route that does not exist 403 Missing Authentication Token, as API Gateway does', async () => {
    const unknown = await send(cloud.apiUrl, { method: 'GET', path: '/nowhere' });
    expect(unknown).toMatchObject({ status: 403, body: { error: { code: 'MISSING_AUTHENTICATION_TOKEN' } } });
  });

  it('finds the API through --stack (the ApiUrl output) and signs for the --region given', async () => {
    let out = '';
    let err = '';
    const asked: unknown[] = [];
    const io: CliIo = {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
      env: {},
      credentials: () => async () => LOCAL_API_CREDENTIALS,
      readStackOutput: async (options) => {
        asked.push(options);
        return `${cloud.apiUrl}/`;
      },
    };
    expect(await run(['volume', 'list', '--json', '--stack', 'Sleds-Stateless', '--region', REGION, '--profile', 'ops'], io), err).toBe(0);
    expect(asked).toEqual([{ stackName: 'Sleds-Stateless', outputKey: 'ApiUrl', region: REGION, profile: 'ops' }]);
    expect(JSON.parse(out)).toMatchObject({ volumes: expect.any(Array) });

    // Signed for another region, the same call is refused: --region decides the scope.
    err = '';
    expect(await run(['volume', 'list', '--stack', 'Sleds-Stateless', '--region', 'eu-west-1'], io)).toBe(1);
    expect(err).toBe("sleds: Credential should be scoped to a valid region, not 'eu-west-1'. (INVALID_SIGNATURE)\n");
  });

  it('needs a region for --stack, and refuses --stack with --endpoint', async () => {
    let err = '';
    const io: CliIo = { stdout: { write: () => true }, stderr: { write: (text: string) => (err += text) }, env: {} };
    expect(await run(['volume', 'list', '--stack', 'Sleds-Stateless'], io)).toBe(2);
    expect(err).toContain('--stack Sleds-Stateless needs a region');
    err = '';
    expect(await run(['volume', 'list', '--stack', 'S', '--endpoint', cloud.apiUrl], io)).toBe(2);
    expect(err).toContain('give --endpoint or --stack, not both');
  });
});

describe('SLEDS_API_AUTH=sigv4 and a listen host beyond loopback', () => {
  it('counts as the API\'s protection: with an NBD server, only TLS on NBD is still named as missing', async () => {
    await expect(
      startLocalCloud({ port: 0, nbdPort: 0, listenHost: '0.0.0.0', apiAuth: { mode: 'sigv4', ...LOCAL_API_CREDENTIALS } }),
    ).rejects.toThrow(/^SLEDS_LISTEN_HOST=0\.0\.0\.0 needs TLS on NBD/);
    await expect(startLocalCloud({ port: 0, listenHost: '0.0.0.0' })).rejects.toThrow(/needs SigV4 on the API/);
  });
});

describe('the CLI against a remote endpoint without credentials', () => {
  it('refuses before sending anything', async () => {
    let err = '';
    let calls = 0;
    const io: CliIo = {
      stdout: { write: () => true },
      stderr: { write: (text: string) => (err += text) },
      env: {},
      credentials: () => async () => undefined,
      fetch: (async () => {
        calls += 1;
        return new Response('{}');
      }) as typeof fetch,
    };
    expect(await run(['volume', 'list', '--endpoint', 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1'], io)).toBe(2);
    expect(err).toMatch(/no AWS credentials to sign requests to https:\/\/abc123\.execute-api/);
    expect(calls).toBe(0);
  });
});
