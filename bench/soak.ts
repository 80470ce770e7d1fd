import { parseArgs } from 'node:util';
import { startLocalCloud } from '../lib/local/local-cloud.js';
import { createServices } from '../lib/wiring.js';
import { checkHistory, formatReport, HistoryRecorder, taggedPayload } from '../test/support/history/index.js';
import { nbdClient, servicesClient } from '../test/support/torture/clients.js';
import { percentile } from './support.js';

/**
 * npm run bench:soak -- [--minutes=10] [--replica-loss-every=120] [--connections=64] [--volumes=8]
 * A soak of the embedded cloud in this process: NBD connections spread over volumes, each
 * writing tagged blocks and reading back, with automatic flushes, a checkpoint every 15 s, a
 * replica loss every few minutes and a copy job. Prints a line every 10 s (throughput, p99,
 * RSS and heap of this process, which serves everything), then the slope of RSS over the
 * second half and the linearizability checker's verdict on every volume's whole history.
 */
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'replica-loss-every': { type: 'string', default: '120' },
    connections: { type: 'string', default: '64' },
    volumes: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
  },
});
const MIB = 1024 * 1024;
const BLOCK = 4096;
const durationMs = Number(values.minutes) * 60_000;
const lossEveryMs = Number(values['replica-loss-every']) * 1000;
const connections = Number(values.connections);
const volumeCount = Number(values.volumes);
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

const cloud = await startLocalCloud({ port: 0, nbdPort: 0, sledCount: 4, warmBeforeOpen: true });
const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${cloud.apiUrl}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as { volumeId: string; snapshotId: string; jobId: string; state: string };
};
const nbdPort = Number(new URL(cloud.nbdUrl ?? '').port);
const volumes: string[] = [];
for (let v = 0; v < volumeCount; v++) volumes.push((await api("POST", "/volumes", { sizeBytes: volumeBytes, chunkSizeBytes, partitionChunks })).volumeId);
const recorders = volumes.map(() => new HistoryRecorder());
console.log(`soak: ${connections} NBD connections over ${volumeCount} volumes of ${volumeBytes / MIB} MiB (4 partitions), ${values.minutes} min, a replica loss every ${lossEveryMs / 1000} s; cloud defaults (flush every 64 ops, lease 3000 ms)`);

const started = performance.now();
const deadline = started + durationMs;
let intervalOps = 0;
let intervalBytes = 0;
let intervalLatencies: number[] = [];
const allLatencies: number[] = [];
const counts = { ok: 0, fail: 0, info: 0 };
const events: string[] = [];

const workers = Array.from({ length: connections }, async (_, c) => {
  const v = c % volumeCount;
  const volumeId = volumes[v] as string;
  const recorder = recorders[v] as HistoryRecorder;
  const client = nbdClient(nbdPort, volumeId, 60_000);
  let seq = 0;
  while (performance.now() < deadline) {
    const length = (1 + (random() < 0.8 ? int(4) : int(16))) * BLOCK;
    const offset = int((volumeBytes - length) / BLOCK + 1) * BLOCK;
    const write = random() < 0.5;
    const t0 = performance.now();
    let id: number;
    let outcome;
    if (write) {
      const { buf, values: tags } = taggedPayload(c, ++seq, offset, length);
      id = recorder.invoke(c, { kind: 'write', offset, length, values: tags });
      outcome = await client.write(offset, buf);
    } else {
      id = recorder.invoke(c, { kind: 'read', offset, length });
      outcome = await client.read(offset, length);
    }
    const ms = performance.now() - t0;
    if (outcome.status === 'ok') {
      if (write) recorder.ok(id);
      else recorder.ok(id, outcome.data);
      intervalOps++;
      intervalBytes += length;
      intervalLatencies.push(ms);
      allLatencies.push(ms);
    } else if (outcome.status === 'fail') recorder.fail(id);
    else recorder.info(id);
    counts[outcome.status]++;
  }
  await client.close();
});

const samples: Array<{ t: number; rss: number; heap: number }> = [];
const ticker = setInterval(() => {
  const t = (performance.now() - started) / 1000;
  const { rss, heapUsed } = process.memoryUsage();
  samples.push({ t, rss, heap: heapUsed });
  const p99 = percentile(intervalLatencies, 99);
  console.log(
    `t=${t.toFixed(0).padStart(4)} s  ${(intervalOps / 10).toFixed(0).padStart(5)} ops/s  ${(intervalBytes / 10 / MIB).toFixed(2).padStart(6)} MiB/s  p99 ${p99.toFixed(0).padStart(5)} ms  ` +
      `RSS ${(rss / MIB).toFixed(0)} MiB  heap ${(heapUsed / MIB).toFixed(0)} MiB${events.length ? `  [${events.splice(0).join('; ')}]` : ''}`,
  );
  intervalOps = 0;
  intervalBytes = 0;
  intervalLatencies = [];
}, 10_000);

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

await Promise.all([...workers, chores]);
clearInterval(ticker);
if (events.length) console.log(`after the last line: ${events.join('; ')}`);
const fresh = createServices(cloud.config);
let verdicts = 0;
let checked = 0;
for (let v = 0; v < volumeCount; v++) {
  const recorder = recorders[v] as HistoryRecorder;
  const final = servicesClient(fresh, volumes[v] as string);
  const id = recorder.invoke(9999, { kind: 'read', offset: 0, length: volumeBytes });
  const outcome = await final.read(0, volumeBytes);
  if (outcome.status !== 'ok') throw new Error(`final read of ${volumes[v]}: ${outcome.why}`);
  recorder.ok(id, outcome.data);
  const result = checkHistory(recorder.history());
  checked += result.stats.ops;
  if (result.status !== 'ok') {
    verdicts++;
    console.log(`volume ${volumes[v]}: ${result.status}\n${formatReport(result)}`);
  }
}
fresh.clients.destroy();
const half = samples.filter((s) => s.t >= durationMs / 2000);
const slope = (key: 'rss' | 'heap') => {
  const n = half.length;
  if (n < 2) return NaN;
  const mt = half.reduce((a, s) => a + s.t, 0) / n;
  const mv = half.reduce((a, s) => a + s[key], 0) / n;
  const num = half.reduce((a, s) => a + (s.t - mt) * (s[key] - mv), 0);
  const den = half.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return ((num / den) * 60) / MIB; // MiB per minute
};
const total = allLatencies.length;
console.log(
  `done: ${total} ops acknowledged (${counts.fail} failed, ${counts.info} unknown) in ${(durationMs / 1000).toFixed(0)} s = ${(total / (durationMs / 1000)).toFixed(0)} ops/s; ` +
    `p50 ${percentile(allLatencies, 50).toFixed(0)} ms, p99 ${percentile(allLatencies, 99).toFixed(0)} ms; ` +
    `RSS slope over the second half ${slope('rss').toFixed(1)} MiB/min, heap slope ${slope('heap').toFixed(1)} MiB/min; ` +
    `checker: ${verdicts === 0 ? 'OK' : `${verdicts} volumes NOT ok`} on ${checked} ops`,
);
await cloud.stop();
process.exit(verdicts === 0 ? 0 : 1);
