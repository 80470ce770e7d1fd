import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { MaterializeMessage } from '../lib/snapshots/snapshot-service.js';
import { processServices } from '../lib/wiring.js';

/**
 * Snapshot queue consumer: materializes one snapshot partition per message. A failed
 * message is reported alone, so SQS redelivers just it and, after N tries, dead-letters it.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  await Promise.all(
    event.Records.map(async (record) => {
      try {
        await processServices().snapshots.materialize(JSON.parse(record.body) as MaterializeMessage);
      } catch (error) {
        console.error(`snapshot message ${record.messageId} failed`, error);
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
}
