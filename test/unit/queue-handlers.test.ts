import type { SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { flushQueueMessageSchema } from '../../lib/flush/messages.js';
import { InvalidQueueMessageError, parseQueueMessage } from '../../lib/queues/messages.js';
import { processSqsBatch } from '../../lib/queues/sqs-batch.js';

const VOLUME = 'vol-0123456789abcdef0';
const SNAPSHOT = 'snap-0123456789abcdef0';

// The handlers' one use case, faked: what each call did, in order, and which ones fail.
const calls: string[] = [];
const failing = new Set<string>();
const fake = (name: string) => async (message: { volumeId?: string; snapshotId?: string; partition: number; uptoOp?: number }) => {
  const id = `${name} ${message.volumeId ?? message.snapshotId} ${message.partition}${message.uptoOp === undefined ? '' : ` ${message.uptoOp}`}`;
  calls.push(`start ${id}`);
  await new Promise((resolve) => setTimeout(resolve, 5));
  calls.push(`end ${id}`);
  if (failing.has(id)) throw new Error(`${id} failed`);
  return name === 'sweep' ? { chunksRemoved: 0, notesRemoved: 0 } : {};
};
vi.mock('../../lib/wiring.js', () => ({
  processServices: () => ({
    flush: { flushQueued: fake('flush'), sweepQueued: fake('sweep') },
    snapshots: { materialize: fake('materialize') },
  }),
}));

const event = (...bodies: string[]): SQSEvent =>
  ({ Records: bodies.map((body, i) => ({ messageId: `m${i}`, body, attributes: {}, messageAttributes: {} })) }) as unknown as SQSEvent;

let errors: MockInstance<typeof console.error>;
beforeEach(() => {
  calls.length = 0;
  failing.clear();
  errors = vi.spyOn(console, 'error').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

describe('queue messages', () => {
  it('parse a body with its schema, and say what is wrong with one that does not match', () => {
    expect(parseQueueMessage(flushQueueMessageSchema, { messageId: 'a', body: JSON.stringify({ volumeId: VOLUME, partition: 1, uptoOp: 4, orNewer: true }) })).toEqual({
      volumeId: VOLUME,
      partition: 1,
      uptoOp: 4,
      orNewer: true,
    });
    expect(parseQueueMessage(flushQueueMessageSchema, { messageId: 'b', body: JSON.stringify({ volumeId: VOLUME, partition: 1, sweep: true }) })).toEqual({
      volumeId: VOLUME,
      partition: 1,
      sweep: true,
    });
    expect(() => parseQueueMessage(flushQueueMessageSchema, { messageId: 'c', body: '{not json' })).toThrow(new InvalidQueueMessageError('c', 'the body is not JSON'));
    expect(() => parseQueueMessage(flushQueueMessageSchema, { messageId: 'd', body: JSON.stringify({ volumeId: VOLUME, partition: 1 }) })).toThrow(
      /^Message d is invalid: .*uptoOp/,
    );
    expect(() => parseQueueMessage(flushQueueMessageSchema, { messageId: 'e', body: JSON.stringify({ volumeId: 'vol-x', partition: 1, uptoOp: 2 }) })).toThrow(
      /^Message e is invalid: .*volumeId/,
    );
    expect(() => parseQueueMessage(flushQueueMessageSchema, { messageId: 'f', body: JSON.stringify({ volumeId: VOLUME, partition: -1, uptoOp: 2 }) })).toThrow(
      /partition must be at least 0/,
    );
  });

  it('a batch reports the records that threw, and answers (not throws) when every one did', async () => {
    const handled = await processSqsBatch(event('ok', 'bad', 'ok'), 'test', async (record) => {
      if (record.body === 'bad') throw new Error('bad record');
    });
    expect(handled.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    const allFailed = await processSqsBatch(event('bad', 'bad'), 'test', async () => {
      throw new Error('bad record');
    });
    expect(allFailed.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }, { itemIdentifier: 'm1' }]);
    expect(errors).toHaveBeenCalledWith('test message m1 failed', expect.any(Error));
  });
});

describe('flush-partition handler', () => {
  it('fails invalid messages alone, with a clear error, and runs the valid ones', async () => {
    const { handler } = await import('../../functions/flush-partition.js');
    const answer = await handler(
      event(
        '{oops',
        JSON.stringify({ volumeId: VOLUME, partition: 0, uptoOp: 3 }),
        JSON.stringify({ volumeId: VOLUME, partition: 0 }),
        JSON.stringify({ volumeId: VOLUME, partition: 1, sweep: true }),
      ),
    );
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }, { itemIdentifier: 'm2' }]);
    expect(calls.filter((call) => call.startsWith('end'))).toEqual(expect.arrayContaining([`end flush ${VOLUME} 0 3`, `end sweep ${VOLUME} 1`]));
    const logged = errors.mock.calls.map(([text, error]) => [text, error instanceof InvalidQueueMessageError ? error.message : error]);
    expect(logged).toEqual([
      ['flush message m0 failed', 'Message m0 is invalid: the body is not JSON'],
      ['flush message m2 failed', expect.stringMatching(/^Message m2 is invalid: .*uptoOp/)],
    ]);
  });

  it('runs the messages of one partition one after another, in order, even past a failure; other partitions meanwhile', async () => {
    const { handler } = await import('../../functions/flush-partition.js');
    failing.add(`flush ${VOLUME} 0 1`);
    const answer = await handler(
      event(
        JSON.stringify({ volumeId: VOLUME, partition: 0, uptoOp: 1 }),
        JSON.stringify({ volumeId: VOLUME, partition: 1, uptoOp: 1 }),
        JSON.stringify({ volumeId: VOLUME, partition: 0, uptoOp: 2 }),
        JSON.stringify({ volumeId: VOLUME, partition: 0, sweep: true }),
      ),
    );
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
    const partition0 = calls.filter((call) => call.includes(`${VOLUME} 0`));
    expect(partition0).toEqual([
      `start flush ${VOLUME} 0 1`,
      `end flush ${VOLUME} 0 1`,
      `start flush ${VOLUME} 0 2`,
      `end flush ${VOLUME} 0 2`,
      `start sweep ${VOLUME} 0`,
      `end sweep ${VOLUME} 0`,
    ]);
    // Partition 1 started before partition 0's first flush ended.
    expect(calls.indexOf(`start flush ${VOLUME} 1 1`)).toBeLessThan(calls.indexOf(`end flush ${VOLUME} 0 1`));
  });
});

describe('materialize-snapshot handler', () => {
  it('fails an invalid message alone and materializes the others', async () => {
    const { handler } = await import('../../functions/materialize-snapshot.js');
    const answer = await handler(
      event(JSON.stringify({ snapshotId: SNAPSHOT, partition: 0 }), JSON.stringify({ snapshotId: 'snap-nope', partition: 1 }), JSON.stringify({ snapshotId: SNAPSHOT, partition: 2 })),
    );
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(calls.filter((call) => call.startsWith('end')).sort()).toEqual([`end materialize ${SNAPSHOT} 0`, `end materialize ${SNAPSHOT} 2`]);
    expect(errors).toHaveBeenCalledWith('snapshot message m1 failed', expect.any(InvalidQueueMessageError));
  });
});
