import { Command, Errno } from '../../../lib/nbd/constants.js';
import { SledsError } from '../../../lib/errors.js';
import type { Services } from '../../../lib/wiring.js';
import { RawNbdClient } from '../nbd-raw-client.js';

/**
 * The ways a torture client reaches a volume. Each answers a write or a read with an outcome the
 * history records: ok (acknowledged), fail (it definitely did not happen: a 4xx, EINVAL) or
 * info (unknown: a 5xx, a timeout, a dropped connection, a 409 that may have left parts of a
 * spanning write behind).
 */
export type Outcome = { readonly status: 'ok'; readonly data?: Buffer; readonly detail?: string } | { readonly status: 'fail' | 'info'; readonly why: string };

export interface VolumeClient {
  /** With `idempotencyKey`, the write is sent with it (HTTP: the Idempotency-Key header). */
  write(offset: number, data: Buffer, idempotencyKey?: string): Promise<Outcome>;
  /** WRITE_ZEROES; only NBD has it. */
  zero?(offset: number, length: number): Promise<Outcome>;
  read(offset: number, length: number): Promise<Outcome>;
  close(): Promise<void>;
}

/** Statuses that say a write was refused before it could change anything. */
const REFUSED = new Set([400, 404, 413, 415, 416, 422]);

/** A client of the HTTP data API. */
export function httpClient(apiUrl: string, volumeId: string, timeoutMs: number): VolumeClient {
  const url = (query: string) => `${apiUrl}/volumes/${volumeId}/data?${query}`;
  return {
    async write(offset, data, idempotencyKey) {
      try {
        const response = await fetch(url(`offset=${offset}`), {
          method: 'PUT',
          body: data,
          headers: { 'content-type': 'application/octet-stream', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.text();
        if (response.status === 200) return { status: 'ok', detail: text };
        return { status: REFUSED.has(response.status) ? 'fail' : 'info', why: `HTTP ${response.status} ${text.slice(0, 160)}` };
      } catch (error) {
        return { status: 'info', why: `HTTP ${String(error)}` };
      }
    },
    async read(offset, length) {
      try {
        const response = await fetch(url(`offset=${offset}&length=${length}`), { signal: AbortSignal.timeout(timeoutMs) });
        const body = Buffer.from(await response.arrayBuffer());
        if (response.status === 200) return { status: 'ok', data: body };
        // A read that failed constrains nothing: it leaves the history.
        return { status: 'fail', why: `HTTP ${response.status} ${body.toString('utf8', 0, 160)}` };
      } catch (error) {
        return { status: 'fail', why: `HTTP ${String(error)}` };
      }
    },
    async close() {},
  };
}

/** A client of process B's services, called directly (a second head-node process). */
export function servicesClient(services: Services, volumeId: string): VolumeClient {
  const classify = (error: unknown, write: boolean): Outcome => {
    const why = error instanceof SledsError ? `${error.code} ${error.message}` : String(error);
    if (!write) return { status: 'fail', why };
    return { status: error instanceof SledsError && REFUSED.has(error.status) ? 'fail' : 'info', why };
  };
  return {
    write: (offset, data, idempotencyKey) => services.data.write(volumeId, offset, data, idempotencyKey).then((result) => ({ status: 'ok', detail: JSON.stringify(result) }) as const, (error: unknown) => classify(error, true)),
    read: (offset, length) => services.data.read(volumeId, offset, length).then((data) => ({ status: 'ok', data }) as const, (error: unknown) => classify(error, false)),
    async close() {},
  };
}

/**
 * An NBD client that sends one request at a time on its connection (simple replies). A reply
 * that does not come within the timeout, or a broken connection, makes the op info; the next op
 * connects again.
 */
export function nbdClient(port: number, volumeId: string, timeoutMs: number): VolumeClient {
  let connection: RawNbdClient | undefined;
  const connect = async () => {
    if (connection) return connection;
    const client = await RawNbdClient.connect(port);
    client.socket.on('error', () => {});
    const replies = await client.go(volumeId);
    if (replies.at(-1)?.type !== 1) {
      client.destroy();
      throw new Error(`could not attach ${volumeId} over NBD`);
    }
    connection = client;
    return client;
  };
  const drop = () => {
    connection?.destroy();
    connection = undefined;
  };
  const request = async (type: number, offset: number, length: number, data?: Buffer): Promise<{ error: number; data?: Buffer }> => {
    const client = await connect();
    client.send({ flags: 0, type, offset, length, ...(data ? { data } : {}) });
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await Promise.race([
        client.reply(),
        client.closed.then(() => {
          throw new Error('connection closed');
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no reply in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      if (reply.kind !== 'simple') throw new Error('a structured reply on a simple connection');
      return reply.data ? { error: reply.error, data: reply.data } : { error: reply.error };
    } catch (error) {
      drop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };
  const mutate = async (type: number, offset: number, length: number, data?: Buffer): Promise<Outcome> => {
    try {
      const reply = await request(type, offset, length, data);
      if (reply.error === 0) return { status: 'ok' };
      return { status: reply.error === Errno.EINVAL ? 'fail' : 'info', why: `NBD errno ${reply.error}` };
    } catch (error) {
      return { status: 'info', why: `NBD ${String(error)}` };
    }
  };
  return {
    write: (offset, data) => mutate(Command.WRITE, offset, data.length, data),
    zero: (offset, length) => mutate(Command.WRITE_ZEROES, offset, length),
    async read(offset, length) {
      try {
        const reply = await request(Command.READ, offset, length);
        if (reply.error === 0 && reply.data) return { status: 'ok', data: reply.data };
        return { status: 'fail', why: `NBD errno ${reply.error}` };
      } catch (error) {
        return { status: 'fail', why: `NBD ${String(error)}` };
      }
    },
    async close() {
      if (connection) {
        connection.disconnect();
        await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 500))]);
        drop();
      }
    },
  };
}

/** How a keyed client retries a write whose outcome it does not know. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_RETRIES: RetryPolicy = { attempts: 6, firstBackoffMs: 200, maxBackoffMs: 2_000 };

/**
 * A write under one Idempotency-Key, sent again while its outcome is unknown (a 5xx such as
 * Fenced, a timeout, a dropped connection, 409 IdempotencyInProgress), as a careful client does.
 * The history records the attempts as one op: invoked before the first, acknowledged by the
 * first ok. If the key let the write apply twice (the first attempt landing after the retry's
 * answer), a later read would see it come back after newer writes, and the checker flags that.
 * A refusal after an unknown attempt is not a definite failure (the first may have applied):
 * it stays unknown. `send(attempt)` sends one attempt.
 */
export async function writeWithRetries(send: (attempt: number) => Promise<Outcome>, policy: RetryPolicy = DEFAULT_RETRIES): Promise<Outcome & { readonly attempts: number }> {
  let backoff = policy.firstBackoffMs;
  let last: Outcome = { status: 'info', why: 'not sent' };
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    last = await send(attempt);
    if (last.status === 'ok') return { ...last, attempts: attempt };
    if (last.status === 'fail') return attempt === 1 ? { ...last, attempts: attempt } : { status: 'info', why: `refused after an unknown attempt: ${last.why}`, attempts: attempt };
    if (attempt < policy.attempts) await new Promise((resolve) => setTimeout(resolve, backoff));
    backoff = Math.min(policy.maxBackoffMs, backoff * 2);
  }
  return { ...last, attempts: policy.attempts };
}
