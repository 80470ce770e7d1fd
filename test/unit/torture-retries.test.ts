import { describe, expect, it } from 'vitest';
import { checkHistory, HistoryBuilder } from '../support/history/index.js';
import { writeWithRetries, type Outcome } from '../support/torture/clients.js';

const quick = { attempts: 4, firstBackoffMs: 1, maxBackoffMs: 2 };
const answers = (...outcomes: Outcome[]) => {
  const sent: number[] = [];
  return { sent, send: async (attempt: number) => (sent.push(attempt), outcomes[attempt - 1] ?? { status: 'info', why: 'no answer' }) as Outcome };
};

describe('writeWithRetries: a keyed write sent again while its outcome is unknown', () => {
  it('retries unknown outcomes and stops at the first acknowledgement', async () => {
    const { sent, send } = answers({ status: 'info', why: 'HTTP 503 Fenced' }, { status: 'info', why: 'HTTP 409 IdempotencyInProgress' }, { status: 'ok' });
    const outcome = await writeWithRetries(send, quick);
    expect(outcome).toMatchObject({ status: 'ok', attempts: 3 });
    expect(sent).toEqual([1, 2, 3]);
  });

  it('a refusal at the first attempt is a definite failure', async () => {
    const { sent, send } = answers({ status: 'fail', why: 'HTTP 400' });
    expect(await writeWithRetries(send, quick)).toMatchObject({ status: 'fail', attempts: 1 });
    expect(sent).toEqual([1]);
  });

  it('a refusal after an unknown attempt stays unknown: the first may have applied', async () => {
    const { send } = answers({ status: 'info', why: 'timeout' }, { status: 'fail', why: 'HTTP 422 IdempotencyKeyMismatch' });
    expect(await writeWithRetries(send, quick)).toMatchObject({ status: 'info', attempts: 2 });
  });

  it('gives up unknown after its attempts', async () => {
    const { sent, send } = answers();
    expect(await writeWithRetries(send, quick)).toMatchObject({ status: 'info', attempts: 4 });
    expect(sent).toEqual([1, 2, 3, 4]);
  });
});

describe('the history of a keyed write retried as one op', () => {
  // The attempts of client 1's keyed write are one op, [0, 10]; client 2 writes after its answer.
  const base = () => new HistoryBuilder().write(1, 1, [0, 10]).write(2, 1, [11, 12]).read(3, [13, 14], ['2:1']);

  it('is linearizable when the key applied the write once', () => {
    expect(checkHistory(base().read(3, [15, 16], ['2:1']).build()).status).toBe('ok');
  });

  it('is flagged when the write applied twice (its first attempt landing after the retry was answered)', () => {
    expect(checkHistory(base().read(3, [15, 16], ['1:1']).build()).status).toBe('violation');
  });
});
