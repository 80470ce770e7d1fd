import { createAwsClients } from '../aws/clients.js';
import type { LinkSharing } from '../sleds/bandwidth.js';
import { provisionLocalResources } from '../aws/provision.js';
import { DEFAULT_CHECKPOINT_EVERY_OPS, DEFAULT_FLUSH_EVERY_OPS, DEFAULT_HEAD_LEASE_MS, DEFAULT_HEAD_CACHE_MIB,
  DEFAULT_TABLE_NOTE_BYTES, DEFAULT_LISTEN_HOST, DEFAULT_REGION, ENV, serviceEnvironment, type ApiAuthConfig, type ServiceConfig } from '../config.js';
import { DEFAULT_SLED_COUNT } from '../resources.js';
import { startApiServer, type ApiServer } from './api-server.js';
import { startEmulators, type Emulators } from './emulators.js';
import { configuredProtections, wideListeningRefusal } from './listening.js';
import { sigV4Authorizer } from './sigv4-auth.js';
import { ConfigError } from '../errors.js';
import { startSqsPoller } from './sqs-poller.js';
import type { ThreadStats } from './thread-stats.js';
import { registerInProcessRunner } from '../copy-jobs/workflow-registry.js';
import { TASK_HANDLER_MODULES } from './handler-registry.js';
import { LocalWorkflowRunner } from './local-workflow-runner.js';
import { processServices, resetProcessServices } from '../wiring.js';
import { startDiskServer, type DiskServerTls } from '../disks/disk-server.js';
import type { NbdServer } from '../nbd/nbd-server.js';
import type { CopyJobService } from '../copy-jobs/copy-job-service.js';

export interface LocalCloud {
  readonly apiUrl: string;
  /**
   * nbd://host:port of the NBD server (append a volume or snapshot id), when it serves one;
   * nbds:// when it speaks TLS.
   */
  readonly nbdUrl?: string;
  /** The NBD server's port, when it serves one. */
  readonly nbdPort?: number;
  readonly config: ServiceConfig;
  /** The in-process Step Functions runner. */
  readonly runner: LocalWorkflowRunner;
  /** The emulators' threads' stats, summed, when they run on threads of their own. */
  readonly emulatorThreads?: ThreadStats;
  /**
   * The copy jobs that were running when the previous process on this data stopped (a kill -9
   * ends their in-process executions), restarted at start; settles once each was tried.
   */
  readonly resumedCopyJobs: Promise<CopyJobResumption>;
  stop(): Promise<void>;
}

export interface LocalCloudOptions {
  /** API port; 0 picks a free one. */
  readonly port: number;
  /**
   * Where the API listens (default DEFAULT_LISTEN_HOST, loopback). The emulators stay on
   * loopback regardless. A host beyond loopback is refused while `wideListeningProblems`
   * names anything missing.
   */
  readonly listenHost?: string;
  /** Keep data on disk here; in memory when absent. */
  readonly dataDir?: string;
  readonly sledCount?: number;
  readonly region?: string;
  /**
   * Use this AWS-compatible endpoint (LocalStack) for every service instead of starting the
   * emulators; the resources are created there the same way.
   */
  readonly awsEndpoint?: string;
  /** Turns the sled bandwidth model on: bytes per second per sled link and direction. */
  readonly sledBandwidth?: number;
  /** How a capped link shares itself between transfers (default fair). */
  readonly sledLinkSharing?: LinkSharing;
  /** Overrides the state machine's retry waits (tests use 0). */
  readonly retryIntervalMs?: number;
  readonly flushEveryOps?: number;
  /** Head-node lease length (default DEFAULT_HEAD_LEASE_MS; 0: off). */
  readonly headLeaseMs?: number;
  /** MiB of head cache: note payloads until flushed, flushed chunk versions (default DEFAULT_HEAD_CACHE_MIB; 0: off). */
  readonly headCacheMib?: number;
  /** Notes of at most this many bytes go in the partitions table (default DEFAULT_TABLE_NOTE_BYTES; 0: every note on its sled). */
  readonly tableNoteBytes?: number;
  readonly checkpointEveryOps?: number;
  /** Each emulator on a worker thread of its own (see EmulatorOptions.threads). */
  readonly emulatorThreads?: boolean;
  /** How the API authenticates requests (SLEDS_API_AUTH); none by default. */
  readonly apiAuth?: ApiAuthConfig;
  /**
   * Serve every volume as an NBD disk on this port of the listen host (0: a free one), through
   * the same services the API's handlers use; no NBD server when absent.
   */
  readonly nbdPort?: number;
  /**
   * TLS of the NBD server (SLEDS_NBD_TLS, loaded by loadDiskServerTls); plain NBD when absent.
   * `require` is what lets NBD listen beyond loopback.
   */
  readonly nbdTls?: DiskServerTls;
  /**
   * Build the copy-job state machine (a `cdk synth` in-process, seconds of CPU) before the API
   * opens, while it still answers 503 "starting": built after, it would stall the event loop
   * under the first requests (a /health probe then times out and reports the backends degraded).
   */
  readonly warmBeforeOpen?: boolean;
  /**
   * Restart, at start, the copy jobs that read `running` with no execution behind them (their
   * executions lived in the process that stopped). On by default, except against an external
   * endpoint (`awsEndpoint`), whose jobs another live process may be running.
   */
  readonly resumeCopyJobs?: boolean;
}

/** What the resumption at start did. */
/** The jobs resumed at start, those that could not be, and why the search for them failed, if it did. */
export type CopyJobResumption = Awaited<ReturnType<CopyJobService['resumeInterrupted']>> & { readonly searchError?: string };

/**
 * The whole service on one machine: emulators, the resources the CDK stateful stack would
 * create, and the API served by the real handlers. The API port is bound first, so a second
 * instance fails fast without touching the first one's data.
 */
export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const region = options.region ?? DEFAULT_REGION;
  const listenHost = options.listenHost ?? DEFAULT_LISTEN_HOST;
  // Without an NBD server there is no NBD listener to protect.
  const protections = configuredProtections(options.apiAuth ?? { mode: 'none' }, options.nbdPort === undefined ? { mode: 'require' } : (options.nbdTls ?? { mode: 'off' }));
  const refusal = wideListeningRefusal({ listenHost }, protections);
  if (refusal) throw new ConfigError(refusal);
  const auth = options.apiAuth;
  const api: ApiServer = await startApiServer({
    port: options.port,
    host: listenHost,
    ...(auth?.mode === 'sigv4' ? { authorizer: sigV4Authorizer({ ...auth, region }) } : {}),
  });
  try {
    const emulators: Emulators = options.awsEndpoint
      ? externalEndpoint(options.awsEndpoint)
      : await startEmulators({ dataDir: options.dataDir, region, threads: options.emulatorThreads ?? false });
    try {
      const endpoints = { s3: emulators.s3Endpoint, sqs: emulators.sqsEndpoint, dynamodb: emulators.dynamodbEndpoint };
      const bootstrap = {
        region,
        endpoints,
        tables: { volumes: '', partitions: '', snapshots: '', copyJobs: '' },
        sledBuckets: [],
        queues: { flush: '', snapshot: '', copy: '' },
        flushEveryOps: 0,
        checkpointEveryOps: 1,
        headLeaseMs: 0,
        headCacheMib: 0,
        tableNoteBytes: 0,
      };
      const clients = createAwsClients(bootstrap);
      let resources;
      try {
        resources = await provisionLocalResources(clients, { sledCount: options.sledCount ?? DEFAULT_SLED_COUNT, region });
      } catch (error) {
        clients.destroy();
        throw error;
      }
      const config: ServiceConfig = Object.freeze({
        region,
        endpoints,
        ...resources,
        flushEveryOps: options.flushEveryOps ?? DEFAULT_FLUSH_EVERY_OPS,
        checkpointEveryOps: options.checkpointEveryOps ?? DEFAULT_CHECKPOINT_EVERY_OPS,
        headLeaseMs: options.headLeaseMs ?? DEFAULT_HEAD_LEASE_MS,
        headCacheMib: options.headCacheMib ?? DEFAULT_HEAD_CACHE_MIB,
        tableNoteBytes: options.tableNoteBytes ?? DEFAULT_TABLE_NOTE_BYTES,
        ...(options.sledBandwidth === undefined ? {} : { sledBandwidth: options.sledBandwidth }),
        ...(options.sledLinkSharing === undefined ? {} : { sledLinkSharing: options.sledLinkSharing }),
      });
      // The handlers read their config from the environment, exactly as a deployed Lambda does.
      // Optional settings of an earlier cloud in this process must not leak into this one.
      for (const name of [ENV.sledBandwidth, ENV.sledLinkSharing, ENV.copyStateMachineArn]) delete process.env[name];
      Object.assign(process.env, serviceEnvironment(config));
      // The handlers wire their services once per process: an earlier cloud's are stale.
      resetProcessServices();
      const runner = new LocalWorkflowRunner(TASK_HANDLER_MODULES, options.retryIntervalMs === undefined ? {} : { retryIntervalMs: options.retryIntervalMs });
      registerInProcessRunner(runner);
      const pollers = [
        startSqsPoller({
          sqs: clients.sqs,
          queueUrl: config.queues.snapshot,
          load: async () => (await import('../../functions/materialize-snapshot.js')).handler,
        }),
        startSqsPoller({
          sqs: clients.sqs,
          queueUrl: config.queues.flush,
          load: async () => (await import('../../functions/flush-partition.js')).handler,
        }),
      ];
      // The handlers' own services (one VolumeDataService, one cached head per partition), so
      // HTTP and NBD on one volume are one writer, not two that wait out each other's leases.
      let nbd: NbdServer | undefined;
      try {
        nbd = options.nbdPort === undefined ? undefined : await startDiskServer(processServices(), {
              host: listenHost,
              port: options.nbdPort,
              ...(options.nbdTls ? { tls: options.nbdTls } : {}),
            });
      } catch (error) {
        await Promise.all(pollers.map((poller) => poller.stop()));
        registerInProcessRunner(undefined);
        resetProcessServices();
        clients.destroy();
        throw error;
      }
      if (options.warmBeforeOpen) runner.warmNow();
      api.open();
      // After the API opens (hydration and requests go on together), never failing the start.
      const resumedCopyJobs: Promise<CopyJobResumption> =
        (options.resumeCopyJobs ?? !options.awsEndpoint)
          ? processServices().copyJobs.resumeInterrupted().catch((error: unknown) => ({ resumed: [], failed: [], searchError: String(error) }))
          : Promise.resolve({ resumed: [], failed: [] });
      return {
        apiUrl: api.url,
        ...(nbd ? { nbdUrl: `${options.nbdTls ? 'nbds' : 'nbd'}://${urlHost(listenHost)}:${nbd.port}`, nbdPort: nbd.port } : {}),
        config,
        runner,
        ...(emulators.threads ? { emulatorThreads: emulators.threads } : {}),
        resumedCopyJobs,
        async stop() {
          await nbd?.close();
          await api.close();
          await resumedCopyJobs;
          await runner.drain();
          registerInProcessRunner(undefined);
          await Promise.all(pollers.map((poller) => poller.stop()));
          resetProcessServices();
          clients.destroy();
          await emulators.stop();
        },
      };
    } catch (error) {
      await emulators.stop();
      throw error;
    }
  } catch (error) {
    await api.close();
    throw error;
  }
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function externalEndpoint(endpoint: string): Emulators {
  return { s3Endpoint: endpoint, sqsEndpoint: endpoint, dynamodbEndpoint: endpoint, stop: async () => {} };
}
