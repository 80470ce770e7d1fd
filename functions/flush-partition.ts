import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { invocation, log, reportFlushLag } from '../lib/api/lambda.js';
import { flushQueueMessageSchema, type FlushQueueMessage } from '../lib/flush/messages.js';
import { parseQueueMessage } from '../lib/queues/messages.js';
import { processSqsBatch } from '../lib/queues/sqs-batch.js';
import { processServices } from '../lib/wiring.js';

/**
 * Flush queue consumer: one message per partition and op range, or a sweep of a partition's
 * orphans. Both are idempotent, so a duplicate delivery is harmless; a message that keeps
 * failing (an invalid one too) is dead-lettered by the queue. One for a volume deleted since is done.
 */
export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  // Messages for one partition run one after another (two flushes of it would only race);
  // the records arrive in order, so each waits for the one before it on its partition.
  const previous = new Map<string, Promise<unknown>>();
  return invocation(context, {}, () =>
    processSqsBatch(event, 'flush', async (record) => {
      const message = parseQueueMessage(flushQueueMessageSchema, record);
      const key = `${message.volumeId}#${message.partition}`;
      const run = (previous.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => consume(message));
      previous.set(key, run);
      return run;
    }),
  );
}

async function consume(message: FlushQueueMessage): Promise<void> {
  const services = processServices();
  const { volumeId, partition } = message;
  const keys = { volumeId, partition };
  if (message.sweep) {
    const swept = await services.flush.sweepQueued(message);
    if (swept.chunksRemoved + swept.notesRemoved > 0 || swept.skipped) log.info('partition swept', { ...keys, operation: 'sweep', ...swept });
  } else {
    const flushed = await services.flush.flushQueued(message);
    if ('skipped' in flushed) log.info('flush skipped', { ...keys, operation: 'flush', skipped: flushed.skipped });
    else await reportFlushLag(services, volumeId, partition);
  }
}
