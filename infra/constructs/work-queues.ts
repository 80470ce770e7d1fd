import { Construct } from 'constructs';
import { QUEUES } from '../../lib/resources.js';
import { WorkQueue } from './work-queue.js';

/** The name of a work queue, as lib/resources.ts keys it. */
export type QueueName = keyof typeof QUEUES;

/** The SQS work queues of lib/resources.ts QUEUES (flush, copy), each with its own DLQ. */
export class WorkQueues extends Construct {
  /** One queue and DLQ pair per entry of QUEUES, under the same key. */
  readonly queues: Readonly<Record<QueueName, WorkQueue>>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Built from QUEUES rather than listed, so a queue added there cannot be forgotten here.
    const names = Object.keys(QUEUES) as QueueName[];
    this.queues = Object.freeze(
      Object.fromEntries(
        names.map((name) => [name, new WorkQueue(this, QUEUES[name].id, { definition: QUEUES[name] })]),
      ) as Record<QueueName, WorkQueue>,
    );
  }
}
