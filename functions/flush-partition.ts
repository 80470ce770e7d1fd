import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { FlushMessage, SweepMessage } from '../lib/flush/flush-service.js';
import { processServices } from '../lib/wiring.js';

/**
 * Flush queue consumer: one message per partition and op range, or a sweep of a partition's
 * orphans. Both are idempotent, so a duplicate delivery is harmless; a message that keeps
 * failing is dead-lettered by the queue. One for a volume deleted since is done.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  // Messages for one partition run one after another: two flushes of it would only race.
  const byPartition = new Map<string, Array<{ id: string; message: FlushMessage | SweepMessage }>>();
  for (const record of event.Records) {
    let message: FlushMessage | SweepMessage;
    try {
      message = JSON.parse(record.body) as FlushMessage | SweepMessage;
    } catch {
      failures.push({ itemIdentifier: record.messageId });
      continue;
    }
    const key = `${message.volumeId}#${message.partition}`;
    byPartition.set(key, [...(byPartition.get(key) ?? []), { id: record.messageId, message }]);
  }
  await Promise.all(
    [...byPartition.values()].map(async (messages) => {
      for (const { id, message } of messages) {
        try {
          const { flush } = processServices();
          if ('sweep' in message) {
            const swept = await flush.sweepQueued(message);
            if (swept.chunksRemoved + swept.notesRemoved > 0 || swept.skipped) console.info(`sweep of ${message.volumeId} partition ${message.partition}`, swept);
          } else {
            const flushed = await flush.flushQueued(message);
            if ('skipped' in flushed) console.info(`flush of ${message.volumeId} partition ${message.partition} skipped: ${flushed.skipped}`);
          }
        } catch (error) {
          console.error(`flush message ${id} failed`, error);
          failures.push({ itemIdentifier: id });
        }
      }
    }),
  );
  return { batchItemFailures: failures };
}
