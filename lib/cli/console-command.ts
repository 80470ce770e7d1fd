/**
 * `sleds console`: serves the web console on loopback. The browser talks only to the console's
 * server, which passes `/api/*` to the Sleds API through the CLI's transport (the global fetch,
 * or one that signs requests for a deployed stack).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONSOLE_PORT, loadConsolePort } from '../config.js';
import { startConsoleServer } from '../console/server.js';
import { UsageError, parseEndpointArgument } from './format.js';
import type { CliContext } from './main.js';

interface ConsoleOptions {
  port?: number;
  api?: string;
}

function parsePort(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65535) throw new InvalidArgumentError(`"${text}" is not a port number from 0 to 65535.`);
  return value;
}

/** Adds the `console` command to the program. */
export function registerConsoleCommand(program: Command, context: CliContext): Command {
  return program
    .command('console')
    .description('serve the web console on 127.0.0.1: volumes, partitions, snapshots and copy jobs with their fan-out trees')
    .option('--port <port>', `port to serve on (default: $SLEDS_CONSOLE_PORT, else ${DEFAULT_CONSOLE_PORT}; 0 picks one)`, parsePort)
    .option('--api <url>', 'Sleds API base URL (default: the global --endpoint or --stack, $SLEDS_ENDPOINT, else the local cloud)')
    .action(async (options: ConsoleOptions) => {
      const apiBaseUrl = options.api !== undefined ? parseEndpointArgument(options.api) : context.endpoint;
      const port = options.port ?? loadConsolePort(context.io.env ?? process.env);
      const server = await startConsoleServer({
        apiBaseUrl,
        // The CLI's own transport: signed with SigV4 for a deployed stack (global --stack,
        // --profile, --region), as every other command's requests are.
        transport: context.signedFetch(),
        port,
      }).catch((error: unknown) => {
        if ((error as { code?: string }).code === 'EADDRINUSE') {
          throw new UsageError(`port ${port} is already in use; pass --port (0 picks a free one) or set SLEDS_CONSOLE_PORT.`);
        }
        throw error;
      });
      context.print(`Console ${server.url}   (API ${apiBaseUrl}; Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
    });
}
