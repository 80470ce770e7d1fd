/**
 * `npm run bench:write-cpu`: what one acknowledged 4K random write costs the Sleds process, in
 * figures that do not depend on how busy the machine is: CPU milliseconds per write (the main
 * thread, the emulators' threads, and the rest of the process: GC helpers, the libuv pool),
 * S3 and DynamoDB requests per write (by command), and ops per write (1 / group size).
 *
 * The writes go through the real write path of the embedded cloud: by default fio's nbd engine
 * over the NBD server (fio runs in its own process, so its CPU is not counted), or with
 * --via=service straight into the process's VolumeDataService (no NBD framing).
 *
 * Flags: --via=nbd|service, --writers=N (concurrent writes; nbd: iodepth 32 x N/32 jobs; 128),
 * --seconds=N (10), --partition-chunks=N (the volume's partition size in 1 MiB chunks; the API's default when absent), --region-mib=N (random offsets over this many MiB from 0; 1024),
 * --profile[=file.cpuprofile] (a CPU profile of the main thread during the measured window,
 * summarised by function and by package; the file opens in Chrome DevTools).
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalCloud, type LocalCloud } from '../lib/local/local-cloud.js';
import type { Services } from '../lib/wiring.js';
import { GIB, KIB, MIB } from '../lib/units/sizes.js';
import { processServices } from '../lib/wiring.js';
import { SdkCallCounter, countSdkCalls, fmt, formatTable, metricsOf, processCpuMs, runClosedLoop, threadCpuMs } from './support.js';

const args = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string | undefined]));
const VIA = (args.get('via') ?? 'nbd') as 'nbd' | 'service';
const WRITERS = Number(args.get('writers') ?? 128);
const SECONDS = Number(args.get('seconds') ?? 10);
const REGION = Number(args.get('region-mib') ?? 1024) * MIB;
const PARTITION_CHUNKS = args.has('partition-chunks') ? Number(args.get('partition-chunks')) : undefined;
const PROFILE = args.has('profile') ? (args.get('profile') ?? `write-cpu-${Date.now()}.cpuprofile`) : undefined;
const BLOCK = 4 * KIB;
const VOLUME_BYTES = 2 * GIB;

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples?: readonly number[];
}

/** Where a profiled function lives, coarsely: a package, Node itself, or our own lib/ folder. */
function placeOf(url: string, functionName: string): string {
  if (url === '') return `(${functionName || 'native'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] ?? ''}`;
  const ours = /\/((?:lib|bench|functions)\/[^/]+)/.exec(url);
  return ours ? (ours[1] as string) : url;
}

/** The top entries of a profile's self time, by function and by place. */
function summarise(profile: Profile, top = 25): { byFunction: string[][]; byPlace: string[][] } {
  const total = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(lib|bench|functions)\//, '$1/');
    const name = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
    const place = placeOf(url, functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
  }
  const rows = (map: Map<string, number>) =>
    [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, hits]) => [name, `${fmt((hits / total) * 100, 1)}%`]);
  return { byFunction: rows(byFunction), byPlace: rows(byPlace) };
}

function runFio(uri: string, seconds: number): Promise<number> {
  const jobs = Math.max(1, Math.round(WRITERS / 32));
  const argv = [
    '--name=write-cpu', '--ioengine=nbd', `--uri=${uri}`, '--rw=randwrite', '--bs=4k', `--iodepth=${Math.min(32, WRITERS)}`, `--numjobs=${jobs}`,
    `--size=${REGION}`, '--time_based', `--runtime=${seconds}`, '--group_reporting', '--output-format=json',
  ];
  return new Promise((resolve, reject) => {
    execFile('fio', argv, { maxBuffer: 64 * MIB }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`fio: ${error.message}\n${stderr}`));
      const json = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { jobs: Array<{ write: { total_ios: number }; error: number }> };
      const job = json.jobs[0];
      if (!job || job.error) return reject(new Error(`fio job error ${job?.error}`));
      resolve(job.write.total_ios);
    });
  });
}

/**
 * The CPU of one bare request of the kinds a write makes (a 4 KiB item PutItem, a 4 KiB
 * PutObject), through the service's own clients at the same concurrency: the floor a write's
 * requests put under its CPU, on the main thread (the SDK, HTTP) and on the emulators' threads.
 */
async function bareRequests(cloud: LocalCloud, services: Services, seconds: number): Promise<string[][]> {
  const rows: string[][] = [];
  const body = randomBytes(BLOCK);
  const kinds: Array<[string, (n: number) => Promise<unknown>]> = [
    ['PutItem, 4 KiB item', (n) => services.clients.documents.send(new PutCommand({ TableName: cloud.config.tables.partitions, Item: { pk: `bench-write-cpu#${n % 64}`, sk: `note#${n}`, payload: body } }))],
    ['PutObject, 4 KiB', (n) => services.clients.s3.send(new PutObjectCommand({ Bucket: cloud.config.sledBuckets[n % cloud.config.sledBuckets.length], Key: `bench-write-cpu/${n % 4096}`, Body: body, ContentLength: BLOCK }))],
  ];
  for (const [name, send] of kinds) {
    let n = 0;
    await runClosedLoop(WRITERS, 1000, () => send(n++).then(() => undefined));
    const before = { proc: processCpuMs(), main: threadCpuMs(), emu: (await cloud.emulatorThreads?.cpuMs()) ?? Number.NaN };
    const loop = await runClosedLoop(WRITERS, seconds * 1000, async () => {
      await send(n++);
      return { bytes: BLOCK, latencyMs: 0 };
    });
    const count = Math.max(1, loop.ops);
    const main = (threadCpuMs() - before.main) / count;
    const emu = (((await cloud.emulatorThreads?.cpuMs()) ?? Number.NaN) - before.emu) / count;
    const proc = (processCpuMs() - before.proc) / count;
    rows.push([name, fmt(proc, 2), fmt(main, 2), fmt(emu, 2), fmt(proc - main - emu, 2)]);
  }
  return rows;
}

async function main(): Promise<void> {
  const cloud = await startLocalCloud({ port: 0, nbdPort: 0, emulatorThreads: true });
  try {
    const response = await fetch(`${cloud.apiUrl}/volumes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sizeBytes: VOLUME_BYTES, name: 'write-cpu', ...(PARTITION_CHUNKS ? { partitionChunks: PARTITION_CHUNKS } : {}) }) });
    if (response.status !== 201) throw new Error(`POST /volumes: ${response.status} ${await response.text()}`);
    const { volumeId } = (await response.json()) as { volumeId: string };
    const services = processServices();
    let counter: SdkCallCounter | undefined;
    countSdkCalls(services.clients.s3, () => counter);
    countSdkCalls(services.clients.dynamodb, () => counter);
    const payloads = Array.from({ length: 64 }, () => randomBytes(BLOCK));
    const serviceLoop = (seconds: number) =>
      runClosedLoop(WRITERS, seconds * 1000, async () => {
        const offset = randomInt(0, REGION / BLOCK) * BLOCK;
        const started = performance.now();
        await services.data.write(volumeId, offset, payloads[offset % payloads.length] as Buffer);
        return { bytes: BLOCK, latencyMs: performance.now() - started };
      });
    const drive = async (seconds: number): Promise<number> => (VIA === 'nbd' ? runFio(`${cloud.nbdUrl ?? ''}/${volumeId}`, seconds) : (await serviceLoop(seconds)).ops);
    console.log(`bench:write-cpu: 4K random writes over ${REGION / MIB} MiB via ${VIA}, ${WRITERS} in flight, ${SECONDS} s, partitions of ${PARTITION_CHUNKS ?? 'the default'} chunks; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    // Warm-up: every partition's head, the SDK's sockets, the JIT.
    await drive(3);

    counter = new SdkCallCounter();
    const metricsBefore = await metricsOf(cloud.apiUrl);
    const session = PROFILE ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
    }
    const cpu = { proc: processCpuMs(), main: threadCpuMs(), emu: (await cloud.emulatorThreads?.cpuMs()) ?? Number.NaN };
    const started = performance.now();
    const written = await drive(SECONDS);
    const wallMs = performance.now() - started;
    const used = { proc: processCpuMs() - cpu.proc, main: threadCpuMs() - cpu.main, emu: ((await cloud.emulatorThreads?.cpuMs()) ?? Number.NaN) - cpu.emu };
    const profile = session ? ((await session.post('Profiler.stop')) as { profile: Profile }).profile : undefined;
    session?.disconnect();
    const measured = counter;
    counter = undefined;
    const metricsAfter = await metricsOf(cloud.apiUrl);
    const delta = (key: string) => (metricsAfter.get(key) ?? 0) - (metricsBefore.get(key) ?? 0);
    const writes = delta('sleds_writes_total');
    const ops = delta('sleds_write_ops_total');
    const per = (value: number) => fmt(value / Math.max(1, writes), 2);
    console.log(`\n${written} writes acknowledged (${fmt(written / (wallMs / 1000), 0)}/s), ${writes} counted by the service as ${ops} ops in ${fmt(wallMs / 1000, 1)} s`);
    console.log(formatTable(['per acknowledged write', 'value'], [
      ['CPU ms, whole process', per(used.proc)],
      ['  main thread (head nodes, NBD server, SDK)', per(used.main)],
      ['  emulator threads (fauxqs, dynalite)', per(used.emu)],
      ['  rest of the process (GC helpers, libuv pool)', per(used.proc - used.main - used.emu)],
      ['ops (1 / mean group size)', per(ops)],
      ['S3 requests', per([...measured.calls].filter(([name]) => /Object|Bucket/.test(name)).reduce((sum, [, n]) => sum + n, 0))],
      ['DynamoDB requests', per([...measured.calls].filter(([name]) => !/Object|Bucket/.test(name)).reduce((sum, [, n]) => sum + n, 0))],
      ...[...measured.calls].sort((a, b) => b[1] - a[1]).map(([name, n]) => [`  ${name}`, per(n)]),
    ]));
    console.log(`CPU share of the window: process ${fmt((used.proc / wallMs) * 100, 0)}%, main thread ${fmt((used.main / wallMs) * 100, 0)}%, emulators ${fmt((used.emu / wallMs) * 100, 0)}% of a core`);
    if (profile) {
      await writeFile(PROFILE as string, JSON.stringify(profile));
      const { byFunction, byPlace } = summarise(profile);
      console.log(`\nMain thread CPU profile (${PROFILE}), self time:\n`);
      console.log(formatTable(['by package / folder', 'share'], byPlace));
      console.log('');
      console.log(formatTable(['by function', 'share'], byFunction));
    }
    if (!args.has('no-bare')) {
      console.log(`\nOne bare request of each kind a write makes (same clients, ${WRITERS} in flight), CPU ms per request:\n`);
      console.log(formatTable(['request', 'process', 'main thread', 'emulators', 'rest'], await bareRequests(cloud, services, 4)));
    }
  } finally {
    await cloud.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('bench:write-cpu failed:', error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
