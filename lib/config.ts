import { ConfigError } from './errors.js';
import { LINK_SHARINGS, type LinkSharing } from './sleds/bandwidth.js';
import { ENV, type EnvName } from './config-env.js';

export { ENV, type EnvName };

/**
 * The stateful stack's outputs (infra/stateful-stack.ts) and the variable each one fills: what
 * a process outside the stack (`sleds nbd serve`) needs to reach the buckets, tables and queues.
 */
export const STATEFUL_STACK_OUTPUTS = {
  VolumesTableName: ENV.volumesTable,
  PartitionsTableName: ENV.partitionsTable,
  SnapshotsTableName: ENV.snapshotsTable,
  CopyJobsTableName: ENV.copyJobsTable,
  SledBucketNames: ENV.sledBuckets,
  FlushQueueUrl: ENV.flushQueueUrl,
  SnapshotQueueUrl: ENV.snapshotQueueUrl,
  CopyQueueUrl: ENV.copyQueueUrl,
} as const satisfies Record<string, EnvName>;

/** The environment that a stack's outputs stand for; throws ConfigError naming a missing output. */
export function environmentFromStackOutputs(stackName: string, outputs: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [output, name] of Object.entries(STATEFUL_STACK_OUTPUTS)) {
    const value = outputs[output];
    if (!value) throw new ConfigError(`stack ${stackName} has no output ${output} (${name}); deploy the stateful stack of this version first`);
    env[name] = value;
  }
  return env;
}
type Env = Readonly<Record<string, string | undefined>>;

/** What the service (handlers and workers) needs to reach its state. */
export interface ServiceConfig {
  readonly region: string;
  readonly endpoints: Readonly<{ s3?: string; sqs?: string; dynamodb?: string; sfn?: string }>;
  readonly tables: Readonly<{ volumes: string; partitions: string; snapshots: string; copyJobs: string }>;
  readonly sledBuckets: readonly string[];
  readonly queues: Readonly<{ flush: string; snapshot: string; copy: string }>;
  readonly copyStateMachineArn?: string;
  readonly flushEveryOps: number;
  readonly checkpointEveryOps: number;
  /** Head-node lease length in milliseconds; 0 for none. */
  readonly headLeaseMs: number;
  /** Mebibytes of head cache (note payloads until flushed, flushed chunk versions); 0 for none. */
  readonly headCacheMib: number;
  /** Notes of at most this many bytes go in the partitions table, not on a sled (0: none). */
  readonly tableNoteBytes: number;
  /** Group commit bounds: writes and payload bytes in one grouped note (absent: the defaults). */
  readonly groupCommitMaxWrites?: number;
  readonly groupCommitMaxBytes?: number;
  /** Bytes per second per sled link and direction, when the bandwidth model is on. */
  readonly sledBandwidth?: number;
  /** How a capped link shares itself between transfers (absent: fair). */
  readonly sledLinkSharing?: LinkSharing;
}

/** What the embedded local cloud (`npm start`) needs. */
export interface LocalCloudConfig {
  readonly port: number;
  readonly dataDir: string;
  /** Where the user-facing listeners bind (DEFAULT_LISTEN_HOST: loopback). */
  readonly listenHost: string;
  /** Serve the API against this endpoint (LocalStack) instead of the embedded emulators. */
  readonly awsEndpoint?: string;
  /** The sled bandwidth model for `npm start` (SLEDS_SLED_BANDWIDTH, SLEDS_SLED_LINK_SHARING), as in a deployment. */
  readonly sledBandwidth?: number;
  readonly sledLinkSharing?: LinkSharing;
  /** The NBD port volumes are served on (DEFAULT_NBD_PORT). */
  readonly nbdPort: number;
  /** MiB of head cache of the serving process (DEFAULT_HEAD_CACHE_MIB: on; 0 turns it off). */
  readonly headCacheMib: number;
}

/** How the NBD server uses TLS (SLEDS_NBD_TLS, SLEDS_NBD_TLS_PSK_FILE). */
export type NbdTlsConfig = { readonly mode: 'off' } | { readonly mode: 'on' | 'require'; readonly pskFile: string };

/** What the CLI needs. */
export interface CliConfig {
  readonly endpoint: string;
}

export const DEFAULT_REGION = 'us-east-1';

/**
 * The embedded cloud's test key pair for SLEDS_API_AUTH=sigv4, when SLEDS_API_ACCESS_KEY_ID and
 * SLEDS_API_SECRET_ACCESS_KEY are not set. Public on purpose: it opens only a local API.
 */
export const LOCAL_API_CREDENTIALS = Object.freeze({
  accessKeyId: 'AKIASLEDSLOCALTEST01',
  secretAccessKey: 'sleds-local-test-secret-not-an-aws-key',
});

/** How the embedded cloud's API authenticates requests. */
export type ApiAuthConfig =
  | { readonly mode: 'none' }
  | { readonly mode: 'sigv4'; readonly accessKeyId: string; readonly secretAccessKey: string };
export const DEFAULT_PORT = 4510;
export const DEFAULT_DATA_DIR = '.sleds';
export const DEFAULT_CONSOLE_PORT = 9401;
/** The NBD port (IANA: nbd, 10809). */
export const DEFAULT_NBD_PORT = 10809;
/** Loopback: what every socket of the embedded cloud binds to unless SLEDS_LISTEN_HOST says otherwise. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
export const DEFAULT_FLUSH_EVERY_OPS = 64;
export const DEFAULT_CHECKPOINT_EVERY_OPS = 1024;
export const DEFAULT_HEAD_LEASE_MS = 3000;
/** A shorter lease would be mostly margin (lib/notes/partition-head.ts LEASE_MARGIN_MS). */
export const MIN_HEAD_LEASE_MS = 400;
export const DEFAULT_HEAD_CACHE_MIB = 256;
export const DEFAULT_TABLE_NOTE_BYTES = 8 * 1024;
export const DEFAULT_GROUP_COMMIT_MAX_WRITES = 64;
export const DEFAULT_GROUP_COMMIT_MAX_BYTES = 4 * 1024 * 1024;
/** A DynamoDB item holds at most 400 KB: the payload and a few short attributes. */
export const MAX_TABLE_NOTE_BYTES = 256 * 1024;

function required(env: Env, name: EnvName): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function optional(env: Env, name: EnvName): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function url(name: EnvName, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    new URL(value);
  } catch {
    throw new ConfigError(`${name} must be a URL, got "${value}"`);
  }
  return value;
}

function port(env: Env, name: EnvName, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(`${name} must be a port number from 0 to 65535, got "${raw}"`);
  }
  return value;
}

/** Reads the service configuration once; throws ConfigError naming the first missing variable. */
export function loadServiceConfig(env: Env = process.env): ServiceConfig {
  const shared = url(ENV.awsEndpoint, optional(env, ENV.awsEndpoint));
  const sledBuckets = required(env, ENV.sledBuckets)
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  if (sledBuckets.length === 0) throw new ConfigError(`${ENV.sledBuckets} must name at least one bucket`);
  if (new Set(sledBuckets).size !== sledBuckets.length) {
    throw new ConfigError(`${ENV.sledBuckets} names a bucket twice`);
  }
  const endpoint = (name: EnvName) => url(name, optional(env, name)) ?? shared;
  return Object.freeze({
    region: optional(env, ENV.region) ?? env.AWS_REGION ?? DEFAULT_REGION,
    endpoints: Object.freeze({
      s3: endpoint(ENV.s3Endpoint),
      sqs: endpoint(ENV.sqsEndpoint),
      dynamodb: endpoint(ENV.dynamodbEndpoint),
      sfn: endpoint(ENV.sfnEndpoint),
    }),
    tables: Object.freeze({
      volumes: required(env, ENV.volumesTable),
      partitions: required(env, ENV.partitionsTable),
      snapshots: required(env, ENV.snapshotsTable),
      copyJobs: required(env, ENV.copyJobsTable),
    }),
    sledBuckets: Object.freeze(sledBuckets),
    queues: Object.freeze({
      flush: required(env, ENV.flushQueueUrl),
      snapshot: required(env, ENV.snapshotQueueUrl),
      copy: required(env, ENV.copyQueueUrl),
    }),
    flushEveryOps: count(env, ENV.flushEveryOps, DEFAULT_FLUSH_EVERY_OPS, 0),
    checkpointEveryOps: count(env, ENV.checkpointEveryOps, DEFAULT_CHECKPOINT_EVERY_OPS, 1),
    headLeaseMs: headLeaseMs(env),
    headCacheMib: count(env, ENV.headCacheMib, DEFAULT_HEAD_CACHE_MIB, 0),
    tableNoteBytes: tableNoteBytes(env),
    groupCommitMaxWrites: count(env, ENV.groupCommitMaxWrites, DEFAULT_GROUP_COMMIT_MAX_WRITES, 1),
    groupCommitMaxBytes: count(env, ENV.groupCommitMaxBytes, DEFAULT_GROUP_COMMIT_MAX_BYTES, 1),
    ...optionalFields(env),
  });
}

function count(env: Env, name: EnvName, fallback: number, min: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new ConfigError(`${name} must be a whole number of at least ${min}, got "${raw}"`);
  return value;
}

function headLeaseMs(env: Env): number {
  const value = count(env, ENV.headLeaseMs, DEFAULT_HEAD_LEASE_MS, 0);
  if (value !== 0 && value < MIN_HEAD_LEASE_MS) throw new ConfigError(`${ENV.headLeaseMs} must be 0 (off) or at least ${MIN_HEAD_LEASE_MS}, got "${value}"`);
  return value;
}

function tableNoteBytes(env: Env): number {
  const value = count(env, ENV.tableNoteBytes, DEFAULT_TABLE_NOTE_BYTES, 0);
  if (value > MAX_TABLE_NOTE_BYTES) throw new ConfigError(`${ENV.tableNoteBytes} must be at most ${MAX_TABLE_NOTE_BYTES}, got "${value}"`);
  return value;
}

function optionalFields(env: Env): Pick<ServiceConfig, 'copyStateMachineArn' | 'sledBandwidth' | 'sledLinkSharing'> {
  const fields: { copyStateMachineArn?: string; sledBandwidth?: number; sledLinkSharing?: LinkSharing } = {};
  const sharing = optional(env, ENV.sledLinkSharing);
  if (sharing !== undefined) {
    const known = LINK_SHARINGS.find((name) => name === sharing);
    if (!known) throw new ConfigError(`${ENV.sledLinkSharing} must be one of ${LINK_SHARINGS.join(', ')}, got "${sharing}"`);
    fields.sledLinkSharing = known;
  }
  const arn = optional(env, ENV.copyStateMachineArn);
  if (arn) fields.copyStateMachineArn = arn;
  const bandwidth = optional(env, ENV.sledBandwidth);
  if (bandwidth !== undefined) {
    const value = Number(bandwidth);
    if (!Number.isFinite(value) || value <= 0) {
      throw new ConfigError(`${ENV.sledBandwidth} must be a positive number of bytes per second, got "${bandwidth}"`);
    }
    fields.sledBandwidth = value;
  }
  return fields;
}

/** Reads the embedded cloud's port, data directory and listen host. */
export function loadLocalCloudConfig(env: Env = process.env): LocalCloudConfig {
  const awsEndpoint = url(ENV.awsEndpoint, optional(env, ENV.awsEndpoint));
  return Object.freeze({
    port: port(env, ENV.port, DEFAULT_PORT),
    dataDir: optional(env, ENV.dataDir) ?? DEFAULT_DATA_DIR,
    listenHost: optional(env, ENV.listenHost) ?? DEFAULT_LISTEN_HOST,
    nbdPort: loadNbdPort(env),
    headCacheMib: count(env, ENV.headCacheMib, DEFAULT_HEAD_CACHE_MIB, 0),
    ...(awsEndpoint ? { awsEndpoint } : {}),
    ...(optionalFields(env).sledBandwidth === undefined ? {} : { sledBandwidth: optionalFields(env).sledBandwidth }),
    ...(optionalFields(env).sledLinkSharing === undefined ? {} : { sledLinkSharing: optionalFields(env).sledLinkSharing }),
  });
}

/** The emulators that can serve the embedded cloud's DynamoDB. */
export const DYNAMODB_BACKENDS = ['dynalite', 'dynamodb-local'] as const;
export type DynamodbBackend = (typeof DYNAMODB_BACKENDS)[number];

/** Reads which emulator serves the embedded cloud's DynamoDB (SLEDS_DYNAMODB, default dynalite). */
export function loadDynamodbBackend(env: Env = process.env): DynamodbBackend {
  const raw = optional(env, ENV.dynamodb);
  if (raw === undefined) return 'dynalite';
  const backend = DYNAMODB_BACKENDS.find((name) => name === raw);
  if (!backend) throw new ConfigError(`${ENV.dynamodb} must be one of ${DYNAMODB_BACKENDS.join(', ')}, got "${raw}"`);
  return backend;
}

/** Reads the web console's port (SLEDS_CONSOLE_PORT, default 9401). */
export function loadConsolePort(env: Env = process.env): number {
  return port(env, ENV.consolePort, DEFAULT_CONSOLE_PORT);
}

/** Reads SLEDS_NBD_PORT: a port number (0 picks a free one), DEFAULT_NBD_PORT when unset. */
export function loadNbdPort(env: Env = process.env): number {
  return port(env, ENV.nbdPort, DEFAULT_NBD_PORT);
}

const NBD_TLS_MODES = ['off', 'on', 'require'] as const;

/**
 * Reads SLEDS_NBD_TLS and SLEDS_NBD_TLS_PSK_FILE. Only the settings: the file itself is checked
 * (exists, private, parseable) when the server starts (lib/nbd/tls-psk.ts loadPskFile).
 */
export function loadNbdTlsConfig(env: Env = process.env): NbdTlsConfig {
  const raw = optional(env, ENV.nbdTls) ?? 'off';
  const mode = NBD_TLS_MODES.find((each) => each === raw);
  if (!mode) throw new ConfigError(`${ENV.nbdTls} must be one of ${NBD_TLS_MODES.join(', ')}, got "${raw}"`);
  const pskFile = optional(env, ENV.nbdTlsPskFile);
  if (mode === 'off') {
    if (pskFile !== undefined) throw new ConfigError(`${ENV.nbdTlsPskFile} needs ${ENV.nbdTls}=on or require`);
    return Object.freeze({ mode });
  }
  if (pskFile === undefined) throw new ConfigError(`${ENV.nbdTls}=${mode} needs ${ENV.nbdTlsPskFile} (a psktool keys file: psktool -u alice -p keys.psk)`);
  return Object.freeze({ mode, pskFile });
}

/** Reads the CLI's API endpoint; defaults to the embedded cloud. */
export function loadCliConfig(env: Env = process.env): CliConfig {
  const fallback = `http://127.0.0.1:${port(env, ENV.port, DEFAULT_PORT)}`;
  const endpoint = url(ENV.endpoint, optional(env, ENV.endpoint)) ?? fallback;
  return Object.freeze({ endpoint: endpoint.replace(/\/+$/, '') });
}

/** The log levels SLEDS_LOG_LEVEL accepts (Powertools Logger's names, lower case). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'critical', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** How the process logs and where its metrics go. */
export interface ObservabilityConfig {
  readonly logLevel: LogLevelName;
  readonly metrics: 'emf' | 'prometheus';
}

/** Reads the log level and the metrics sink; fails fast on a value it does not know. */
export function loadObservabilityConfig(env: Env = process.env): ObservabilityConfig {
  const raw = optional(env, ENV.logLevel) ?? optional(env, 'POWERTOOLS_LOG_LEVEL' as EnvName) ?? 'info';
  const logLevel = raw.toLowerCase() as LogLevelName;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`${ENV.logLevel} must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  const inLambda = optional(env, 'AWS_LAMBDA_FUNCTION_NAME' as EnvName) !== undefined;
  const metrics = optional(env, ENV.metrics) ?? (inLambda ? 'emf' : 'prometheus');
  if (metrics !== 'emf' && metrics !== 'prometheus') throw new ConfigError(`${ENV.metrics} must be "emf" or "prometheus", got "${metrics}"`);
  return Object.freeze({ logLevel, metrics });
}

/** Reads SLEDS_API_AUTH and the local key pair: how the embedded cloud's API authenticates. */
export function loadApiAuthConfig(env: Env = process.env): ApiAuthConfig {
  const mode = optional(env, ENV.apiAuth) ?? 'none';
  const accessKeyId = optional(env, ENV.apiAccessKeyId);
  const secretAccessKey = optional(env, ENV.apiSecretAccessKey);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(`${ENV.apiAccessKeyId} and ${ENV.apiSecretAccessKey} go together: set both or neither`);
  }
  if (mode === 'none') {
    if (accessKeyId !== undefined) throw new ConfigError(`${ENV.apiAccessKeyId} needs ${ENV.apiAuth}=sigv4`);
    return Object.freeze({ mode });
  }
  if (mode !== 'sigv4') throw new ConfigError(`${ENV.apiAuth} must be "none" or "sigv4", got "${mode}"`);
  return Object.freeze({
    mode,
    accessKeyId: accessKeyId ?? LOCAL_API_CREDENTIALS.accessKeyId,
    secretAccessKey: secretAccessKey ?? LOCAL_API_CREDENTIALS.secretAccessKey,
  });
}

/** Renders a service config back into environment variables (for the embedded cloud and CDK). */
export function serviceEnvironment(config: ServiceConfig): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.region]: config.region,
    [ENV.volumesTable]: config.tables.volumes,
    [ENV.partitionsTable]: config.tables.partitions,
    [ENV.snapshotsTable]: config.tables.snapshots,
    [ENV.copyJobsTable]: config.tables.copyJobs,
    [ENV.sledBuckets]: config.sledBuckets.join(','),
    [ENV.flushQueueUrl]: config.queues.flush,
    [ENV.snapshotQueueUrl]: config.queues.snapshot,
    [ENV.copyQueueUrl]: config.queues.copy,
  };
  env[ENV.flushEveryOps] = String(config.flushEveryOps);
  env[ENV.checkpointEveryOps] = String(config.checkpointEveryOps);
  env[ENV.headLeaseMs] = String(config.headLeaseMs);
  env[ENV.headCacheMib] = String(config.headCacheMib);
  env[ENV.tableNoteBytes] = String(config.tableNoteBytes);
  if (config.groupCommitMaxWrites !== undefined) env[ENV.groupCommitMaxWrites] = String(config.groupCommitMaxWrites);
  if (config.groupCommitMaxBytes !== undefined) env[ENV.groupCommitMaxBytes] = String(config.groupCommitMaxBytes);
  if (config.copyStateMachineArn) env[ENV.copyStateMachineArn] = config.copyStateMachineArn;
  if (config.sledBandwidth !== undefined) env[ENV.sledBandwidth] = String(config.sledBandwidth);
  if (config.sledLinkSharing !== undefined) env[ENV.sledLinkSharing] = config.sledLinkSharing;
  if (config.endpoints.s3) env[ENV.s3Endpoint] = config.endpoints.s3;
  if (config.endpoints.sqs) env[ENV.sqsEndpoint] = config.endpoints.sqs;
  if (config.endpoints.dynamodb) env[ENV.dynamodbEndpoint] = config.endpoints.dynamodb;
  if (config.endpoints.sfn) env[ENV.sfnEndpoint] = config.endpoints.sfn;
  return env;
}
