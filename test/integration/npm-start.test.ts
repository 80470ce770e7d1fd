import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { freePort, ready, startServer as start, type Running } from '../support/processes.js';

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
    await ready(first, 30_000);
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
    await ready(restarted, 30_000);
    const listed = await call(base, 'GET', '/volumes');
    expect(listed.body.volumes.map((v: { volumeId: string }) => v.volumeId)).toContain(created.body.volumeId);
    const shown = await call(base, 'GET', `/volumes/${created.body.volumeId}`);
    expect(shown.body).toEqual(created.body);

    const int = await stopWithin(restarted, 'SIGINT');
    expect(int.code).toBe(0);
    expect(int.ms).toBeLessThan(5000);
  });
});
