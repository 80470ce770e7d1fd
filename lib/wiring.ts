import { createAwsClients, type AwsClients } from './aws/clients.js';
import { DynamoDbVolumeRepository } from './aws/dynamodb-volume-repository.js';
import {
  DynamoDbChunkMapStore,
  DynamoDbIdempotencyStore,
  DynamoDbNoteLogStore,
  DynamoDbPartitionMetaStore,
} from './aws/dynamodb-partition-store.js';
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
import { inProcessRunner } from './copy-jobs/workflow-registry.js';
import { S3DynamoDbCheckpointStore } from './aws/checkpoint-store.js';
import { FlushService } from './flush/flush-service.js';
import { RebuildService } from './checkpoints/rebuild-service.js';
import { createHealthProbes } from './aws/health-probes.js';
import { S3JournalStore } from './aws/s3-journal-store.js';
import { DynamoDbJournalStore } from './aws/dynamodb-journal-store.js';
import { TieredJournalStore } from './notes/tiered-journal.js';
import { S3VolumeDataStore } from './aws/s3-volume-data-store.js';
import { loadServiceConfig, serviceEnvironment, type ServiceConfig } from './config.js';
import { VOLUME_CACHE_MS, VolumeDataService, type VolumeDataOptions } from './notes/volume-data-service.js';
import { HeadCache } from './notes/head-cache.js';
import { MIB } from './units/sizes.js';
import type { HealthProbe } from './volumes/ports.js';
import type { JournalStore } from './notes/ports.js';
import { VolumeService } from './volumes/volume-service.js';

/** Everything a handler may call, wired to the AWS adapters. */
export interface Services {
  readonly config: ServiceConfig;
  readonly clients: AwsClients;
  readonly volumes: VolumeService;
  readonly data: VolumeDataService;
  readonly snapshots: SnapshotService;
  readonly copyJobs: CopyJobService;
  readonly flush: FlushService;
  readonly rebuild: RebuildService;
  readonly healthProbes: readonly HealthProbe[];
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
  const bandwidth = config.sledBandwidth === undefined ? undefined : new SledBandwidth(config.sledBandwidth);
  const chunks = new S3ChunkStore(clients.s3, config.sledBuckets, bandwidth);
  const partitionDeps = {
    metas: new DynamoDbPartitionMetaStore(clients.documents, table),
    logs: new DynamoDbNoteLogStore(clients.documents, table),
    journal: journalStore(clients, config),
    chunkMaps: new DynamoDbChunkMapStore(clients.documents, table),
    chunks,
    sledCount: config.sledBuckets.length,
    headLeaseMs: config.headLeaseMs,
    ...(config.headCacheMib > 0 ? { cache: new HeadCache(config.headCacheMib * MIB) } : {}),
  };
  const flushQueue = new SqsWorkQueue(clients.sqs, config.queues.flush);
  const checkpoints = new S3DynamoDbCheckpointStore(clients.s3, clients.documents, table, config.sledBuckets);
  const data = new VolumeDataService(
    repository,
    { ...partitionDeps, idempotency: new DynamoDbIdempotencyStore(clients.documents, table), checkpoints },
    { flushEveryOps: config.flushEveryOps, tableNoteBytes: config.tableNoteBytes, requestFlush: (message) => flushQueue.sendAll([message]), ...options },
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
    data,
    snapshots: snapshotRepository,
    checkpoints,
    queue: flushQueue,
    checkpointEveryOps: config.checkpointEveryOps,
  });
  const sfnRunner = config.copyStateMachineArn ? new SfnWorkflowRunner(clients.sfn, config.copyStateMachineArn) : undefined;
  const copyJobs = new CopyJobService({
    jobs: new DynamoDbCopyJobRepository(clients.documents, config.tables.copyJobs),
    plans: new S3PlanStore(clients.s3, config.sledBuckets[0] as string),
    verified: new S3VerifiedChunkRecords(clients.s3, config.sledBuckets[0] as string),
    snapshots: snapshotRepository,
    volumes: repository,
    volumeData: [objects, data],
    newPartitions: partitionDeps.metas,
    chunks,
    runner: () => sfnRunner ?? inProcessRunner(),
    sledCount: config.sledBuckets.length,
  });
  return {
    config,
    clients,
    copyJobs,
    flush,
    rebuild: new RebuildService({ ...partitionDeps, volumes: repository, checkpoints }),
    volumes: new VolumeService(repository, [objects, data], undefined, VOLUME_CACHE_MS),
    data,
    snapshots,
    healthProbes: createHealthProbes(clients, config),
  };
}

let current: { fingerprint: string; services: Services } | undefined;

/**
 * The process-wide services, built from the environment on first use (a Lambda cold start).
 * If the environment changes (the embedded cloud restarted on new ports) they are rebuilt.
 */
export function processServices(): Services {
  const config = loadServiceConfig();
  const fingerprint = JSON.stringify(serviceEnvironment(config));
  if (current?.fingerprint !== fingerprint) {
    current?.services.clients.destroy();
    current = { fingerprint, services: createServices(config) };
  }
  return current.services;
}
