/**
 * `sleds`, the command-line client of the Sleds API. Each command group registers itself
 * from its own file; this module owns the program, the global options, output and exit codes.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { API_URL_OUTPUT_KEY, isLoopbackHost, regionOfApiHost } from '../api/deployment.js';
import { awsCredentialSource, readStackOutput } from '../aws/cli-credentials.js';
import { DEFAULT_REGION, ENV, loadCliConfig } from '../config.js';
import { SledsApiClient } from './api-client.js';
import { registerConsoleCommand } from './console-command.js';
import { registerCopyCommands } from './copy-commands.js';
import { registerNbdCommands } from './nbd-commands.js';
import { UsageError, formatErrorLine, formatJson, parseEndpointArgument } from './format.js';
import { signingFetch, type CredentialSource } from '../api/sign-requests.js';
import { registerSnapshotCommands } from './snapshot-commands.js';
import { registerVolumeCommands } from './volume-commands.js';

/** Exit statuses: 0 success, 1 the API or the network failed, 2 the command line is wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Where output goes; process.stdout and process.stderr satisfy it, and so do test captures. */
export interface CliStream {
  /** Text for people; `sleds volume read --out -` also writes bytes to stdout. */
  write(chunk: string | Uint8Array): unknown;
  /** Progress bars and colour are for terminals only. */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliIo {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  /** Environment to read SLEDS_ENDPOINT from; process.env when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Injected for tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
  /** Injected for tests; the AWS SDK's credential chain (with --profile) otherwise. */
  readonly credentials?: (options: { profile?: string }) => CredentialSource;
  /** Injected for tests; CloudFormation DescribeStacks otherwise. */
  readonly readStackOutput?: (options: { stackName: string; outputKey: string; region: string; profile?: string }) => Promise<string>;
}

/** What every command action gets: resolved global options, the API client and output helpers. */
export interface CliContext {
  readonly io: CliIo;
  /** True with --json: print only machine-readable JSON on stdout. */
  readonly json: boolean;
  /** The API base URL, from --endpoint, else SLEDS_ENDPOINT, else the local cloud. */
  readonly endpoint: string;
  /** The API client for `endpoint`, built on first use. */
  client(): SledsApiClient;
  /** The fetch the API client uses: SigV4-signed whenever credentials are found. */
  signedFetch(): typeof fetch;
  /** Writes a line of human output to stdout. */
  print(text: string): void;
  /** Writes a value as JSON to stdout. */
  printJson(value: unknown): void;
  /** Writes a hint for people to stderr, so stdout stays clean for pipes. */
  hint(text: string): void;
}

interface GlobalOptions {
  endpoint?: string;
  stack?: string;
  profile?: string;
  region?: string;
  json?: boolean;
}

interface Settings {
  endpoint: string;
  json: boolean;
  /** The region requests are signed for. */
  region: string;
  credentials: CredentialSource;
}

function packageVersion(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version?: string };
  return pkg.version ?? '0.0.0';
}

class RunContext implements CliContext {
  private resolved?: Settings;
  private apiClient?: SledsApiClient;

  constructor(readonly io: CliIo) {}

  /** Called from the preAction hook, once commander has parsed the global options. */
  async resolve(options: GlobalOptions): Promise<void> {
    const env = this.io.env ?? process.env;
    const profile = options.profile ?? env.AWS_PROFILE;
    const awsRegion = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (options.stack !== undefined && options.endpoint !== undefined) {
      throw new UsageError('give --endpoint or --stack, not both');
    }
    let endpoint: string;
    if (options.stack !== undefined) {
      if (!awsRegion) throw new UsageError(`--stack ${options.stack} needs a region: give --region, or set AWS_REGION`);
      const read = this.io.readStackOutput ?? readStackOutput;
      const url = await read({ stackName: options.stack, outputKey: API_URL_OUTPUT_KEY, region: awsRegion, ...(profile ? { profile } : {}) });
      endpoint = parseEndpointArgument(url);
    } else {
      endpoint = options.endpoint !== undefined ? parseEndpointArgument(options.endpoint) : loadCliConfig(this.io.env).endpoint;
    }
    const host = new URL(endpoint).hostname;
    // The embedded cloud verifies signatures for its own region, whatever AWS_REGION says.
    const region =
      options.region ?? regionOfApiHost(host) ?? (isLoopbackHost(host) ? (env[ENV.region] ?? DEFAULT_REGION) : (awsRegion ?? DEFAULT_REGION));
    const credentials = (this.io.credentials ?? awsCredentialSource)(profile ? { profile } : {});
    // Without credentials only the embedded cloud may answer; refuse here rather than send a
    // request the gateway would refuse.
    if (!isLoopbackHost(host) && !(await credentials())) {
      throw new UsageError(
        `no AWS credentials to sign requests to ${endpoint} with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
          'give --profile, or sign in with `aws sso login`',
      );
    }
    this.resolved = { endpoint, json: options.json === true, region, credentials };
  }

  private get settings(): Settings {
    if (!this.resolved) throw new Error('CLI context used before the global options were parsed');
    return this.resolved;
  }

  get json(): boolean {
    return this.settings.json;
  }

  get endpoint(): string {
    return this.settings.endpoint;
  }

  client(): SledsApiClient {
    this.apiClient ??= new SledsApiClient({ endpoint: this.endpoint, fetch: this.signedFetch() });
    return this.apiClient;
  }

  /**
   * Every request is SigV4-signed (service execute-api) whenever the credential chain finds
   * credentials. Without any, a loopback endpoint (the embedded cloud) is called unsigned;
   * anything else was refused in resolve().
   */
  signedFetch(): typeof fetch {
    const { region, credentials } = this.settings;
    return signingFetch(this.io.fetch ?? globalThis.fetch, credentials, region);
  }

  print(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.io.stdout.write(formatJson(value));
  }

  hint(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}

// A fresh program per run: commander keeps parse state on the Command objects.
function buildProgram(context: RunContext): Command {
  const { io } = context;
  const program = new Command('sleds')
    .description('Serverless block volumes on AWS primitives: manage volumes, snapshots and copy jobs through the Sleds API.')
    .version(packageVersion(), '-V, --version', 'print the CLI version')
    .option('--endpoint <url>', 'Sleds API base URL (default: $SLEDS_ENDPOINT, else http://127.0.0.1:4510)')
    .option('--stack <name>', 'read the API URL from this CloudFormation stack\'s ApiUrl output (e.g. Sleds-Stateless)')
    .option('--profile <name>', 'AWS profile to sign requests with (default: $AWS_PROFILE, else the SDK\'s credential chain)')
    .option('--region <region>', 'AWS region to sign for and to find --stack in (default: the API URL\'s, else $AWS_REGION)')
    .option('--json', 'print machine-readable JSON instead of tables')
    .addHelpText(
      'after',
      '\nExit status: 0 on success, 1 when the API or the network fails, 2 when the command line is wrong.',
    )
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      outputError: (text, write) => {
        // "error: unknown command 'lst'\n(Did you mean list?)": the code goes on the first line.
        const [first = '', ...rest] = text.replace(/^error: /, '').trimEnd().split('\n');
        write([formatErrorLine(new UsageError(first)), ...rest].join('\n') + '\n');
      },
    })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .hook('preAction', async (thisCommand) => {
      await context.resolve(thisCommand.opts<GlobalOptions>());
    });
  registerVolumeCommands(program, context);
  registerSnapshotCommands(program, context);
  registerCopyCommands(program, context);
  registerConsoleCommand(program, context);
  registerNbdCommands(program, context);
  return program;
}

/**
 * Runs the CLI on `argv` (the arguments after the program name) and returns the exit status.
 * It never calls process.exit, so tests run it in-process with captured output.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const context = new RunContext(io);
  const program = buildProgram(context);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    // Commander has already printed its message (or the help, or the version).
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    io.stderr.write(`${formatErrorLine(error)}\n`);
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

/** The bin's entry point: runs on process.argv and sets process.exitCode. */
export async function main(): Promise<void> {
  // `sleds volume list | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  process.exitCode = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
}
