import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../lib/local/listening.js';
import { Option, OptionReply } from '../../lib/nbd/constants.js';
import { call } from '../support/http.js';
import { freePort } from '../support/processes.js';
import { goData, RawNbdClient } from '../support/nbd-raw-client.js';
import { listeningSocketsOf } from '../support/sockets.js';

/**
 * These run `npm start` itself (npm, then tsx, which starts a second node process with the
 * loader), not a node command that stands for it: the sockets, warnings and files checked
 * are those a user gets.
 */
const REPO = join(import.meta.dirname, '..', '..');

interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | null>;
}

function npmStart(env: Record<string, string>): Running {
  // Its own process group, so that the whole tree (npm, sh, tsx, node) can be signalled at once.
  const child = spawn('npm', ['start'], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

function stopGroup(running: Running, signal: NodeJS.Signals): void {
  if (running.child.pid === undefined || running.child.exitCode !== null) return;
  try {
    process.kill(-running.child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Every file and directory under `dir`, with its mode. */
async function walk(dir: string): Promise<Array<{ path: string; mode: number; isFile: boolean }>> {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const stats = await lstat(path);
    found.push({ path, mode: stats.mode & 0o777, isFile: stats.isFile() });
    if (entry.isDirectory()) found.push(...(await walk(path)));
  }
  return found;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('npm start: loopback only, private data, clean start-up', () => {
  let root: string;
  let dataDir: string;
  let port: number;
  let consolePort: number;
  let nbdPort: number;
  let base: string;
  let running: Running;
  /** Every answer /health gave from the moment the port opened until the first 200. */
  const answers: Array<{ status: number; body: string }> = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'sleds-security-'));
    dataDir = join(root, 'data');
    port = await freePort();
    consolePort = await freePort();
    nbdPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    running = npmStart({
      SLEDS_PORT: String(port),
      SLEDS_CONSOLE_PORT: String(consolePort),
      SLEDS_NBD_PORT: String(nbdPort),
      SLEDS_DATA_DIR: dataDir,
    });
    // Hammer /health from the first moment: a refused connection means the port is not open yet.
    const deadline = Date.now() + 45_000;
    for (;;) {
      if (running.child.exitCode !== null) throw new Error(`npm start exited early:\n${running.stdout()}\n${running.stderr()}`);
      if (Date.now() > deadline) throw new Error(`npm start did not answer 200 in time:\n${running.stdout()}\n${running.stderr()}`);
      let answer;
      try {
        const response = await fetch(`${base}/health`);
        answer = { status: response.status, body: await response.text() };
      } catch {
        await sleep(5);
        continue;
      }
      answers.push(answer);
      if (answer.status === 200) break;
    }
    // The banner ends with 'Ctrl-C to stop': the console's line comes after 'ready', once it listens.
    while (!running.stdout().includes('Ctrl-C to stop')) await sleep(20);
  });

  afterAll(async () => {
    if (running) {
      stopGroup(running, 'SIGTERM');
      await Promise.race([running.exited, sleep(8000)]);
      stopGroup(running, 'SIGKILL');
    }
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('answers 503 "starting" until it can serve, never a 500, and prints no stack trace', () => {
    const starting = { status: 503, body: JSON.stringify({ message: 'starting' }) };
    const opened = answers.findIndex((answer) => answer.body !== starting.body);
    // The API port opens before the emulators are up: the hammer must have seen that window.
    expect(opened).toBeGreaterThan(0);
    for (const answer of answers.slice(0, opened)) expect(answer).toEqual(starting);
    // Once open, every answer is a health report: 'degraded' (a probe timing out on a loaded
    // machine) is a true answer of a serving API, and 'starting' never comes back.
    for (const answer of answers.slice(opened)) {
      expect([200, 503]).toContain(answer.status);
      expect(JSON.parse(answer.body)).toMatchObject({ status: answer.status === 200 ? 'ok' : 'degraded' });
    }
    expect(answers.at(-1)?.status).toBe(200);
    expect(running.stderr()).not.toMatch(/ConfigError|\n\s+at /);
  });

  it('listens only on loopback, emulators included, in every process of the tree', () => {
    const sockets = listeningSocketsOf(running.child.pid!);
    // The API, fauxqs (S3 and SQS) and dynalite: an empty list would prove nothing.
    expect(sockets.length).toBeGreaterThanOrEqual(4);
    expect(sockets.map((socket) => socket.port)).toContain(port);
    expect(sockets.map((socket) => socket.port)).toContain(nbdPort);
    const open = sockets.filter((socket) => !isLoopbackHost(socket.address));
    expect(open).toEqual([]);
  });

  it('prints only the endpoints a user calls, and the data directory', () => {
    const printed = running.stdout();
    expect(printed).toContain(`API       ${base}`);
    expect(printed).toContain(`Console   http://127.0.0.1:${consolePort}`);
    expect(printed).toContain(`data      ${dataDir}`);
    expect(printed).toContain(`NBD       nbd://127.0.0.1:${nbdPort}`);
    expect(printed).toContain(`nbdinfo nbd://127.0.0.1:${nbdPort}/<volume-id>`);
    expect(printed).not.toMatch(/S3|SQS|DynamoDB/);
    const emulatorPorts = listeningSocketsOf(running.child.pid!)
      .map((socket) => socket.port)
      .filter((each) => each !== port && each !== consolePort && each !== nbdPort);
    for (const each of emulatorPorts) expect(printed).not.toContain(`:${each}`);
  });

  it('keeps its data directory 0700 and no file readable by others, after a write, a flush and a snapshot', async () => {
    const created = await call(base, 'POST', '/volumes', { sizeBytes: 64 * 1024 * 1024, name: 'private' });
    expect(created.status).toBe(201);
    const volumeId: string = created.body.volumeId;
    const written = await call(base, 'PUT', `/volumes/${volumeId}/data?offset=0`, Buffer.alloc(64 * 1024, 7), {
      'content-type': 'application/octet-stream',
    });
    expect(written.status).toBeLessThan(300);
    const flushed = await call(base, 'POST', `/volumes/${volumeId}/partitions/0/checkpoints`);
    expect(flushed.status).toBe(201);
    const taken = await call(base, 'POST', `/volumes/${volumeId}/snapshots`);
    expect(taken.status).toBeLessThan(300);
    const snapshotId: string = taken.body.snapshotId;
    const deadline = Date.now() + 30_000;
    while ((await call(base, 'GET', `/snapshots/${snapshotId}`)).body.state !== 'completed') {
      if (Date.now() > deadline) throw new Error('the snapshot did not complete');
      await sleep(100);
    }

    expect((await lstat(dataDir)).mode & 0o777).toBe(0o700);
    const entries = await walk(dataDir);
    // Chunks, checkpoints and the snapshot are S3 object files; the tables are LevelDB files;
    // the queues are SQLite files. Each kind must be there for the check to mean anything.
    const files = entries.filter((entry) => entry.isFile).map((entry) => entry.path);
    expect(files.filter((path) => path.startsWith(join(dataDir, 's3', 'buckets'))).length).toBeGreaterThan(2);
    expect(files.some((path) => path.startsWith(join(dataDir, 'dynamodb')))).toBe(true);
    expect(files.some((path) => path.startsWith(join(dataDir, 'sqs')))).toBe(true);
    const exposed = entries.filter((entry) => (entry.mode & 0o077) !== 0).map((entry) => `${entry.mode.toString(8)} ${entry.path}`);
    expect(exposed).toEqual([]);
  });

  it('prints no ExperimentalWarning (SQLite) on any thread', () => {
    // npm echoes the script, whose `--no-warnings=ExperimentalWarning` must not count: the warning itself has a colon.
    expect(running.stderr()).not.toMatch(/ExperimentalWarning:|SQLite is an experimental/);
    expect(running.stdout()).not.toMatch(/ExperimentalWarning:|SQLite is an experimental/);
  });
});

describe('npm start beyond loopback', () => {
  it('refuses SLEDS_LISTEN_HOST=0.0.0.0 without authentication, naming what is missing, before it opens or creates anything', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sleds-wide-'));
    try {
      const dataDir = join(root, 'data');
      const port = await freePort();
      const running = npmStart({ SLEDS_PORT: String(port), SLEDS_DATA_DIR: dataDir, SLEDS_LISTEN_HOST: '0.0.0.0' });
      const code = await Promise.race([running.exited, sleep(30_000).then(() => 'timeout' as const)]);
      stopGroup(running, 'SIGKILL');
      expect(code).not.toBe('timeout');
      expect(code).not.toBe(0);
      expect(running.stderr()).toContain(
        'SLEDS_LISTEN_HOST=0.0.0.0 needs SigV4 on the API (SLEDS_API_AUTH=sigv4) and TLS on NBD (SLEDS_NBD_TLS=require with SLEDS_NBD_TLS_PSK_FILE)',
      );
      expect(running.stderr()).not.toMatch(/\n\s+at /);
      expect(running.stdout()).not.toContain('local cloud ready');
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

/** Runs `npm start` with `env` and expects it to refuse: a non-zero exit, `message` on stderr, nothing created. */
async function expectRefusal(root: string, env: Record<string, string>, message: string): Promise<void> {
  const dataDir = join(root, 'data');
  const running = npmStart({ SLEDS_PORT: String(await freePort()), SLEDS_NBD_PORT: String(await freePort()), SLEDS_DATA_DIR: dataDir, ...env });
  const code = await Promise.race([running.exited, sleep(30_000).then(() => 'timeout' as const)]);
  stopGroup(running, 'SIGKILL');
  expect(code).not.toBe('timeout');
  expect(code).not.toBe(0);
  expect(running.stderr()).toContain(message);
  expect(running.stderr()).not.toMatch(/\n\s+at /);
  expect(running.stdout()).not.toContain('local cloud ready');
  expect(existsSync(dataDir)).toBe(false);
}

describe('npm start beyond loopback with SigV4 on the API and TLS required on NBD', () => {
  let root: string;
  let pskFile: string;
  let port: number;
  let consolePort: number;
  let nbdPort: number;
  let running: Running | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'sleds-wide-tls-'));
    pskFile = join(root, 'keys.psk');
    await writeFile(pskFile, `alice:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    [port, consolePort, nbdPort] = [await freePort(), await freePort(), await freePort()];
    running = npmStart({
      SLEDS_PORT: String(port),
      SLEDS_CONSOLE_PORT: String(consolePort),
      SLEDS_NBD_PORT: String(nbdPort),
      SLEDS_DATA_DIR: join(root, 'data'),
      SLEDS_LISTEN_HOST: '0.0.0.0',
      SLEDS_API_AUTH: 'sigv4',
      SLEDS_NBD_TLS: 'require',
      SLEDS_NBD_TLS_PSK_FILE: pskFile,
    });
    const deadline = Date.now() + 60_000;
    while (!running.stdout().includes('Ctrl-C to stop')) {
      if (running.child.exitCode !== null) throw new Error(`npm start exited early:\n${running.stdout()}\n${running.stderr()}`);
      if (Date.now() > deadline) throw new Error(`npm start did not get ready in time:\n${running.stdout()}\n${running.stderr()}`);
      await sleep(50);
    }
  });

  afterAll(async () => {
    if (running) {
      stopGroup(running, 'SIGTERM');
      await Promise.race([running.exited, sleep(8000)]);
      stopGroup(running, 'SIGKILL');
    }
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('listens with the API and NBD on 0.0.0.0, the console and every emulator on loopback', () => {
    const sockets = listeningSocketsOf(running!.child.pid!);
    expect(sockets.length).toBeGreaterThanOrEqual(5);
    const wide = sockets.filter((socket) => !isLoopbackHost(socket.address));
    expect(wide.map((socket) => `${socket.address}:${socket.port}`).sort()).toEqual([`0.0.0.0:${nbdPort}`, `0.0.0.0:${port}`].sort());
    // The console has no authentication of its own: it stays on loopback.
    expect(sockets.filter((socket) => socket.port === consolePort).map((socket) => socket.address)).toEqual(['127.0.0.1']);
  });

  it('prints the nbds:// example with the PSK file, and its NBD port refuses a plain client with NBD_REP_ERR_TLS_REQD', async () => {
    const printed = running!.stdout();
    expect(printed).toContain(`NBD       nbds://0.0.0.0:${nbdPort}   (TLS required, PSK identities: alice)`);
    expect(printed).toContain(`try: nbdinfo 'nbds://alice@127.0.0.1:${nbdPort}/<volume-id>?tls-psk-file=${pskFile}'`);
    expect(printed).toContain(`Console   http://127.0.0.1:${consolePort}`);
    expect(running!.stderr()).not.toMatch(/ConfigError|\n\s+at /);
    const client = await RawNbdClient.connect(nbdPort);
    await client.handshake();
    expect((await client.option(Option.GO, goData('vol-anything'))).map((reply) => reply.type)).toEqual([OptionReply.ERR_TLS_REQD]);
    client.destroy();
    // The API answers only signed requests.
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(403);
  });

  it('refuses without NBD TLS required (off, or only offered), naming NBD TLS', async () => {
    const base = { SLEDS_LISTEN_HOST: '0.0.0.0', SLEDS_API_AUTH: 'sigv4' };
    const missing = 'SLEDS_LISTEN_HOST=0.0.0.0 needs TLS on NBD (SLEDS_NBD_TLS=require with SLEDS_NBD_TLS_PSK_FILE)';
    await expectRefusal(join(root, 'off'), base, missing);
    await expectRefusal(join(root, 'on'), { ...base, SLEDS_NBD_TLS: 'on', SLEDS_NBD_TLS_PSK_FILE: pskFile }, missing);
  });

  it('refuses without SigV4 on the API, naming SigV4', async () => {
    await expectRefusal(
      join(root, 'nosig'),
      { SLEDS_LISTEN_HOST: '0.0.0.0', SLEDS_NBD_TLS: 'require', SLEDS_NBD_TLS_PSK_FILE: pskFile },
      'SLEDS_LISTEN_HOST=0.0.0.0 needs SigV4 on the API (SLEDS_API_AUTH=sigv4): ',
    );
  });

  it('refuses a PSK file that others may read, or that is missing', async () => {
    const shared = join(root, 'shared.psk');
    await writeFile(shared, `alice:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    await chmod(shared, 0o644);
    await expectRefusal(join(root, 'shared'), { SLEDS_NBD_TLS: 'require', SLEDS_NBD_TLS_PSK_FILE: shared }, `is mode 644: other users may read the keys; chmod 600 ${shared}`);
    await expectRefusal(join(root, 'nofile'), { SLEDS_NBD_TLS: 'require' }, 'SLEDS_NBD_TLS=require needs SLEDS_NBD_TLS_PSK_FILE');
  });
});
