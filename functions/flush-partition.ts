import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { FlushMessage } from '../lib/flush/flush-service.js';
import { VolumeNotFoundError } from '../lib/errors.js';
import { processServices } from '../lib/wiring.js';

/**
 * Flush queue consumer: one message per partition and op range, or a sweep of a partition's
 * orphans. Both are idempotent, so a duplicate delivery is harmless; a message that keeps
 * failing is dead-lettered by the queue.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  // Messages for one partition run one after another: two flushes of it would only race.
  const byPartition = new Map<string, Array<{ id: string; message: FlushMessage }>>();
  for (const record of event.Records) {
    let message: FlushMessage;
    try {
      message = JSON.parse(record.body) as FlushMessage;
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
          if (message.sweep) {
            // A sweep comes a while after its checkpoint: the volume may be gone by then, with its objects.
            const swept = await flush.sweep(message.volumeId, message.partition).catch((error: unknown) => {
              if (error instanceof VolumeNotFoundError) return { skipped: 'the volume is gone', chunksRemoved: 0, notesRemoved: 0 };
              throw error;
            });
            if (swept.chunksRemoved + swept.notesRemoved > 0 || swept.skipped) console.info(`sweep of ${message.volumeId} partition ${message.partition}`, swept);
          } else await flush.flush(message);
        } catch (error) {
          console.error(`flush message ${id} failed`, error);
          failures.push({ itemIdentifier: id });
        }
      }
    }),
  );
  return { batchItemFailures: failures };
}
