import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';

/**
 * Runs `handle` on every record of an SQS batch and answers with the partial batch response
 * (Powertools' BatchProcessor): a record that throws (an invalid message included) is logged
 * and reported in batchItemFailures alone, so SQS redelivers just it and, after N tries,
 * dead-letters it. A batch whose every record failed is answered the same way, not thrown.
 */
export async function processSqsBatch(event: SQSEvent, queue: string, handle: (record: SQSRecord) => Promise<unknown>): Promise<SQSBatchResponse> {
  // One processor per batch: it keeps the batch's state, and a process may run two batches at once.
  const processor = new BatchProcessor(EventType.SQS);
  const logged = async (record: SQSRecord) => {
    try {
      return await handle(record);
    } catch (error) {
      console.error(`${queue} message ${record.messageId} failed`, error);
      throw error;
    }
  };
  return processPartialResponse(event, logged, processor, { throwOnFullBatchFailure: false });
}
