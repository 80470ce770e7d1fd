import type { SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { SledsError } from '../errors.js';

/** A queue message that is not JSON, or not the message its queue carries: a failed record, never retried into success. */
export class InvalidQueueMessageError extends SledsError {
  constructor(messageId: string, message: string, options?: { cause?: unknown }) {
    super('InvalidQueueMessage', 400, `Message ${messageId} is invalid: ${message}`, options);
  }
}

/** Parses one record's JSON body with the queue's message schema; throws InvalidQueueMessageError saying what is wrong. */
export function parseQueueMessage<S extends z.ZodType>(schema: S, record: Pick<SQSRecord, 'messageId' | 'body'>): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch (error) {
    throw new InvalidQueueMessageError(record.messageId, 'the body is not JSON', { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'the body'}: ${issue.message}`);
    throw new InvalidQueueMessageError(record.messageId, issues.join('; '), { cause: parsed.error });
  }
  return parsed.data;
}
