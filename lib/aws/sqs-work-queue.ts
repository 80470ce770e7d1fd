import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { WorkQueue } from '../queues/ports.js';
import { translateAwsError } from './aws-errors.js';

/** An SQS queue, sent to in batches of ten. */
export class SqsWorkQueue implements WorkQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async sendAll(bodies: readonly unknown[], options: { readonly delaySeconds?: number } = {}): Promise<void> {
    const delay = options.delaySeconds === undefined ? {} : { DelaySeconds: options.delaySeconds };
    for (let i = 0; i < bodies.length; i += 10) {
      let entries = bodies.slice(i, i + 10).map((body, j) => ({ Id: String(i + j), MessageBody: JSON.stringify(body), ...delay }));
      for (let attempt = 0; entries.length > 0; attempt++) {
        if (attempt >= 5) throw new Error(`SQS refused ${entries.length} messages five times`);
        try {
          const result = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
          const failed = new Set((result.Failed ?? []).map((failure) => failure.Id));
          entries = entries.filter((entry) => failed.has(entry.Id));
        } catch (error) {
          throw translateAwsError('SQS', error);
        }
      }
    }
  }
}
