import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { invocation } from '../lib/api/lambda.js';
import { parseQueueMessage } from '../lib/queues/messages.js';
import { processSqsBatch } from '../lib/queues/sqs-batch.js';
import { materializeMessageSchema } from '../lib/snapshots/messages.js';
import { processServices } from '../lib/wiring.js';

/**
 * Snapshot queue consumer: materializes one snapshot partition per message. A failed (or
 * invalid) message is reported alone, so SQS redelivers just it and, after N tries, dead-letters it.
 */
export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  return invocation(context, {}, () =>
    processSqsBatch(event, 'snapshot', async (record) => {
      const message = parseQueueMessage(materializeMessageSchema, record);
      await processServices().snapshots.materialize(message);
    }),
  );
}
