import { CfnOutput, MissingRemovalPolicies, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { type Construct } from 'constructs';
import { serviceEnvironment, STATEFUL_STACK_OUTPUTS, DEFAULT_CHECKPOINT_EVERY_OPS, DEFAULT_FLUSH_EVERY_OPS, DEFAULT_TABLE_NOTE_BYTES } from '../lib/config.js';
import { DEFAULT_SLED_COUNT } from '../lib/resources.js';
import { MetadataTables, type TableName } from './constructs/metadata-tables.js';
import { SledBuckets } from './constructs/sled-buckets.js';
import { type WorkQueue } from './constructs/work-queue.js';
import { WorkQueues, type QueueName } from './constructs/work-queues.js';

/** CDK context key that sets the number of sleds (`cdk synth -c sledCount=16`). */
export const SLED_COUNT_CONTEXT = 'sledCount';

/** Properties of {@link SledsStatefulStack}. */
export interface SledsStatefulStackProps extends StackProps {
  /** Number of sled buckets; wins over the `sledCount` context value. */
  readonly sledCount?: number;
}

/** Reads the sled count from props, else context `sledCount`, else DEFAULT_SLED_COUNT. */
export function resolveSledCount(scope: Construct, override?: number): number {
  const raw: unknown = override ?? scope.node.tryGetContext(SLED_COUNT_CONTEXT) ?? DEFAULT_SLED_COUNT;
  // `-c sledCount=3` on the command line arrives as a string; cdk.json and tests give a number.
  const count = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
    throw new Error(`${SLED_COUNT_CONTEXT} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return count;
}

/**
 * Everything Sleds must keep: sled buckets, metadata tables and work queues. It lives apart
 * from the stateless stack so that compute can be replaced or destroyed without touching
 * data; every resource here is retained when the stack is deleted.
 */
export class SledsStatefulStack extends Stack {
  /** The metadata tables, keyed as in lib/resources.ts TABLES. */
  readonly tables: Readonly<Record<TableName, dynamodb.Table>>;
  /** The sled buckets, index i holding sled i. */
  readonly sledBuckets: readonly s3.Bucket[];
  /** Each work queue with its dead-letter queue, keyed as in lib/resources.ts QUEUES. */
  readonly queues: Readonly<Record<QueueName, WorkQueue>>;

  constructor(scope: Construct, id: string, props: SledsStatefulStackProps = {}) {
    super(scope, id, props);
    this.sledBuckets = new SledBuckets(this, 'Sleds', { count: resolveSledCount(this, props.sledCount) }).buckets;
    this.tables = new MetadataTables(this, 'Tables').tables;
    this.queues = new WorkQueues(this, 'Queues').queues;
    // The constructs retain their data explicitly. This also retains what they create
    // implicitly, such as the TLS-only bucket and queue policies: a retained bucket or queue that
    // lost its policy with the stack would start accepting plain-HTTP requests.
    MissingRemovalPolicies.of(this).retain();
    // What a head-node process outside the stack (`sleds nbd serve --stack`) reads to find the
    // state: each output holds one variable of functionEnvironment().
    const environment = this.functionEnvironment();
    for (const [output, name] of Object.entries(STATEFUL_STACK_OUTPUTS)) {
      new CfnOutput(this, output, { value: environment[name] as string, description: `${name}, for processes outside the stack (sleds nbd serve)` });
    }
  }

  /**
   * The environment a Sleds function needs to reach this state, under the lib/config.ts ENV
   * names. Rendered by the same serviceEnvironment() the embedded cloud uses, so the names and
   * formats (e.g. comma-separated bucket names) cannot differ between local and AWS. Values are
   * tokens: used from another stack, they become cross-stack references.
   */
  functionEnvironment(): Record<string, string> {
    return serviceEnvironment({
      region: this.region,
      endpoints: {},
      flushEveryOps: DEFAULT_FLUSH_EVERY_OPS,
      checkpointEveryOps: DEFAULT_CHECKPOINT_EVERY_OPS,
      // Off on AWS: API Gateway spreads a volume's requests over Lambda instances, so a lease
      // held by one would mostly make writes on the others wait. Reads pay one query instead.
      headLeaseMs: 0,
      // Off on AWS: the flush runs in its own Lambda, which never sees the writers' memory.
      headCacheMib: 0,
      tableNoteBytes: DEFAULT_TABLE_NOTE_BYTES,
      tables: {
        volumes: this.tables.volumes.tableName,
        partitions: this.tables.partitions.tableName,
        snapshots: this.tables.snapshots.tableName,
        copyJobs: this.tables.copyJobs.tableName,
      },
      sledBuckets: this.sledBuckets.map((bucket) => bucket.bucketName),
      queues: {
        flush: this.queues.flush.queue.queueUrl,
        snapshot: this.queues.snapshot.queue.queueUrl,
        copy: this.queues.copy.queue.queueUrl,
      },
    });
  }
}
