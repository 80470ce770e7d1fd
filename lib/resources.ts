/**
 * The stateful resources, described once. The CDK stateful stack builds them from these
 * definitions, and the embedded cloud (and the LocalStack suite) creates them from the very
 * same ones, so a key name or a redrive count cannot drift between the two.
 */

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N';
}

export interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
}

export interface TableDefinition {
  /** CDK logical id, and the readable part of the local table name. */
  readonly id: string;
  readonly localName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Global secondary indexes, projecting keys only. */
  readonly indexes?: readonly IndexDefinition[];
  readonly purpose: string;
}

export interface QueueDefinition {
  readonly id: string;
  readonly localName: string;
  readonly visibilityTimeoutSeconds: number;
  /** Deliveries before a message moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  readonly retentionDays: number;
  readonly deadLetterRetentionDays: number;
  readonly purpose: string;
}

export const TABLES = {
  volumes: {
    id: 'VolumesTable',
    localName: 'sleds-volumes',
    partitionKey: { name: 'volumeId', type: 'S' },
    purpose: 'one item per volume: geometry, state and timestamps',
  },
  partitions: {
    id: 'PartitionsTable',
    localName: 'sleds-partitions',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    // Sparse: partition metadata, chunk maps, checkpoint records and idempotency records carry
    // volumeId (log entries, notes and lease or retired marks do not), so a volume's delete can
    // find every partition that was ever written, and its idempotency records, without scanning.
    indexes: [{ name: 'byVolume', partitionKey: { name: 'volumeId', type: 'S' }, sortKey: { name: 'sk', type: 'S' } }],
    purpose: 'head-node replicas of each partition: placement, epoch and note logs; idempotency records',
  },
  snapshots: {
    id: 'SnapshotsTable',
    localName: 'sleds-snapshots',
    partitionKey: { name: 'snapshotId', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    purpose: 'one header item per snapshot and one chunk map item per partition',
  },
  copyJobs: {
    id: 'CopyJobsTable',
    localName: 'sleds-copy-jobs',
    partitionKey: { name: 'jobId', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    purpose: 'copy jobs: header with progress counters, and clientToken claims',
  },
} as const satisfies Record<string, TableDefinition>;

export const QUEUES = {
  flush: {
    id: 'FlushQueue',
    localName: 'sleds-flush',
    visibilityTimeoutSeconds: 120,
    maxReceiveCount: 5,
    retentionDays: 4,
    deadLetterRetentionDays: 14,
    purpose: 'one message per partition and op range to flush to the sleds',
  },
  snapshot: {
    id: 'SnapshotQueue',
    localName: 'sleds-snapshot',
    visibilityTimeoutSeconds: 300,
    maxReceiveCount: 5,
    retentionDays: 4,
    deadLetterRetentionDays: 14,
    purpose: 'one message per snapshot partition to materialize onto the sleds',
  },
  copy: {
    id: 'CopyQueue',
    localName: 'sleds-copy',
    visibilityTimeoutSeconds: 300,
    maxReceiveCount: 5,
    retentionDays: 4,
    deadLetterRetentionDays: 14,
    purpose: 'partition copies to retry outside the state machine',
  },
} as const satisfies Record<string, QueueDefinition>;

/** Name of a queue's dead-letter queue in the embedded cloud. */
export function deadLetterQueueName(queue: QueueDefinition): string {
  return `${queue.localName}-dlq`;
}

/** How many sled buckets a deployment has unless told otherwise. */
export const DEFAULT_SLED_COUNT = 8;

/** Local bucket name of sled `index`. On AWS, CloudFormation names the buckets. */
export function localSledBucketName(index: number): string {
  return `sleds-sled-${String(index).padStart(2, '0')}`;
}

/** Days after which an unfinished multipart upload on a sled is aborted. */
export const ABORT_INCOMPLETE_UPLOAD_DAYS = 1;
