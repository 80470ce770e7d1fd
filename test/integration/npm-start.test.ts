import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http.js';

/** The same command `npm start` runs, without npm in between so signals reach it directly. */
const START = [process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', 'lib/local/main.ts']] as const;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Running {
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Running {
  const child = spawn(START[0], START[1], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function ready(running: Running, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!running.output().includes('local cloud ready')) {
    if (running.child.exitCode !== null) throw new Error(`npm start exited early:\n${running.output()}`);
    if (Date.now() > deadline) throw new Error(`npm start was not ready in ${timeoutMs} ms:\n${running.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopWithin(running: Running, signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  running.child.kill(signal);
  const code = await running.exited;
  return { code, ms: Date.now() - started };
}

describe('npm start', () => {
  let dataDir: string;
  let port: number;
  let env: Record<string, string>;
  const spawned: Running[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sleds-start-'));
    port = await freePort();
    // Its own console and NBD ports too: parallel test files each start a cloud.
    env = { SLEDS_PORT: String(port), SLEDS_CONSOLE_PORT: String(await freePort()), SLEDS_NBD_PORT: String(await freePort()), SLEDS_DATA_DIR: dataDir };
  });

  afterAll(async () => {
    for (const running of spawned) if (running.child.exitCode === null) running.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps volumes across a stop and a restart, and stops within 5 s on SIGTERM and SIGINT', async () => {
    const first = start(env);
    spawned.push(first);
    await ready(first);
    const base = `http://127.0.0.1:${port}`;
    expect((await call(base, 'GET', '/health')).status).toBe(200);
    const created = await call(base, 'POST', '/volumes', { sizeBytes: 1024 * 1024 * 1024, name: 'survives' });
    expect(created.status).toBe(201);

    // A second instance on the same port must refuse clearly and leave the first alone.
    const second = start(env);
    spawned.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(new RegExp(`port ${port} is already in use`));
    expect((await call(base, 'GET', '/health')).status).toBe(200);

    const term = await stopWithin(first, 'SIGTERM');
    expect(term.code).toBe(0);
    expect(term.ms).toBeLessThan(5000);

    const restarted = start(env);
    spawned.push(restarted);
    await ready(restarted);
    const listed = await call(base, 'GET', '/volumes');
    expect(listed.body.volumes.map((v: { volumeId: string }) => v.volumeId)).toContain(created.body.volumeId);
    const shown = await call(base, 'GET', `/volumes/${created.body.volumeId}`);
    expect(shown.body).toEqual(created.body);

    const int = await stopWithin(restarted, 'SIGINT');
    expect(int.code).toBe(0);
    expect(int.ms).toBeLessThan(5000);
  });
});
