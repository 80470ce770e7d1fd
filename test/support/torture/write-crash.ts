import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServiceConfig } from '../../../lib/config.js';
import { armFailpoint, FAILPOINTS } from '../../../lib/faults.js';
import { createServices } from '../../../lib/wiring.js';
import { taggedPayload, type HistoryRecorder } from '../history/index.js';
import { servicesClient, writeWithRetries } from './clients.js';
import { IoGate } from './io-gate.js';
import { BLOCK, type PlannedFault } from './schedule.js';

/**
 * The write-crash fault: a head process dies (kill -9) at one step of a keyed write's protocol,
 * then a restarted process on the same data retries the write under the same Idempotency-Key.
 *
 * The process is a set of services of its own (a second head process, as process B is). At the
 * step, its I/O gate closes for good and the failpoint never returns: nothing it would still
 * send reaches the emulators, and no code after the step runs (no `finally` releases its
 * Idempotency-Key claim, as none would after a kill). Only that process's call is crashed: the
 * failpoint knows it by an AsyncLocalStorage mark, so the serving process's clients writing the
 * same partition at the same step go on. The write is one op in the history, invoked before the
 * crash and acknowledged by the retry.
 */

/** How long the restarted process waits before taking over the dead one's Idempotency-Key claim (the default is 60 s). */
export const RESTART_CLAIM_LEASE_MS = 1_000;

const processOf = new AsyncLocalStorage<symbol>();

export interface WriteCrash {
  readonly config: ServiceConfig;
  readonly volumeId: string;
  readonly partitionBytes: number;
  readonly fault: PlannedFault;
  /** The history's client id for the crashed write (unique: it tags the write's blocks). */
  readonly client: number;
  readonly key: string;
  readonly recorder: HistoryRecorder;
}

/** Runs the fault; returns what happened, for the report. */
export async function crashAWrite(w: WriteCrash): Promise<string> {
  const step = w.fault.step as string;
  const doomed = createServices(w.config);
  const gate = new IoGate(doomed.clients);
  const mark = Symbol('doomed process');
  let died = () => {};
  const death = new Promise<'crashed'>((resolve) => (died = () => resolve('crashed')));
  let crashed = false;
  const disarm = armFailpoint(FAILPOINTS.write, (context) => {
    if (crashed || processOf.getStore() !== mark || context.volumeId !== w.volumeId || context.partition !== w.fault.partition || context.step !== step) return;
    crashed = true;
    gate.close();
    died();
    return new Promise<void>(() => {});
  });
  // Two blocks: at the start of the partition, or across its end into the next one.
  const offset = w.fault.spans ? (w.fault.partition + 1) * w.partitionBytes - BLOCK : w.fault.partition * w.partitionBytes;
  const length = 2 * BLOCK;
  const { buf, values } = taggedPayload(w.client, 1, offset, length);
  const id = w.recorder.invoke(w.client, { kind: 'write', offset, length, values });
  const restarted = createServices(w.config, { idempotencyLeaseMs: RESTART_CLAIM_LEASE_MS });
  try {
    let first: string;
    try {
      const write = processOf.run(mark, () => doomed.data.write(w.volumeId, offset, buf, w.key));
      first = await Promise.race([write.then(() => 'acknowledged', (error: unknown) => `failed: ${String(error).slice(0, 80)}`), death]);
    } finally {
      disarm();
    }
    if (first === 'acknowledged') {
      w.recorder.ok(id);
      return `step not reached (acknowledged)`;
    }
    // The restart: a new process on the same data; the client, which never got an answer, retries.
    const retry = await writeWithRetries(() => servicesClient(restarted, w.volumeId).write(offset, buf, w.key), { attempts: 8, firstBackoffMs: 250, maxBackoffMs: 2_000 });
    if (retry.status === 'ok') w.recorder.ok(id);
    else w.recorder.info(id);
    return `${crashed ? `crashed at ${step}` : `step not reached (${first})`}; restarted, the retry ${retry.status === 'ok' ? 'acknowledged' : `unknown (${retry.why})`} after ${retry.attempts} attempt(s)`;
  } finally {
    restarted.clients.destroy();
    doomed.clients.destroy();
  }
}
