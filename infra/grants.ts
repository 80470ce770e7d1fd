import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { TABLES } from '../lib/resources.js';
import type { TableName } from './constructs/metadata-tables.js';
import type { WorkQueue } from './constructs/work-queue.js';
import type { QueueName } from './constructs/work-queues.js';

/** The DynamoDB actions the lib/aws adapters call (IAM names; the SDK commands carry the same names). */
export type TableAction = 'GetItem' | 'BatchGetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query' | 'Scan' | 'BatchWriteItem' | 'DescribeTable';

/**
 * The key spaces on the sleds, by what lib writes there: volume data (journals, copied and
 * flushed chunks), snapshot chunks, a copy job's intermediaries, and copy plans (sled 0 only).
 * test/infra/grants.test.ts checks these against the key functions in lib.
 */
export const KEY_PREFIXES = {
  volumes: 'volumes/',
  snapshots: 'snapshots/',
  intermediaries: 'copy-jobs/',
  plans: 'copy-plans/',
} as const;

export type KeySpace = keyof typeof KEY_PREFIXES;

/** What one handler may do. Anything not listed is denied. */
export interface HandlerAccess {
  readonly tables?: Partial<Readonly<Record<TableName, readonly TableAction[]>>>;
  /** Object reads (GetObject, HeadObject, a CopyObject source), writes (PutObject, a CopyObject target), deletes. */
  readonly objects?: Readonly<{ read?: readonly KeySpace[]; write?: readonly KeySpace[]; delete?: readonly KeySpace[] }>;
  /**
   * s3:ListBucket on every sled: listing a prefix, HeadBucket, and, for HeadObject, a 404
   * rather than a 403 when the object does not exist (the copy tasks rely on that).
   */
  readonly listSleds?: boolean;
  /** sqs:SendMessage (SendMessageBatch) to these queues. */
  readonly sendTo?: readonly QueueName[];
  /** sqs:GetQueueAttributes on every work queue (the health probe). */
  readonly describeQueues?: boolean;
  /**
   * Copy-job executions: `start` them; read a job's own execution `history` (how it ended); or
   * follow its whole `timeline` (its history, its Distributed Map's runs and child executions, theirs).
   */
  readonly copyJobs?: readonly ('start' | 'history' | 'timeline')[];
}

const ALL_TABLES = Object.fromEntries((Object.keys(TABLES) as TableName[]).map((name) => [name, ['DescribeTable']])) as Record<
  TableName,
  TableAction[]
>;

// removePartition deletes with Query + BatchWriteItem only (metadata, logs, checkpoint records, idempotency records).
const REMOVE_PARTITIONS: TableAction[] = ['GetItem', 'Query', 'BatchWriteItem'];

/**
 * A flush reads the volume (and its snapshot holds) and the snapshots that hold it, reads the
 * notes, writes chunk objects and both replicas' chunk maps, writes a checkpoint object and
 * record every K ops (and queues a sweep of orphans for later), then removes superseded
 * chunks, old checkpoints and trimmed notes. A missing checkpoint object must read as
 * NoSuchKey, not AccessDenied: hence ListBucket, which the sweep's listings need too.
 */
const FLUSH: HandlerAccess = {
  tables: {
    volumes: ['GetItem'],
    snapshots: ['GetItem'],
    // BatchGetItem: the payloads of notes kept in the table.
    partitions: ['GetItem', 'BatchGetItem', 'PutItem', 'DeleteItem', 'Query', 'BatchWriteItem'],
    // A hydrating copy target's borrowed base chunks are read as read-data reads them (HydrationReads).
    copyJobs: ['GetItem'],
  },
  objects: { read: ['volumes', 'snapshots', 'plans'], write: ['volumes'], delete: ['volumes'] },
  listSleds: true,
  sendTo: ['flush'],
};

/**
 * A rebuild fences the survivor with an epoch entry, replaces the metadata, drops the lost
 * replica's log (BatchWriteItem) and journal (list, DeleteObjects), restores the newest
 * checkpoint that verifies and whose chunk versions are all there (HeadObject), copies the
 * missing notes (CopyObject on the sleds, BatchGetItem and BatchWriteItem in the table) and the log entries.
 */
const REBUILD: HandlerAccess = {
  // UpdateItem: ending a head's lease on a log before its epoch entry.
  // BatchGetItem and BatchWriteItem: copying the notes kept in the table.
  // A copy target's borrowed refs resolve to its own copies: its job (GetItem), plan (sled 0) and snapshot's partition.
  tables: {
    volumes: ['GetItem'],
    partitions: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'Query', 'BatchWriteItem'],
    copyJobs: ['GetItem'],
    snapshots: ['GetItem'],
  },
  objects: { read: ['volumes', 'plans'], write: ['volumes'], delete: ['volumes'] },
  listSleds: true,
};

/**
 * Each handler's grants, read off the code path it runs (functions/<name>.ts, through
 * lib/wiring.ts, to the lib/aws adapter calls). Every handler gets the full environment,
 * because wiring reads it all, but only these permissions.
 */
export const HANDLER_ACCESS: Readonly<Record<string, HandlerAccess>> = {
  // checkHealth: HeadBucket on every sled, DescribeTable on every table, GetQueueAttributes on every queue.
  health: { tables: ALL_TABLES, listSleds: true, describeQueues: true },
  'create-volume': { tables: { volumes: ['PutItem'] } },
  'list-volumes': { tables: { volumes: ['Scan'] } },
  // A copy target's hydration: its job and the job's stored plan (sled 0).
  'get-volume': { tables: { volumes: ['GetItem'], copyJobs: ['GetItem'] }, objects: { read: ['plans'] } },
  // Mark deleting, remove the volume's objects on every sled and its head-node items, then the volume.
  'delete-volume': {
    tables: { volumes: ['GetItem', 'UpdateItem', 'DeleteItem'], partitions: REMOVE_PARTITIONS },
    objects: { delete: ['volumes'] },
    listSleds: true,
  },
  // Idempotency claim/complete/release, partition metadata, conditional note-log appends; note
  // payloads to two sleds, or small ones to the table (both replicas' items in one BatchWriteItem);
  // every SLEDS_FLUSH_EVERY_OPS ops, a flush request.
  'write-data': {
    tables: { volumes: ['GetItem'], partitions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'BatchWriteItem'] },
    objects: { write: ['volumes'] },
    sendTo: ['flush'],
  },
  // Metadata, chunk map and note log; note payloads (in the table: BatchGetItem) and chunks;
  // extending a head lease (UpdateItem). A hydrating copy target's borrowed chunks: the snapshot's
  // objects, or its own copies once its job (GetItem) and plan (sled 0) say they are copied and a
  // HeadObject finds the snapshot's SHA-256 (no ListBucket: a copy not there is a 403, which reads
  // the snapshot's object just the same).
  'read-data': {
    tables: { volumes: ['GetItem'], partitions: ['GetItem', 'BatchGetItem', 'Query', 'UpdateItem'], copyJobs: ['GetItem'] },
    objects: { read: ['volumes', 'snapshots', 'plans'] },
  },
  // Like write-data, but a zero note has no payload: nothing goes to the sleds.
  'zero-data': {
    tables: { volumes: ['GetItem'], partitions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'] },
    sendTo: ['flush'],
  },
  // Metadata, chunk map and note log only (the map names chunks, nobody reads them); extending a head lease.
  'get-allocation': { tables: { volumes: ['GetItem'], partitions: ['GetItem', 'Query', 'UpdateItem'] } },
  // Both replicas' logs, and the pending notes listed from their journals.
  'get-partition': { tables: { volumes: ['GetItem'], partitions: ['GetItem', 'Query'] }, listSleds: true },
  // Hold the volume against flushes, fix each partition's op, store the header, queue one message per partition.
  'create-snapshot': {
    tables: { volumes: ['GetItem', 'UpdateItem'], partitions: ['GetItem', 'Query'], snapshots: ['PutItem'] },
    sendTo: ['snapshot'],
  },
  'get-snapshot': { tables: { snapshots: ['GetItem'] } },
  // Snapshot headers, a filtered Scan a page at a time.
  'list-snapshots': { tables: { snapshots: ['Scan'] } },
  // Mark the snapshot deleting, scan the volumes for targets still hydrating from it (else back
  // to completed: 409), then remove its objects on every sled (list, DeleteObjects) and its items.
  'delete-snapshot': {
    tables: { snapshots: ['GetItem', 'UpdateItem', 'Query', 'DeleteItem'], volumes: ['Scan'] },
    objects: { delete: ['snapshots'] },
    listSleds: true,
  },
  // Claim the client token, create the job and the target volumes, give them chunk maps that
  // borrow the snapshot's chunks, mark them hydrating, start the execution: a new job's targets
  // in BatchWriteItems, a retried request's with conditional PutItems and UpdateItems. A repeated
  // request for a job a retry runs again reads that execution's own history to join it while it
  // runs (copy-job-service.ts `create`).
  'create-copy-job': {
    tables: {
      snapshots: ['GetItem'],
      copyJobs: ['GetItem', 'PutItem', 'UpdateItem'],
      volumes: ['PutItem', 'BatchWriteItem', 'GetItem', 'UpdateItem'],
      partitions: ['BatchWriteItem', 'PutItem'],
    },
    copyJobs: ['start', 'history'],
  },
  // The stored plan (sled 0) gives the targets' hydration, and with ?include=tree the fan-out tree.
  'get-copy-job': { tables: { copyJobs: ['GetItem'] }, objects: { read: ['plans'] } },
  // Job headers, a filtered Scan a page at a time.
  'list-copy-jobs': { tables: { copyJobs: ['Scan'] } },
  // A failed job (or one whose execution has ended: the last execution's own history) goes back to running in a new execution.
  'retry-copy-job': { tables: { copyJobs: ['GetItem', 'UpdateItem'] }, copyJobs: ['start', 'history'] },
  'list-copy-job-events': { tables: { copyJobs: ['GetItem'] }, copyJobs: ['timeline'] },
  // Read the partition as of the snapshot's op (notes and chunks), write its chunks to one sled,
  // count it; the last one releases the volume's hold. A hydrating copy target's borrowed chunks
  // are read as read-data reads them: its own verified copy (job, plan) or the snapshot's object.
  'materialize-snapshot': {
    tables: {
      snapshots: ['GetItem', 'PutItem', 'UpdateItem', 'Query'],
      partitions: ['GetItem', 'BatchGetItem', 'Query'],
      volumes: ['GetItem', 'UpdateItem'],
      copyJobs: ['GetItem'],
    },
    objects: { read: ['volumes', 'snapshots', 'plans'], write: ['snapshots'] },
  },
  // The plan goes to sled 0, the progress counters to the job.
  // Targets whose request died before they borrowed the snapshot's chunks borrow them here (conditional PutItems).
  'plan-copy-job': {
    tables: { copyJobs: ['GetItem', 'UpdateItem'], snapshots: ['GetItem'], volumes: ['GetItem', 'BatchGetItem', 'UpdateItem'], partitions: ['PutItem'] },
    objects: { write: ['plans'] },
  },
  // Copies from the snapshot or an intermediary to an intermediary or a target; a target chunk's
  // SHA-256 comes with the copy's answer on S3, else from a HeadObject of it (an unpatched fauxqs); the
  // batch records them under the job's prefix. A straggler of a failed job removes what it wrote.
  'copy-partition-batch': {
    // The targets' states (BatchGetItem): a retry copies only for those still hydrating.
    tables: { copyJobs: ['GetItem', 'UpdateItem'], snapshots: ['GetItem'], volumes: ['GetItem', 'BatchGetItem'] },
    objects: {
      read: ['plans', 'snapshots', 'intermediaries', 'volumes'],
      write: ['intermediaries', 'volumes'],
      delete: ['intermediaries', 'volumes'],
    },
    listSleds: true,
  },
  // The batches' records of verified target checksums (a missing one must read as NoSuchKey, not
  // AccessDenied: hence ListBucket), then the targets' states and head-node items (metadata and
  // chunk maps, BatchGetItem; GetItem again after a conflict); each hydrating target's maps take
  // its own copies (conditional PutItem on the map's version), its unused copies go, and it
  // becomes available.
  'finalize-copy-job': {
    tables: { copyJobs: ['GetItem', 'UpdateItem'], snapshots: ['GetItem'], partitions: ['GetItem', 'BatchGetItem', 'PutItem'], volumes: ['GetItem', 'BatchGetItem', 'UpdateItem'] },
    objects: { read: ['plans', 'intermediaries'], delete: ['volumes'] },
    listSleds: true,
  },
  // Deletes the intermediaries by the keys the plan gave them: no listing.
  'clean-up-copy-job': {
    tables: { copyJobs: ['GetItem', 'UpdateItem'] },
    objects: { read: ['plans'], delete: ['intermediaries'] },
  },
  // Fail the job, remove its intermediaries and its targets' data and head-node items, fail the targets.
  // A hydrating target keeps its items: only the job's copies no map names go (the plan, the maps).
  'fail-copy-job': {
    tables: { copyJobs: ['GetItem', 'UpdateItem'], volumes: ['GetItem', 'UpdateItem'], partitions: REMOVE_PARTITIONS },
    objects: { read: ['plans'], delete: ['intermediaries', 'volumes'] },
    listSleds: true,
  },
  // Flush, sweep and, on demand, checkpoint: FlushService.flush / .sweep / .checkpoint (lib/flush).
  'flush-partition': FLUSH,
  'create-checkpoint': FLUSH,
  'create-sweep': FLUSH,
  // Lose a replica and rebuild it, or finish a rebuild: RebuildService (lib/checkpoints).
  'fail-replica': REBUILD,
  'rebuild-partition': REBUILD,
};

/** The resources grants refer to. */
export interface GrantTargets {
  readonly tables: Readonly<Record<TableName, dynamodb.ITable>>;
  readonly sledBuckets: readonly s3.IBucket[];
  readonly queues: Readonly<Record<QueueName, WorkQueue>>;
  readonly copyJobMachine?: sfn.IStateMachine;
}

function objectArns(targets: GrantTargets, space: KeySpace): string[] {
  const pattern = `${KEY_PREFIXES[space]}*`;
  // Plans are kept on the first sled only (lib/aws/s3-plan-store.ts).
  const buckets = space === 'plans' ? targets.sledBuckets.slice(0, 1) : targets.sledBuckets;
  return buckets.map((bucket) => bucket.arnForObjects(pattern));
}

/** The policy statements of `access` (exported for tests; grantAccess applies them). */
export function accessStatements(access: HandlerAccess, targets: GrantTargets): iam.PolicyStatement[] {
  const statements: iam.PolicyStatement[] = [];
  for (const [name, actions] of Object.entries(access.tables ?? {}) as Array<[TableName, readonly TableAction[]]>) {
    if (actions.length === 0) continue;
    const table = targets.tables[name];
    // A Query may use the table's indexes (partitions.byVolume); every other call names the table.
    const indexes = actions.includes('Query') ? (TABLES[name] as { indexes?: ReadonlyArray<{ name: string }> }).indexes ?? [] : [];
    statements.push(
      new iam.PolicyStatement({
        actions: actions.map((action) => `dynamodb:${action}`),
        resources: [table.tableArn, ...indexes.map((index) => `${table.tableArn}/index/${index.name}`)],
      }),
    );
  }
  const objects: Array<[string, readonly KeySpace[] | undefined]> = [
    ['s3:GetObject', access.objects?.read],
    ['s3:PutObject', access.objects?.write],
    ['s3:DeleteObject', access.objects?.delete],
  ];
  for (const [action, spaces] of objects) {
    if (!spaces || spaces.length === 0) continue;
    statements.push(new iam.PolicyStatement({ actions: [action], resources: spaces.flatMap((space) => objectArns(targets, space)) }));
  }
  if (access.listSleds) {
    statements.push(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: targets.sledBuckets.map((bucket) => bucket.bucketArn) }));
  }
  if (access.sendTo && access.sendTo.length > 0) {
    statements.push(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: access.sendTo.map((name) => targets.queues[name].queue.queueArn) }),
    );
  }
  if (access.describeQueues) {
    statements.push(
      new iam.PolicyStatement({
        actions: ['sqs:GetQueueAttributes'],
        resources: Object.values(targets.queues).map(({ queue }) => queue.queueArn),
      }),
    );
  }
  return statements;
}

/** Gives `role` exactly what `access` lists; the copy-job grants need the state machine. */
export function grantAccess(role: iam.IRole, access: HandlerAccess, targets: GrantTargets): void {
  for (const statement of accessStatements(access, targets)) role.addToPrincipalPolicy(statement);
  for (const need of access.copyJobs ?? []) {
    const machine = targets.copyJobMachine;
    if (!machine) throw new Error(`a handler that needs copy-job ${need} access was wired before the state machine`);
    if (need === 'start') machine.grantStartExecution(role);
    else if (need === 'history') role.addToPrincipalPolicy(executionHistoryStatement(machine));
    else for (const statement of timelineStatements(machine)) role.addToPrincipalPolicy(statement);
  }
}

/** ARNs of the copy-job machine's executions, map runs and child executions. */
function machineArn(machine: sfn.IStateMachine, resource: 'execution' | 'mapRun', suffix: string): string {
  const name = Arn.split(machine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  return Stack.of(machine).formatArn({ service: 'states', resource, resourceName: `${name}${suffix}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}

/** Reading how a job's own execution went (retry-copy-job): its history, on the copy-job machine's executions only. */
export function executionHistoryStatement(machine: sfn.IStateMachine): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: ['states:GetExecutionHistory'], resources: [machineArn(machine, 'execution', ':*')] });
}

/**
 * Reading a job's events: its execution's history and Map Runs, each Map Run's child
 * executions (a Distributed Map runs every batch as one), and their histories. Child
 * executions are named `execution:<machine>/<map run label>:<id>`, map runs
 * `mapRun:<machine>/<map run label>:<id>`: both only of the copy-job machine.
 */
export function timelineStatements(machine: sfn.IStateMachine): iam.PolicyStatement[] {
  const arn = (resource: 'execution' | 'mapRun', suffix: string) => machineArn(machine, resource, suffix);
  return [
    new iam.PolicyStatement({ actions: ['states:GetExecutionHistory', 'states:ListMapRuns'], resources: [arn('execution', ':*')] }),
    new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [arn('mapRun', '/*')] }),
    new iam.PolicyStatement({ actions: ['states:GetExecutionHistory'], resources: [arn('execution', '/*:*')] }),
  ];
}
