/**
 * `sleds nbd serve`: every volume of a deployment as an NBD disk, served from this machine as a
 * head-node process. It talks to the deployment's buckets, tables and queues directly, with
 * the caller's AWS credentials (not through the API), and finds them from the stateful stack's
 * outputs, or from the SLEDS_* variables when they are set (the embedded cloud, tests).
 */
import type { Command } from 'commander';
import { readStackOutputs } from '../aws/stack-outputs.js';
import { DEFAULT_REGION, ENV, environmentFromStackOutputs, loadNbdPort, loadServiceConfig } from '../config.js';
import { startDiskServer } from '../disks/disk-server.js';
import { createServices } from '../wiring.js';
import type { CliContext } from './main.js';
import { UsageError } from './format.js';

/** The stateful stack `cdk deploy` creates (infra/sleds-app.ts). */
export const DEFAULT_STATEFUL_STACK = 'Sleds-Stateful';
/** NBD has no TLS yet: the server listens on loopback only; reach it through an SSH tunnel. */
const NBD_SERVE_HOST = '127.0.0.1';

interface ServeOptions {
  stack?: string;
  port?: string;
  profile?: string;
  region?: string;
}

/** What `nbd serve` waits for before it stops; process signals unless a test passes its own. */
export type StopSignal = Promise<string>;

function processStopSignal(): StopSignal {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number from 0 to 65535, got "${raw}"`);
  return port;
}

/** Adds the `nbd` command group to the program. */
export function registerNbdCommands(program: Command, context: CliContext, stop: () => StopSignal = processStopSignal): Command {
  const nbd = program.command('nbd').description('serve volumes as disks over the Network Block Device protocol');
  nbd
    .command('serve')
    .description(
      'serve every volume (read-write) and completed snapshot (read-only) of a deployment over NBD on 127.0.0.1, ' +
        "as a head-node process using your AWS credentials; finds the deployment from its stateful stack's outputs, " +
        `or from the SLEDS_* variables when ${ENV.volumesTable} is set`,
    )
    .option('--stack <name>', `the stateful stack (default: ${DEFAULT_STATEFUL_STACK}, unless the SLEDS_* variables are set)`)
    .option('--port <port>', `NBD port (default: $${ENV.nbdPort}, else 10809; 0 picks a free one)`)
    .option('--profile <name>', 'AWS profile for every call (default: the default credential chain)')
    .option('--region <region>', `AWS region (default: $${ENV.region}, else $AWS_REGION, else ${DEFAULT_REGION})`)
    .action(async (options: ServeOptions) => {
      const env = context.io.env ?? process.env;
      if (options.profile) process.env.AWS_PROFILE = options.profile;
      const region = options.region ?? env[ENV.region] ?? env.AWS_REGION ?? DEFAULT_REGION;
      const port = options.port !== undefined ? parsePort(options.port) : loadNbdPort(env);
      const fromEnvironment = options.stack === undefined && Boolean(env[ENV.volumesTable]?.trim());
      let serviceEnv: Record<string, string | undefined> = { ...env, [ENV.region]: region };
      let source = 'the SLEDS_* variables';
      if (!fromEnvironment) {
        const stack = options.stack ?? DEFAULT_STATEFUL_STACK;
        const endpoint = env[ENV.awsEndpoint]?.trim();
        const outputs = await readStackOutputs(stack, { region, ...(options.profile ? { profile: options.profile } : {}), ...(endpoint ? { endpoint } : {}) });
        serviceEnv = { ...serviceEnv, ...environmentFromStackOutputs(stack, outputs) };
        source = `stack ${stack} in ${region}`;
      }
      const config = loadServiceConfig(serviceEnv);
      const services = createServices(config);
      try {
        const server = await startDiskServer(services, { host: NBD_SERVE_HOST, port });
        const url = `nbd://${NBD_SERVE_HOST}:${server.port}`;
        context.print(`sleds: serving NBD on ${url} (volumes of ${source}; head cache ${config.headCacheMib} MiB)`);
        context.hint(`  try: nbdinfo --list ${url}   nbdinfo ${url}/<volume-id>   Ctrl-C to stop`);
        const signal = await stop();
        context.hint(`sleds: ${signal}, stopping the NBD server`);
        await server.close();
      } finally {
        services.clients.destroy();
      }
    });
  return nbd;
}
