import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type CliIo } from '../../lib/cli/main.js';
import { startLocalCloud, type LocalCloud } from '../../lib/local/local-cloud.js';
import { freePort } from '../support/processes.js';

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface Captured {
  readonly io: CliIo;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

function capture(env: Record<string, string> = {}): Captured {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
      // An explicit, empty environment: a developer's own SLEDS_ENDPOINT must not leak in.
      env,
    },
    stdout: () => out,
    stderr: () => err,
  };
}

describe('sleds CLI against the embedded cloud', () => {
  let cloud: LocalCloud;
  const sleds = async (...argv: string[]) => {
    const captured = capture();
    const code = await run([...argv, '--endpoint', cloud.apiUrl], captured.io);
    return { code, stdout: captured.stdout(), stderr: captured.stderr() };
  };

  beforeAll(async () => {
    cloud = await startLocalCloud({ port: 0 });
  });

  afterAll(async () => {
    await cloud?.stop();
  });

  it('creates, shows, lists and deletes a volume', async () => {
    const created = await sleds('volume', 'create', '--size', '1GiB', '--name', 'cli test', '--json');
    expect(created, created.stderr).toMatchObject({ code: 0, stderr: '' });
    const volume = JSON.parse(created.stdout) as { volumeId: string; sizeBytes: number; chunkSizeBytes: number };
    expect(volume).toMatchObject({ sizeBytes: 1024 ** 3, chunkSizeBytes: 1024 ** 2, partitionCount: 64, name: 'cli test' });

    const shown = await sleds('volume', 'show', volume.volumeId);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^Volume ID\\s+${volume.volumeId}$`, 'm'));
    expect(shown.stdout).toMatch(/^Size\s+1 GiB \(1073741824 bytes\)$/m);
    expect(shown.stdout).toMatch(/^Chunk size\s+1 MiB$/m);
    expect(shown.stdout).toMatch(/^State\s+available$/m);

    const listed = await sleds('volume', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^VOLUME ID\s+NAME\s+SIZE/);
    expect(listed.stdout).toMatch(new RegExp(`^${volume.volumeId}\\s+cli test\\s+1 GiB\\s+1 MiB\\s+64\\s+available`, 'm'));

    const deleted = await sleds('volume', 'delete', volume.volumeId, '--yes');
    expect(deleted).toMatchObject({ code: 0, stderr: '' });
    expect(deleted.stdout).toMatch(new RegExp(`^Deleted ${volume.volumeId} \\(\\d+ objects?\\ removed\\)$`, 'm'));

    const gone = await sleds('volume', 'show', volume.volumeId);
    expect(gone.code).toBe(1);
    expect(gone.stdout).toBe('');
    expect(gone.stderr).toBe(`sleds: Volume ${volume.volumeId} does not exist. (VolumeNotFound)\n`);
  });

  it('creates with a chunk size and partition size given in human units', async () => {
    const created = await sleds('volume', 'create', '--size', '256MiB', '--chunk-size', '256KiB', '--partition-chunks', '8');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^Created vol-[0-9a-f]{17}$/m);
    expect(created.stdout).toMatch(/^Size\s+256 MiB/m);
    expect(created.stdout).toMatch(/^Chunk size\s+256 KiB$/m);
    expect(created.stdout).toMatch(/^Partitions\s+128 of 8 chunks \(2 MiB each\)$/m);
  });

  it('pages the list: the first page with a hint, or every page with --all', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await sleds('volume', 'create', '--size', '1MiB', '--name', `page ${i}`, '--json');
      expect(created.code, created.stderr).toBe(0);
      ids.push((JSON.parse(created.stdout) as { volumeId: string }).volumeId);
    }
    const first = await sleds('volume', 'list', '--limit', '2');
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n')).toHaveLength(3); // header and two rows
    expect(first.stderr).toBe('Showing 2 volumes from the first page; more exist. Add --all to list them all.\n');

    const all = await sleds('volume', 'list', '--limit', '2', '--all', '--json');
    expect(all.code).toBe(0);
    const listed = (JSON.parse(all.stdout) as { volumes: Array<{ volumeId: string }> }).volumes.map((v) => v.volumeId);
    expect(listed).toEqual(expect.arrayContaining(ids));
    expect(new Set(listed).size).toBe(listed.length);

    for (const id of ids) expect((await sleds('volume', 'delete', id, '--yes')).code).toBe(0);
  });

  it('passes API validation errors through with exit status 1', async () => {
    const result = await sleds('volume', 'create', '--size', '1000KiB');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sleds: sizeBytes \(1024000\) must be a multiple of chunkSizeBytes.* \(ValidationError\)\n$/);
  });

  it('refuses a bad size before calling the API, with exit status 2', async () => {
    const result = await sleds('volume', 'create', '--size', '12XB');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^sleds: invalid --size: "12XB" is not a size; use bytes or a binary unit such as .*1GiB.* \(UsageError\)\n$/);
  });

  it('treats other command-line mistakes as usage errors too', async () => {
    expect((await sleds('volume', 'create')).code).toBe(2);
    expect((await sleds('volume', 'show', 'not-an-id')).stderr).toMatch(/"not-an-id" is not a volume id/);
    const unknown = await sleds('volume', 'frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^sleds: unknown command 'frobnicate' \(UsageError\)/);
  });

  it('prints help on stdout with exit status 0', async () => {
    const help = await sleds('volume', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: sleds volume/);
  });

  it('spawns the real bin', async () => {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ['lib/cli/sleds.mjs', 'volume', 'list', '--endpoint', cloud.apiUrl],
      { cwd: repoRoot, env: { ...process.env, SLEDS_ENDPOINT: '' } },
    );
    expect(stdout).toMatch(/^(VOLUME ID\s+NAME|No volumes\.)/);
    expect(stderr).not.toMatch(/sleds: .*\(/);
  });
});

describe('sleds CLI without an API', () => {
  let down: string;

  beforeAll(async () => {
    // A port that was free a moment ago and has nothing listening now: connections are refused.
    down = `http://127.0.0.1:${await freePort()}`;
  });

  it('says clearly that nothing answers at the endpoint, with exit status 1', async () => {
    const captured = capture();
    const code = await run(['volume', 'list', '--endpoint', down], captured.io);
    expect(code).toBe(1);
    expect(captured.stdout()).toBe('');
    expect(captured.stderr()).toBe(
      `sleds: No Sleds API answers at ${down} (ECONNREFUSED). Start one with \`npm start\`, ` +
        'or set SLEDS_ENDPOINT (or --endpoint) to the URL of a running Sleds API. (ApiUnreachable)\n',
    );
  });

  it('says why port 1 cannot answer: fetch blocks it', async () => {
    const captured = capture();
    expect(await run(['volume', 'list', '--endpoint', 'http://127.0.0.1:1'], captured.io)).toBe(1);
    expect(captured.stderr()).toMatch(
      /^sleds: No Sleds API answers at http:\/\/127\.0\.0\.1:1 \(fetch refuses to connect to port 1, .*\)\. Start one with `npm start`.*\(ApiUnreachable\)\n$/,
    );
  });

  it('reads the endpoint from SLEDS_ENDPOINT when --endpoint is absent', async () => {
    const captured = capture({ SLEDS_ENDPOINT: `${down}/` });
    expect(await run(['volume', 'show', 'vol-0123456789abcdef0'], captured.io)).toBe(1);
    expect(captured.stderr()).toContain(`No Sleds API answers at ${down} (ECONNREFUSED)`);
  });

  it('exits 1 from the spawned bin too', async () => {
    const failure = await execFileAsync(process.execPath, ['lib/cli/sleds.mjs', 'volume', 'list'], {
      cwd: repoRoot,
      env: { ...process.env, SLEDS_ENDPOINT: down },
    }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(`No Sleds API answers at ${down} (ECONNREFUSED)`);
  });
});
