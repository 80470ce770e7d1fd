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
