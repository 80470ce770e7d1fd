import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type QueueDefinition } from '../../lib/resources.js';

/** Properties of {@link WorkQueue}. */
export interface WorkQueueProps {
  /** The queue's entry in lib/resources.ts QUEUES. */
  readonly definition: QueueDefinition;
}

/** One work queue with its own dead-letter queue, both retained and TLS-only. */
export class WorkQueue extends Construct {
  /** The queue that workers consume. */
  readonly queue: sqs.Queue;
  /** Where a message lands after `maxReceiveCount` failed deliveries. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    const { definition } = props;
    // A standard queue keeps a message's original enqueue time when it is dead-lettered, so a
    // shorter DLQ retention would silently drop the very messages it exists to keep.
    if (definition.deadLetterRetentionDays < definition.retentionDays) {
      throw new Error(
        `${definition.id}: deadLetterRetentionDays (${definition.deadLetterRetentionDays}) ` +
          `must be at least retentionDays (${definition.retentionDays})`,
      );
    }
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.days(definition.deadLetterRetentionDays),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Dead letters are work that still has to be replayed or explained.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(definition.retentionDays),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: definition.maxReceiveCount },
    });
  }
}
