import { createAwsClients, type AwsClients } from './aws/clients.js';
import { DynamoDbVolumeRepository } from './aws/dynamodb-volume-repository.js';
import { DynamoDbChunkMapStore } from './aws/dynamodb-chunk-map-store.js';
import { DynamoDbIdempotencyStore } from './aws/dynamodb-idempotency-store.js';
import { DynamoDbNoteLogStore } from './aws/dynamodb-note-log-store.js';
import { DynamoDbPartitionMetaStore } from './aws/dynamodb-partition-meta-store.js';
import { S3ChunkStore } from './aws/s3-chunk-store.js';
import { S3VerifiedChunkRecords } from './aws/s3-verified-chunk-records.js';
import { DynamoDbSnapshotRepository } from './aws/dynamodb-snapshot-repository.js';
import { SqsWorkQueue } from './aws/sqs-work-queue.js';
import { SledBandwidth } from './sleds/bandwidth.js';
import { SnapshotService } from './snapshots/snapshot-service.js';
import { DynamoDbCopyJobRepository } from './aws/dynamodb-copy-job-repository.js';
import { S3PlanStore } from './aws/s3-plan-store.js';
import { SfnWorkflowRunner } from './aws/sfn-workflow-runner.js';
import { CopyJobService } from './copy-jobs/copy-job-service.js';
import { CopyJobListing } from './listings/copy-job-listing.js';
import { CopyTargetRefs } from './copy-jobs/borrowed-refs.js';
import { HydrationReads } from './copy-jobs/hydration-reads.js';
import { SnapshotDeletion } from './snapshots/dependents.js';
import { inProcessRunner } from './copy-jobs/workflow-registry.js';
import { S3DynamoDbCheckpointStore } from './aws/checkpoint-store.js';
import { FlushService } from './flush/flush-service.js';
import type { FlushMessage } from './flush/messages.js';
import { RebuildService } from './checkpoints/rebuild-service.js';
import { createHealthProbes } from './aws/health-probes.js';
import { S3JournalStore } from './aws/s3-journal-store.js';
import { DynamoDbJournalStore } from './aws/dynamodb-journal-store.js';
import { TieredJournalStore } from './notes/tiered-journal.js';
import { S3VolumeDataStore } from './aws/s3-volume-data-store.js';
import { DEFAULT_GROUP_COMMIT_MAX_BYTES, DEFAULT_GROUP_COMMIT_MAX_WRITES, loadServiceConfig, type ServiceConfig } from './config.js';
import { VOLUME_CACHE_MS, VolumeDataService, type VolumeDataOptions } from './notes/volume-data-service.js';
import { HeadCache } from './notes/head-cache.js';
import { MIB } from './units/sizes.js';
import { checkHealth, type HealthReport } from './volumes/health.js';
import type { HealthProbe } from './volumes/ports.js';
import type { JournalStore } from './notes/ports.js';
import { VolumeService } from './volumes/volume-service.js';
import { resetProcessLogger } from './observability/logger.js';
import { processTelemetry, resetProcessTelemetry } from './observability/process-telemetry.js';
import type { Telemetry } from './observability/telemetry.js';

/** Everything a handler may call, wired to the AWS adapters. */
export interface Services {
  readonly config: ServiceConfig;
  readonly clients: AwsClients;
  readonly volumes: VolumeService;
  readonly data: VolumeDataService;
  readonly snapshots: SnapshotService;
  readonly copyJobs: CopyJobService;
  /** GET /copy-jobs: the jobs a page at a time. */
  readonly copyJobListing: CopyJobListing;
  readonly snapshotDeletion: SnapshotDeletion;
  readonly flush: FlushService;
  readonly rebuild: RebuildService;
  readonly healthProbes: readonly HealthProbe[];
  /** Where handlers report what happens at their boundary (flush lag, rebuild time): logs and metrics. */
  readonly telemetry: Telemetry;
  /** Asks every backing service whether it answers. */
  health(): Promise<HealthReport>;
  /** Bytes the head cache holds now (0 without one): memory that is bounded, not leaked. */
  headCacheBytes(): number;
}

/** The replicas' journals: small notes in the partitions table, the others on their sleds. */
export function journalStore(clients: AwsClients, config: ServiceConfig): JournalStore {
  return new TieredJournalStore(new DynamoDbJournalStore(clients.documents, config.tables.partitions), new S3JournalStore(clients.s3, config.sledBuckets));
}

/** Wires the domain services to the adapters for one config. */
export function createServices(config: ServiceConfig, options: VolumeDataOptions = {}): Services {
  const clients = createAwsClients(config);
  const repository = new DynamoDbVolumeRepository(clients.documents, config.tables.volumes);
  const objects = new S3VolumeDataStore(clients.s3, config.sledBuckets);
  const table = config.tables.partitions;
  const bandwidth = config.sledBandwidth === undefined ? undefined : new SledBandwidth(config.sledBandwidth, config.sledLinkSharing);
  const chunks = new S3ChunkStore(clients.s3, config.sledBuckets, bandwidth);
  const headCache = config.headCacheMib > 0 ? new HeadCache(config.headCacheMib * MIB) : undefined;
  const jobs = new DynamoDbCopyJobRepository(clients.documents, config.tables.copyJobs);
  const plans = new S3PlanStore(clients.s3, config.sledBuckets[0] as string);
  const partitionDeps = {
    metas: new DynamoDbPartitionMetaStore(clients.documents, table),
    logs: new DynamoDbNoteLogStore(clients.documents, table),
    journal: journalStore(clients, config),
    chunkMaps: new DynamoDbChunkMapStore(clients.documents, table),
    chunks,
    // A hydrating copy target reads each borrowed chunk from its own copy once it is in place.
    borrowedChunks: new HydrationReads({ volumes: repository, jobs, plans, chunks, telemetry: processTelemetry }),
    sledCount: config.sledBuckets.length,
    headLeaseMs: config.headLeaseMs,
    groupCommit: {
      maxWrites: config.groupCommitMaxWrites ?? DEFAULT_GROUP_COMMIT_MAX_WRITES,
      maxBytes: config.groupCommitMaxBytes ?? DEFAULT_GROUP_COMMIT_MAX_BYTES,
      tableNoteBytes: config.tableNoteBytes,
    },
    ...(headCache ? { cache: headCache } : {}),
  };
  const flushQueue = new SqsWorkQueue(clients.sqs, config.queues.flush);
  const checkpoints = new S3DynamoDbCheckpointStore(clients.s3, clients.documents, table, config.sledBuckets);
  const data = new VolumeDataService(
    repository,
    { ...partitionDeps, idempotency: new DynamoDbIdempotencyStore(clients.documents, table), checkpoints },
    {
      flushEveryOps: config.flushEveryOps,
      tableNoteBytes: config.tableNoteBytes,
      requestFlush: (message) => flushQueue.sendAll([message satisfies FlushMessage]),
      telemetry: processTelemetry,
      ...options,
    },
  );
  const snapshotRepository = new DynamoDbSnapshotRepository(clients.documents, config.tables.snapshots);
  const snapshots = new SnapshotService({
    ...partitionDeps,
    volumes: repository,
    data,
    snapshots: snapshotRepository,
    queue: new SqsWorkQueue(clients.sqs, config.queues.snapshot),
  });
  const flush = new FlushService({
    ...partitionDeps,
    volumes: repository,
    // The flush reaches heads only through HeadDirectory, and trusts a volume read as long as a delete waits.
    heads: data,
    volumeCacheMs: VOLUME_CACHE_MS,
    snapshots: snapshotRepository,
    checkpoints,
    queue: flushQueue,
    checkpointEveryOps: config.checkpointEveryOps,
  });
  const healthProbes = createHealthProbes(clients, config);
  const sfnRunner = config.copyStateMachineArn ? new SfnWorkflowRunner(clients.sfn, config.copyStateMachineArn) : undefined;
  const copyJobs = new CopyJobService({
    jobs,
    plans,
    verified: new S3VerifiedChunkRecords(clients.s3, config.sledBuckets[0] as string),
    snapshots: snapshotRepository,
    volumes: repository,
    volumeData: [objects, data],
    newPartitions: partitionDeps.metas,
    metas: partitionDeps.metas,
    chunkMaps: partitionDeps.chunkMaps,
    chunks,
    runner: () => sfnRunner ?? inProcessRunner(),
    sledCount: config.sledBuckets.length,
    telemetry: processTelemetry,
  });
  return {
    config,
    clients,
    copyJobs,
    copyJobListing: new CopyJobListing(jobs),
    snapshotDeletion: new SnapshotDeletion({ snapshots: snapshotRepository, volumes: repository, chunks }),
    flush,
    rebuild: new RebuildService({
      ...partitionDeps,
      volumes: repository,
      checkpoints,
      borrowed: new CopyTargetRefs({ volumes: repository, jobs, plans, snapshots: snapshotRepository, chunks }),
    }),
    volumes: new VolumeService(repository, [objects, data], { cacheLifetimeMs: VOLUME_CACHE_MS, telemetry: processTelemetry }),
    data,
    snapshots,
    healthProbes,
    telemetry: processTelemetry,
    health: () => checkHealth(healthProbes),
    headCacheBytes: () => headCache?.size ?? 0,
  };
}

let current: Services | undefined;

/**
 * The process-wide services, built from the environment once, on first use (a Lambda cold
 * start); every later call returns the same ones without reading the environment again.
 */
export function processServices(): Services {
  current ??= createServices(loadServiceConfig());
  return current;
}

/**
 * Drops the process-wide services (destroying their clients), so the next processServices()
 * reads the environment again. Only the embedded cloud calls it: it rewrites the handlers'
 * environment when it starts on new ports in the same process, which a Lambda never sees.
 */
export function resetProcessServices(): void {
  current?.clients.destroy();
  current = undefined;
  resetProcessLogger();
  resetProcessTelemetry();
}
