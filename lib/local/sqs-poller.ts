import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

export interface SqsPoller {
  stop(): Promise<void>;
}

function toEvent(messages: Message[], queueArn: string): SQSEvent {
  return {
    Records: messages.map((message) => ({
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body: message.Body ?? '',
      attributes: {
        ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
        SenderId: message.Attributes?.SenderId ?? 'local',
        ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: 'local',
    })),
  };
}

/**
 * Stands in for a Lambda event-source mapping: long-polls the queue, hands batches to the
 * handler, deletes what succeeded, and makes failures visible again after a short backoff
 * (the queue's redrive policy dead-letters them after maxReceiveCount tries).
 */
export function startSqsPoller(options: {
  sqs: SQSClient;
  queueUrl: string;
  load: () => Promise<SqsHandler>;
  retryDelaySeconds?: number;
}): SqsPoller {
  const { sqs, queueUrl } = options;
  let running = true;
  const loop = (async () => {
    const handler = await options.load();
    while (running) {
      try {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }),
        );
        if (!Messages || Messages.length === 0 || !running) continue;
        const result = await handler(toEvent(Messages, queueUrl));
        const failed = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
        const done = Messages.filter((message) => !failed.has(message.MessageId ?? ''));
        if (done.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: done.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
            }),
          );
        }
        for (const message of Messages.filter((m) => failed.has(m.MessageId ?? ''))) {
          await sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: options.retryDelaySeconds ?? 1,
            }),
          );
        }
      } catch (error) {
        if (running) {
          console.error('sqs poller:', error);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}
