/**
 * The soak's load, on a worker thread of its own (bench/soak.ts starts it): NBD connections
 * spread over the volumes, each writing tagged blocks and reading back, every op recorded for
 * the checker. On a thread of its own, its memory (the histories grow with every op) is not
 * counted as the serving thread's, and the main thread's heap is the service's alone.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HistoryRecorder, prng, taggedPayload, type History } from '../test/support/history/index.js';
import { nbdClient } from '../test/support/torture/clients.js';
import { collectGarbage, memoryOfThisThread, type ThreadMemory } from '../lib/local/thread-stats.js';

export interface SoakLoad {
  readonly nbdPort: number;
  readonly volumes: readonly string[];
  readonly connections: number;
  readonly volumeBytes: number;
  readonly durationMs: number;
  readonly seed: number;
}

/** Asked of the load thread: 'sample' (after a full collection), or 'stop' once it reported done. */
export type SoakAsk = 'sample';

/** What one interval of the load did, and the thread's memory after a full collection. */
export interface SoakSample {
  readonly kind: 'sample';
  readonly ops: number;
  readonly bytes: number;
  readonly latenciesMs: number[];
  readonly recordedOps: number;
  readonly memory: ThreadMemory;
}

/** The load's end: every volume's history, and every latency. */
export interface SoakDone {
  readonly kind: 'done';
  readonly histories: History[];
  readonly latenciesMs: number[];
  readonly counts: { ok: number; fail: number; info: number };
  /** Why ops failed or ended unknown, with how many times each (errno or error text, up to 80 characters). */
  readonly reasons: Record<string, number>;
}

const BLOCK = 4096;
const port = parentPort;
if (!port) throw new Error('the soak load runs on a worker thread');
const load = workerData as SoakLoad;
const random = prng(load.seed);
const int = (n: number) => Math.floor(random() * n);
const recorders = load.volumes.map(() => new HistoryRecorder());
let interval = { ops: 0, bytes: 0, latenciesMs: [] as number[] };
const latenciesMs: number[] = [];
const counts = { ok: 0, fail: 0, info: 0 };
const reasons: Record<string, number> = {};
let recordedOps = 0;
const deadline = performance.now() + load.durationMs;

port.on('message', (ask: SoakAsk) => {
  if (ask !== 'sample') return;
  collectGarbage();
  port.postMessage({ kind: 'sample', ...interval, recordedOps, memory: memoryOfThisThread('load') } satisfies SoakSample);
  interval = { ops: 0, bytes: 0, latenciesMs: [] };
});

await Promise.all(
  Array.from({ length: load.connections }, async (_, c) => {
    const v = c % load.volumes.length;
    const recorder = recorders[v] as HistoryRecorder;
    const client = nbdClient(load.nbdPort, load.volumes[v] as string, 60_000);
    let seq = 0;
    while (performance.now() < deadline) {
      const length = (1 + (random() < 0.8 ? int(4) : int(16))) * BLOCK;
      const offset = int((load.volumeBytes - length) / BLOCK + 1) * BLOCK;
      const write = random() < 0.5;
      const t0 = performance.now();
      let id: number;
      let outcome;
      if (write) {
        const { buf, values } = taggedPayload(c, ++seq, offset, length);
        id = recorder.invoke(c, { kind: 'write', offset, length, values });
        outcome = await client.write(offset, buf);
      } else {
        id = recorder.invoke(c, { kind: 'read', offset, length });
        outcome = await client.read(offset, length);
      }
      recordedOps++;
      const ms = performance.now() - t0;
      if (outcome.status === 'ok') {
        if (write) recorder.ok(id);
        else recorder.ok(id, outcome.data);
        interval.ops++;
        interval.bytes += length;
        interval.latenciesMs.push(ms);
        latenciesMs.push(ms);
      } else if (outcome.status === 'fail') recorder.fail(id);
      else recorder.info(id);
      counts[outcome.status]++;
      if (outcome.status !== 'ok') {
        const why = `${write ? 'write' : 'read'} ${outcome.status}: ${outcome.why.slice(0, 80)}`;
        reasons[why] = (reasons[why] ?? 0) + 1;
      }
    }
    await client.close();
  }),
);
port.postMessage({ kind: 'done', histories: recorders.map((r) => r.history()), latenciesMs, counts, reasons } satisfies SoakDone);
