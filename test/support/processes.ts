import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import type { LocalCloud } from '../../lib/local/local-cloud.js';
import { createServices, type Services } from '../../lib/wiring.js';

let counters = 0;

/** Counts the SDK commands a set of clients sends from now on, by name. */
export function countCommands(clients: Services['clients']): Map<string, number> {
  const counts = new Map<string, number>();
  const name = `testCommandCounter${++counters}`;
  for (const client of [clients.s3, clients.documents] as Array<{ middlewareStack: any }>) {
    client.middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => {
        const command = (context.commandName ?? '?').replace(/Command$/, '');
        counts.set(command, (counts.get(command) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name },
    );
  }
  return counts;
}

/** Two service instances on one cloud: two processes of the same deployment. */
export function useTwoProcesses(cloud: () => LocalCloud): () => readonly [Services, Services] {
  let pair: [Services, Services] | undefined;
  beforeAll(() => {
    pair = [createServices(cloud().config), createServices(cloud().config)];
  });
  afterAll(() => pair?.forEach((services) => services.clients.destroy()));
  return () => {
    if (!pair) throw new Error('the processes have not started');
    return pair;
  };
}

/** A port free on loopback right now (the caller binds it soon after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The same command `npm start` runs, without npm in between so that a signal (SIGKILL too) reaches it directly. */
export const START = [process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', 'lib/local/main.ts']] as const;

/** A server process started by a test, with its output so far and its exit. */
export interface Running {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

/** Starts `npm start`'s command with these settings added to the environment; see `ready`. */
export function startServer(env: Record<string, string>): Running {
  const child = spawn(START[0], START[1], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Waits until the server says it is ready; throws with its output if it exits or takes too long. */
export async function ready(running: Running, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!running.output().includes('local cloud ready')) {
    if (running.child.exitCode !== null) throw new Error(`npm start exited early:\n${running.output()}`);
    if (Date.now() > deadline) throw new Error(`npm start was not ready in ${timeoutMs} ms:\n${running.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts the server and waits until it is ready. */
export async function startReady(env: Record<string, string>, timeoutMs?: number): Promise<Running> {
  const running = startServer(env);
  await ready(running, timeoutMs);
  return running;
}
