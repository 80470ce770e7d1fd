import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { DEFAULT_CHECKPOINT_EVERY_OPS } from '../lib/config.js';
import { startLocalCloud } from '../lib/local/local-cloud.js';
import { collectGarbage, memoryOfThisThread } from '../lib/local/thread-stats.js';
import { createServices, processServices } from '../lib/wiring.js';
import { checkHistory, formatReport, readTags, type History, type Operation } from '../test/support/history/index.js';
import { servicesClient } from '../test/support/torture/clients.js';
import type { SoakDone, SoakLoad, SoakSample } from './soak-clients.js';
import { emulatedData, memoryVerdict, series, type MemorySample } from './soak-memory.js';
import { percentile } from './support.js';

/**
 * npm run bench:soak -- [--minutes=10] [--replica-loss-every=120] [--connections=64] [--volumes=8] [--sample-every=10]
 *   [--emulator-threads=true] [--checkpoint-every-ops=1024]
 * A soak of the embedded cloud in this process: NBD connections spread over volumes, each
 * writing tagged blocks and reading back (on a worker thread of their own: bench/soak-clients.ts),
 * with automatic flushes, a checkpoint every 15 s, a replica loss every few minutes and a copy
 * job. The emulators run on threads of their own, as under `npm start`. Every sample (after a
 * full collection on every thread) prints throughput, p99 and the memory split
 * (bench/soak-memory.ts): the process's RSS, the service's heap and Buffers (head cache among
 * them), the emulators' threads, the load's thread, the rest; and what the emulators store.
 * At the end: the memory verdict (did it plateau, and if not, what grows) and the
 * linearizability checker's verdict on every volume's whole history.
 */
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'replica-loss-every': { type: 'string', default: '120' },
    connections: { type: 'string', default: '64' },
    volumes: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    'sample-every': { type: 'string', default: '10' },
    'emulator-threads': { type: 'string', default: 'true' },
    'checkpoint-every-ops': { type: 'string', default: String(DEFAULT_CHECKPOINT_EVERY_OPS) },
  },
});
const MIB = 1024 * 1024;
const durationMs = Number(values.minutes) * 60_000;
const lossEveryMs = Number(values['replica-loss-every']) * 1000;
const sampleEveryMs = Number(values['sample-every']) * 1000;
const connections = Number(values.connections);
const volumeCount = Number(values.volumes);
const emulatorThreads = values['emulator-threads'] !== 'false';
const chunkSizeBytes = 256 * 1024;
const partitionChunks = 4;
const volumeBytes = 4 * chunkSizeBytes * partitionChunks; // 4 partitions of 1 MiB
let seed = Number(values.seed) >>> 0;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n: number) => Math.floor(random() * n);

const checkpointEveryOps = Number(values['checkpoint-every-ops']);
const cloud = await startLocalCloud({ port: 0, nbdPort: 0, sledCount: 4, warmBeforeOpen: true, emulatorThreads, checkpointEveryOps });
const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${cloud.apiUrl}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as { volumeId: string; snapshotId: string; jobId: string; state: string };
};
const nbdPort = Number(new URL(cloud.nbdUrl ?? '').port);
const volumes: string[] = [];
for (let v = 0; v < volumeCount; v++) volumes.push((await api("POST", "/volumes", { sizeBytes: volumeBytes, chunkSizeBytes, partitionChunks })).volumeId);
console.log(
  `soak: ${connections} NBD connections over ${volumeCount} volumes of ${volumeBytes / MIB} MiB (4 partitions), ${values.minutes} min, a replica loss every ${lossEveryMs / 1000} s; ` +
    `a checkpoint every ${checkpointEveryOps} ops, otherwise cloud defaults (flush every 64 ops, lease 3000 ms, head cache 256 MiB); emulators on ${emulatorThreads ? 'threads of their own' : 'the main thread'}`,
);

// The load, on a thread of its own (run from source, it needs tsx's loader as well).
const loaderUrl = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const load = new Worker(new URL('./soak-clients.ts', import.meta.url), {
  workerData: { nbdPort, volumes, connections, volumeBytes, durationMs, seed: seed ^ 0x5eed } satisfies SoakLoad,
  execArgv: ['--import', loaderUrl],
});
const started = performance.now();
const deadline = started + durationMs;
const events: string[] = [];
let pendingSample: ((sample: SoakSample) => void) | undefined;
const loadDone = new Promise<SoakDone>((resolve, reject) => {
  load.on('error', reject);
  load.on('exit', (code) => reject(new Error(`the load thread exited (code ${code})`)));
  load.on('message', (message: SoakSample | SoakDone) => {
    if (message.kind === 'done') resolve(message);
    else pendingSample?.(message);
  });
});
const askLoad = () =>
  new Promise<SoakSample>((resolve) => {
    pendingSample = resolve;
    load.postMessage('sample');
  });

const services = processServices();
const samples: MemorySample[] = [];
const mibOf = (bytes: number) => (bytes / MIB).toFixed(0);
let lastSampleAt = 0;
/** One sample: the interval's load, then memory after a full collection on every thread, then the emulators' data. */
async function sample(): Promise<void> {
  const loadSample = await askLoad();
  collectGarbage();
  await cloud.emulatorThreads?.collectGarbage();
  const t = (performance.now() - started) / 1000;
  const service = memoryOfThisThread('service');
  const emulators = emulatorThreads ? ((await cloud.emulatorThreads?.memory()) ?? []) : [];
  const data = await emulatedData(services.clients, cloud.config);
  const m: MemorySample = { t, rss: process.memoryUsage.rss(), service, headCache: services.headCacheBytes(), emulators, load: loadSample.memory, ...data };
  samples.push(m);
  const split = series(m);
  // The load's counts cover the time since the previous sample, which a slow sample stretches past sampleEveryMs.
  const seconds = t - lastSampleAt;
  lastSampleAt = t;
  console.log(
    `t=${t.toFixed(0).padStart(4)} s  ${(loadSample.ops / seconds).toFixed(0).padStart(5)} ops/s  ${(loadSample.bytes / seconds / MIB).toFixed(2).padStart(6)} MiB/s  ` +
      `p99 ${percentile(loadSample.latenciesMs, 99).toFixed(0).padStart(5)} ms  RSS ${mibOf(m.rss)} MiB = service ${mibOf(split.service)} (heap ${mibOf(split.serviceHeap)}, Buffers ${mibOf(service.arrayBuffers)} of which head cache ${mibOf(split.headCache)}) ` +
      `+ emulators ${emulators.map((e) => `${e.thread} ${mibOf(e.heapUsed + e.external)}`).join(', ') || 'on the service thread'} + load ${mibOf(split.load)} (${loadSample.recordedOps} ops recorded) + other ${mibOf(split.unaccounted)}; ` +
      `stored: S3 ${m.s3Objects} objects ${mibOf(m.s3Bytes)} MiB, DynamoDB ${m.dynamoItems} items ${mibOf(m.dynamoBytes)} MiB${events.length ? `  [${events.splice(0).join('; ')}]` : ''}`,
  );
}
const sampler = (async () => {
  for (let next = started + sampleEveryMs; next <= deadline + 1; next += sampleEveryMs) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    await sample();
    // A sample that took longer than the interval (a full collection on every thread, then a scan
    // of what the emulators store) skips the slots it overran, so sampling ends at the deadline.
    while (next + sampleEveryMs < performance.now()) next += sampleEveryMs;
  }
})();

// Checkpoints every 15 s on a partition; a replica loss every lossEveryMs; one copy job a minute in.
const chores = (async () => {
  let nextLoss = started + Math.min(lossEveryMs, durationMs / 2);
  let nextCheckpoint = started + 15_000;
  let copied = false;
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = performance.now();
    try {
      if (now >= nextCheckpoint) {
        nextCheckpoint += 15_000;
        await api('POST', `/volumes/${volumes[int(volumeCount)]}/partitions/${int(4)}/checkpoints`);
        events.push('checkpoint');
      }
      if (now >= nextLoss) {
        nextLoss += lossEveryMs;
        const replica = random() < 0.5 ? 'primary' : 'secondary';
        const t0 = performance.now();
        await api('POST', `/volumes/${volumes[int(volumeCount)]}/partitions/${int(4)}/failures`, { replica });
        events.push(`${replica} lost and rebuilt in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      if (!copied && now - started >= Math.min(60_000, durationMs / 3)) {
        copied = true;
        const t0 = performance.now();
        const snapshot = await api('POST', `/volumes/${volumes[0]}/snapshots`);
        // A copy needs the snapshot materialized first.
        while ((await api('GET', `/snapshots/${snapshot.snapshotId}`)).state !== 'completed') await new Promise((resolve) => setTimeout(resolve, 500));
        const job = await api('POST', `/snapshots/${snapshot.snapshotId}/copies`, { count: 4 });
        for (;;) {
          const state = (await api('GET', `/copy-jobs/${job.jobId}`)).state;
          if (state === 'succeeded' || state === 'failed') {
            events.push(`copy job of 4 targets ${state} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    } catch (error) {
      events.push(`chore failed: ${String(error).slice(0, 120)}`);
    }
  }
})();

await Promise.all([sampler, chores]);
const done = await loadDone;
await load.terminate();
if (events.length) console.log(`after the last line: ${events.join('; ')}`);
const fresh = createServices(cloud.config);
let verdicts = 0;
let checked = 0;
for (let v = 0; v < volumeCount; v++) {
  const history = done.histories[v] as History;
  const outcome = await servicesClient(fresh, volumes[v] as string).read(0, volumeBytes);
  if (outcome.status !== 'ok' || !outcome.data) throw new Error(`final read of ${volumes[v]}: ${outcome.status === 'ok' ? 'no data' : outcome.why}`);
  // The load's times are its thread's clock: the final read, after every op, goes after the last of them.
  const after = Math.max(0, ...history.ops.map((op) => op.completedAt ?? op.invokedAt)) + 1;
  const finalRead: Operation = { id: Math.max(-1, ...history.ops.map((op) => op.id)) + 1, client: 9999, kind: 'read', offset: 0, length: volumeBytes, invokedAt: after, completedAt: after + 1, values: readTags(outcome.data) };
  const result = checkHistory({ ops: [...history.ops, finalRead] });
  checked += result.stats.ops;
  if (result.status !== 'ok') {
    verdicts++;
    console.log(`volume ${volumes[v]}: ${result.status}\n${formatReport(result)}`);
  }
}
fresh.clients.destroy();
const memory = memoryVerdict(samples);
const allLatencies = done.latenciesMs;
const counts = done.counts;
const total = allLatencies.length;
console.log(
  `memory over the second half (MiB/min, level MiB): ${memory.trends.map((t) => `${t.name} ${(t.slope / MIB).toFixed(1)} (${(t.level / MIB).toFixed(0)})${t.plateaued ? '' : ' GROWS'}`).join('; ')}`,
);
console.log(
  `done: ${total} ops acknowledged (${counts.fail} failed, ${counts.info} unknown) in ${(durationMs / 1000).toFixed(0)} s = ${(total / (durationMs / 1000)).toFixed(0)} ops/s; ` +
    `p50 ${percentile(allLatencies, 50).toFixed(0)} ms, p99 ${percentile(allLatencies, 99).toFixed(0)} ms; ${memory.text}; ` +
    `checker: ${verdicts === 0 ? 'OK' : `${verdicts} volumes NOT ok`} on ${checked} ops`,
);
const reasons = Object.entries(done.reasons).sort((a, b) => b[1] - a[1]);
if (reasons.length) console.log(`ops not acknowledged, by reason: ${reasons.map(([why, n]) => `${n} × ${why}`).join('; ')}`);
await cloud.stop();
process.exit(verdicts === 0 ? 0 : 1);
