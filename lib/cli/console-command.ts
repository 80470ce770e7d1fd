/**
 * `sleds console`: serves the web console on loopback. The browser talks only to the console's
 * server, which passes `/api/*` to the Sleds API through the CLI's transport (the global fetch,
 * or one that signs requests for a deployed stack).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONSOLE_PORT, loadConsolePort } from '../config.js';
import { startConsoleServer, type ConsoleTransport } from '../console/server.js';
import { UsageError, parseEndpointArgument } from './format.js';
import type { CliContext } from './main.js';

interface ConsoleOptions {
  port?: number;
  api?: string;
  stack?: string;
  profile?: string;
  region?: string;
}

function parsePort(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65535) throw new InvalidArgumentError(`"${text}" is not a port number from 0 to 65535.`);
  return value;
}

/**
 * The transport to the API. Requests are not signed yet: SigV4 signing for a deployed stack
 * (with `profile` and `region`) plugs in here, as a fetch that signs, once the CLI has it.
 */
export function consoleTransport(context: CliContext, _aws: { profile?: string; region?: string }): ConsoleTransport {
  return context.io.fetch ?? globalThis.fetch;
}

/** Adds the `console` command to the program. */
export function registerConsoleCommand(program: Command, context: CliContext): Command {
  return program
    .command('console')
    .description('serve the web console on 127.0.0.1: volumes, partitions, snapshots and copy jobs with their fan-out trees')
    .option('--port <port>', `port to serve on (default: $SLEDS_CONSOLE_PORT, else ${DEFAULT_CONSOLE_PORT}; 0 picks one)`, parsePort)
    .option('--api <url>', 'Sleds API base URL (default: --endpoint, $SLEDS_ENDPOINT, else the local cloud)')
    .option('--stack <name>', "a deployed stack whose API to use (needs the CLI's request signing; use --api meanwhile)")
    .option('--profile <name>', 'AWS profile for signing requests to a deployed stack')
    .option('--region <region>', 'AWS region of the deployed stack')
    .action(async (options: ConsoleOptions) => {
      if (options.stack !== undefined) {
        throw new UsageError(
          `--stack ${options.stack}: looking a stack up needs the CLI's request signing, which is not there yet; ` +
            "pass --api with the stack's ApiUrl output instead (aws cloudformation describe-stacks --stack-name Sleds-Stateless).",
        );
      }
      if (options.profile !== undefined || options.region !== undefined) {
        context.hint('sleds console: requests are not signed yet, so --profile and --region are not used.');
      }
      const apiBaseUrl = options.api !== undefined ? parseEndpointArgument(options.api) : context.endpoint;
      const port = options.port ?? loadConsolePort(context.io.env ?? process.env);
      const server = await startConsoleServer({
        apiBaseUrl,
        transport: consoleTransport(context, { ...(options.profile ? { profile: options.profile } : {}), ...(options.region ? { region: options.region } : {}) }),
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
