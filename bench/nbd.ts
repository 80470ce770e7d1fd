/**
 * `npm run bench:nbd`: Sleds volumes as NBD disks under fio's nbd engine, against peers on the
 * same machine in the same run: nbdkit's memory plugin (the protocol's ceiling here) and
 * nbdkit's S3 plugin (python, boto3, object-size=64K, blocksize filter) over the SAME fauxqs the
 * Sleds run uses; s3backer when it can run (Debian's 1.5.4 is FUSE only: fio then drives the
 * file it exposes with libaio). A raw PutObject baseline (the same 1 MiB bytes to two sleds)
 * is measured beside the 1M sequential writes.
 *
 * Two embedded clouds, one after the other: the "hot" one with the default head cache
 * (SLEDS_HEAD_CACHE_MIB, 256 MiB) for every case but the cold reads, and the "cold" one with a
 * 64 MiB head cache for 4K random reads over a 256 MiB working set (4x the cache). The S3 peer
 * runs over each cloud's fauxqs in turn.
 *
 * Flags: --seconds=N (fio runtime per case per system, default 20), --quick (5 s per case and
 * smaller prefills), --no-s3backer, --cases=randwrite,hotread,coldread,seqwrite,seqread.
 * The exit code is 1 only when a system fails to run (fio error), never on a slow figure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createAwsClients } from '../lib/aws/clients.js';
import { DEFAULT_HEAD_CACHE_MIB } from '../lib/config.js';
import { startLocalCloud, type LocalCloud } from '../lib/local/local-cloud.js';
import { journalSleds } from '../lib/sleds/placement.js';
import { GIB, MIB } from '../lib/units/sizes.js';
import { fmt, formatTable, metricsOf, percentile, processCpuMs, runClosedLoop } from './support.js';

const args = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string | undefined]));
const QUICK = args.has('quick');
const SECONDS = Number(args.get('seconds') ?? (QUICK ? 5 : 20));
const COLD_CACHE_MIB = 64;
const HOT_SET = QUICK ? 64 * MIB : 128 * MIB;
const COLD_SET = 4 * COLD_CACHE_MIB * MIB;
const VOLUME_BYTES = 2 * GIB;
const RANDWRITE_REGION = GIB;
const SEQ_REGION = GIB;
const SEQ_READ_SET = QUICK ? 128 * MIB : 256 * MIB;
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1' };

type CaseName = 'randwrite' | 'hotread' | 'coldread' | 'seqwrite' | 'seqread';
const CASE_NAMES: readonly CaseName[] = ['randwrite', 'hotread', 'coldread', 'seqwrite', 'seqread'];
const SELECTED = new Set((args.get('cases')?.split(',') ?? CASE_NAMES) as CaseName[]);

interface FioCase {
  readonly name: CaseName;
  readonly title: string;
  readonly rw: 'randwrite' | 'randread' | 'write' | 'read';
  readonly bs: string;
  readonly iodepth: number;
  readonly numjobs: number;
  /** Bytes of the region the case touches, from offset 0. */
  readonly region: number;
  /** Bytes to write (1M sequential) before the case, so that reads find data. */
  readonly prefill: number;
}

const CASES: readonly FioCase[] = [
  { name: 'randwrite', title: '4K randwrite 1GiB qd32x4', rw: 'randwrite', bs: '4k', iodepth: 32, numjobs: 4, region: RANDWRITE_REGION, prefill: 0 },
  { name: 'hotread', title: `4K randread hot ${HOT_SET / MIB}MiB qd32x4`, rw: 'randread', bs: '4k', iodepth: 32, numjobs: 4, region: HOT_SET, prefill: HOT_SET },
  { name: 'coldread', title: `4K randread cold ${COLD_SET / MIB}MiB qd32x4`, rw: 'randread', bs: '4k', iodepth: 32, numjobs: 4, region: COLD_SET, prefill: COLD_SET },
  { name: 'seqwrite', title: '1M seq write qd8', rw: 'write', bs: '1m', iodepth: 8, numjobs: 1, region: SEQ_REGION, prefill: 0 },
  // Over a region every system has written whole first: reads of never-written ranges cost some systems nothing.
  { name: 'seqread', title: `1M seq read ${SEQ_READ_SET / MIB}MiB qd8`, rw: 'read', bs: '1m', iodepth: 8, numjobs: 1, region: SEQ_READ_SET, prefill: SEQ_READ_SET },
];

/** One system's figures for one case. */
interface Figures {
  readonly iops: number;
  readonly mibps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly note?: string;
}

type SystemName = 'sleds' | 'nbdkit-memory' | 'nbdkit-s3' | 's3backer' | 'raw-put-2-sleds';
const results = new Map<CaseName, Map<SystemName, Figures>>();
const failures: string[] = [];
const diagnostics = new Map<CaseName, string[]>();

function record(name: CaseName, system: SystemName, figures: Figures): void {
  if (!results.has(name)) results.set(name, new Map());
  results.get(name)?.set(system, figures);
}

// ---------------------------------------------------------------- processes

function runTool(binary: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, argv, { env, timeout: timeoutMs, maxBuffer: 256 * MIB, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${binary} ${argv.join(' ')}: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, binary)));
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, child?: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (child && child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`${what}: not ready in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  return exited;
}

/** A peer nbdkit on a Unix socket, in the foreground, ended with the bench. */
async function startNbdkit(socket: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; uri: string; output: () => string }> {
  const child = spawn('nbdkit', ['-f', '-U', socket, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitFor(`nbdkit ${argv[0] ?? ''}`, () => existsSync(socket), child);
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${output}`, { cause: error });
  }
  return { child, uri: `nbd+unix:///?socket=${socket}`, output: () => output };
}

// ---------------------------------------------------------------- fio

interface FioJob {
  readonly target: { kind: 'nbd'; uri: string } | { kind: 'file'; path: string };
  readonly rw: FioCase['rw'];
  readonly bs: string;
  readonly iodepth: number;
  readonly numjobs: number;
  readonly size: number;
  readonly seconds?: number;
}

interface FioLatency {
  readonly percentile?: Record<string, number>;
}

interface FioSide {
  readonly iops: number;
  readonly bw_bytes: number;
  readonly clat_ns?: FioLatency;
  readonly lat_ns?: FioLatency;
}

async function fio(job: FioJob): Promise<Figures> {
  const argv = [
    '--name=bench',
    `--rw=${job.rw}`,
    `--bs=${job.bs}`,
    `--iodepth=${job.iodepth}`,
    `--numjobs=${job.numjobs}`,
    `--size=${job.size}`,
    '--group_reporting',
    '--output-format=json',
    '--percentile_list=50:99',
    ...(job.seconds ? ['--time_based', `--runtime=${job.seconds}`, '--ramp_time=1'] : []),
    ...(job.target.kind === 'nbd'
      ? ['--ioengine=nbd', `--uri=${job.target.uri}`]
      : ['--ioengine=libaio', '--direct=1', `--filename=${job.target.path}`]),
  ];
  const out = await runTool('fio', argv);
  const json = JSON.parse(out.slice(out.indexOf('{'))) as { jobs: Array<{ read: FioSide; write: FioSide; error: number }> };
  const first = json.jobs[0];
  if (!first) throw new Error('fio printed no job');
  if (first.error) throw new Error(`fio job error ${first.error}`);
  const side = job.rw === 'randread' || job.rw === 'read' ? first.read : first.write;
  const pct = side.clat_ns?.percentile ?? {};
  const at = (p: string) => (pct[p] ?? Number.NaN) / 1e6;
  return { iops: side.iops, mibps: side.bw_bytes / MIB, p50Ms: at('50.000000'), p99Ms: at('99.000000') };
}

/** Writes [0, bytes) with 1M sequential writes so that reads find data. */
async function prefill(target: FioJob['target'], bytes: number): Promise<void> {
  if (bytes > 0) await fio({ target, rw: 'write', bs: '1m', iodepth: 8, numjobs: 1, size: bytes });
}

// ---------------------------------------------------------------- Sleds' own figures

function describeMetrics(before: Map<string, number>, after: Map<string, number>, write: boolean): string[] {
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const lines: string[] = [];
  const kind = write ? 'write' : 'read';
  const count = delta(`sleds_${kind}_latency_seconds_count`);
  const sum = delta(`sleds_${kind}_latency_seconds_sum`);
  lines.push(`sleds ${kind} requests served: ${count}, mean service latency ${fmt((sum / Math.max(1, count)) * 1000)} ms (inside Sleds, excluding NBD framing)`);
  const buckets = [...after.keys()]
    .filter((k) => k.startsWith(`sleds_${kind}_latency_seconds_bucket{`))
    .map((k) => ({ le: k.slice(k.indexOf('{') + 1, -1), n: delta(k) }));
  if (buckets.length > 0 && count > 0) {
    const shown = buckets.filter((b) => b.n > 0 && b.n < count).map((b) => `≤${b.le}s:${fmt((b.n / count) * 100, 0)}%`);
    lines.push(`  ${kind} latency histogram (cumulative): ${shown.join(' ') || 'all in one bucket'}`);
  }
  if (write) {
    const ops = delta('sleds_write_ops_total');
    const writes = delta('sleds_writes_total');
    const groupCount = delta('sleds_group_size_count');
    const groupSum = delta('sleds_group_size_sum');
    lines.push(`  ${writes} writes committed as ${ops} ops (both replicas); mean group size ${fmt(groupSum / Math.max(1, groupCount))}; flushes ${delta('sleds_flushes_total')}`);
  }
  return lines;
}

// ---------------------------------------------------------------- raw PutObject to two sleds

async function rawPutToTwoSleds(cloud: LocalCloud, seconds: number): Promise<Figures> {
  const clients = createAwsClients(cloud.config);
  const buckets = cloud.config.sledBuckets;
  const payloads = Array.from({ length: 8 }, () => randomBytes(MIB));
  let seq = 0;
  const loop = await runClosedLoop(8, seconds * 1000, async (worker) => {
    const n = seq++;
    const [a, b] = journalSleds(`raw-${worker}`, n % 64, buckets.length);
    const body = payloads[n % payloads.length] as Buffer;
    const started = performance.now();
    await Promise.all(
      [a, b].map((sled) =>
        clients.s3.send(new PutObjectCommand({ Bucket: buckets[sled], Key: `bench-nbd-raw/${worker}/${n % 1024}`, Body: body, ContentLength: body.length })),
      ),
    );
    return { bytes: MIB, latencyMs: performance.now() - started };
  });
  const windowS = loop.windowMs / 1000;
  return { iops: loop.ops / windowS, mibps: loop.bytes / MIB / windowS, p50Ms: percentile(loop.latenciesMs, 50), p99Ms: percentile(loop.latenciesMs, 99) };
}

// ---------------------------------------------------------------- the systems

interface Target {
  readonly system: SystemName;
  readonly target: FioJob['target'];
}

async function runCase(c: FioCase, targets: readonly Target[], cloud: LocalCloud): Promise<void> {
  for (const { system, target } of targets) {
    try {
      if (c.prefill > 0) await prefill(target, c.prefill);
      const before = system === 'sleds' ? await metricsOf(cloud.apiUrl) : undefined;
      const cpuBefore = system === 'sleds' ? { proc: processCpuMs(), emu: (await cloud.emulatorThreads?.cpuMs()) ?? Number.NaN } : undefined;
      const figures = await fio({ target, rw: c.rw, bs: c.bs, iodepth: c.iodepth, numjobs: c.numjobs, size: c.region, seconds: SECONDS });
      record(c.name, system, figures);
      console.log(`  ${c.title.padEnd(30)} ${system.padEnd(16)} ${fmt(figures.iops, 0).padStart(7)} IOPS ${fmt(figures.mibps).padStart(7)} MiB/s  p50 ${fmt(figures.p50Ms)} ms  p99 ${fmt(figures.p99Ms)} ms`);
      if (before && cpuBefore) {
        const after = await metricsOf(cloud.apiUrl);
        const lines = describeMetrics(before, after, c.rw === 'randwrite' || c.rw === 'write');
        const emu = ((await cloud.emulatorThreads?.cpuMs()) ?? Number.NaN) - cpuBefore.emu;
        const proc = processCpuMs() - cpuBefore.proc;
        const wall = (SECONDS + 1) * 1000;
        lines.push(
          `  CPU during the case (${SECONDS + 1} s incl. ramp): Sleds process ${fmt((proc / wall) * 100, 0)}% of a core, of which emulator threads (fauxqs, dynalite) ${fmt((emu / wall) * 100, 0)}%; ` +
            `the rest is the API/NBD thread (Sleds' head nodes and the NBD server). ${os.cpus().length} cores shared with fio and the peers.`,
        );
        diagnostics.set(c.name, lines);
      }
    } catch (error) {
      failures.push(`${c.name} on ${system}: ${(error as Error).message.split('\n').slice(0, 4).join(' | ')}`);
      console.log(`  ${c.title.padEnd(30)} ${system.padEnd(16)} FAILED (${(error as Error).message.split('\n')[0]})`);
    }
  }
}

/** The S3 peer's bucket on the cloud's fauxqs, and nbdkit S3 over it. */
async function startS3Peer(cloud: LocalCloud, dir: string, bucket: string): Promise<{ child: ChildProcess; uri: string }> {
  const clients = createAwsClients(cloud.config);
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const endpoint = cloud.config.endpoints.s3;
  if (!endpoint) throw new Error('the embedded cloud has no S3 endpoint');
  return startNbdkit(
    join(dir, `${bucket}.sock`),
    ['--filter=blocksize', 'S3', `endpoint-url=${endpoint}`, `bucket=${bucket}`, 'key=disk', `size=${VOLUME_BYTES}`, 'object-size=64K'],
    { ...process.env, ...CREDENTIALS },
  );
}

/** s3backer (FUSE only in Debian's 1.5.4) over the cloud's fauxqs: a file fio drives with libaio. */
async function startS3backer(cloud: LocalCloud, dir: string): Promise<{ file: string; stop: () => Promise<void> } | string> {
  if (!onPath('s3backer')) return 's3backer is not installed (apt-get install -y s3backer)';
  const clients = createAwsClients(cloud.config);
  const bucket = 'bench-s3backer';
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const mount = join(dir, 's3backer');
  await mkdir(mount, { recursive: true });
  const endpoint = `${cloud.config.endpoints.s3 ?? ''}/`;
  const child = spawn(
    's3backer',
    ['-f', `--baseURL=${endpoint}`, '--accessId=bench', '--accessKey=bench', '--blockSize=64k', `--size=${VOLUME_BYTES}`, '--listBlocks', '--timeout=10', bucket, mount],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitFor('s3backer', () => existsSync(join(mount, 'file')), child, 15_000);
    // A first real I/O: s3backer mounts even when every request to the endpoint then fails.
    await runTool('dd', [`if=${join(mount, 'file')}`, 'of=/dev/null', 'bs=64k', 'count=1', 'iflag=direct'], process.env, 20_000);
  } catch (error) {
    await runTool('fusermount3', ['-u', mount]).catch(() => runTool('fusermount', ['-u', mount]).catch(() => ''));
    await stopChild(child);
    return `s3backer could not run here: ${(error as Error).message.split('\n')[0]} ${output.trim().split('\n').slice(-3).join(' | ')}`;
  }
  return {
    file: join(mount, 'file'),
    stop: async () => {
      await runTool('fusermount3', ['-u', mount]).catch(() => runTool('fusermount', ['-u', mount]).catch(() => ''));
      await stopChild(child);
    },
  };
}

async function createVolume(apiUrl: string, name: string): Promise<string> {
  const response = await fetch(`${apiUrl}/volumes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sizeBytes: VOLUME_BYTES, name }),
  });
  if (response.status !== 201) throw new Error(`POST /volumes: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { volumeId: string }).volumeId;
}

/** One embedded cloud with the given head cache, its Sleds volume, the S3 peer (and s3backer) over its fauxqs, the cases. */
async function phase(label: string, headCacheMib: number, cases: readonly FioCase[], memory: Target, dir: string): Promise<void> {
  if (cases.length === 0) return;
  // No runner.warm(): the bench starts no copy job, and the state machine's synth would take CPU from the first case.
  const cloud = await startLocalCloud({ port: 0, nbdPort: 0, headCacheMib, emulatorThreads: true });
  const peers: Array<{ stop: () => Promise<void> }> = [];
  try {
    const volumeId = await createVolume(cloud.apiUrl, `bench-nbd-${label}`);
    const s3 = await startS3Peer(cloud, dir, `bench-nbd-${label}`);
    peers.push({ stop: () => stopChild(s3.child) });
    console.log(`\n[${label}] embedded cloud, head cache ${headCacheMib} MiB, volume ${volumeId} (${VOLUME_BYTES / GIB} GiB) at ${cloud.nbdUrl ?? '?'}; S3 peer over ${cloud.config.endpoints.s3 ?? '?'}`);
    const targets: Target[] = [
      { system: 'sleds', target: { kind: 'nbd', uri: `${cloud.nbdUrl ?? ''}/${volumeId}` } },
      memory,
      { system: 'nbdkit-s3', target: { kind: 'nbd', uri: s3.uri } },
    ];
    if (!args.has('no-s3backer') && label === 'hot') {
      const backer = await startS3backer(cloud, dir);
      if (typeof backer === 'string') {
        s3backerNote = backer;
        console.log(`  ${backer}`);
      } else {
        peers.push(backer);
        targets.push({ system: 's3backer', target: { kind: 'file', path: backer.file } });
      }
    }
    for (const c of cases) {
      await runCase(c, targets, cloud);
      if (c.name === 'seqwrite') {
        const raw = await rawPutToTwoSleds(cloud, SECONDS);
        record(c.name, 'raw-put-2-sleds', raw);
        console.log(`  ${c.title.padEnd(30)} ${'raw-put-2-sleds'.padEnd(16)} ${fmt(raw.iops, 0).padStart(7)} IOPS ${fmt(raw.mibps).padStart(7)} MiB/s  p50 ${fmt(raw.p50Ms)} ms  p99 ${fmt(raw.p99Ms)} ms`);
      }
    }
  } finally {
    for (const peer of peers.reverse()) await peer.stop().catch(() => undefined);
    await cloud.stop();
  }
}

let s3backerNote: string | undefined;

// ---------------------------------------------------------------- the report

function ratio(a: number | undefined, b: number | undefined): number {
  return a !== undefined && b !== undefined && b > 0 ? a / b : Number.NaN;
}

function report(): boolean {
  const systems: SystemName[] = ['sleds', 'nbdkit-memory', 'nbdkit-s3', 's3backer', 'raw-put-2-sleds'];
  const rows: string[][] = [];
  for (const c of CASES) {
    const byCase = results.get(c.name);
    if (!byCase) continue;
    const sleds = byCase.get('sleds');
    for (const system of systems) {
      const f = byCase.get(system);
      if (!f) continue;
      const vs = system === 'sleds' ? '' : fmt(ratio(c.bs === '1m' ? sleds?.mibps : sleds?.iops, c.bs === '1m' ? f.mibps : f.iops));
      rows.push([c.title, system, fmt(f.iops, 0), fmt(f.mibps), fmt(f.p50Ms), fmt(f.p99Ms), vs]);
    }
  }
  console.log(`\nResults (${SECONDS} s per case per system; fio clat percentiles; raw-put latency is both PUTs):\n`);
  console.log(formatTable(['case', 'system', 'IOPS', 'MiB/s', 'p50 ms', 'p99 ms', 'Sleds ÷ this'], rows));
  console.log('(Sleds ÷ this: IOPS for 4K cases, MiB/s for 1M cases; higher is better for Sleds.)');

  const get = (name: CaseName, system: SystemName) => results.get(name)?.get(system);
  const targets = [
    { name: 'randwrite' as const, what: '4K random write IOPS ≥ 10× nbdkit S3', value: ratio(get('randwrite', 'sleds')?.iops, get('randwrite', 'nbdkit-s3')?.iops), goal: 10 },
    { name: 'hotread' as const, what: 'hot 4K random read IOPS ≥ 10× nbdkit S3', value: ratio(get('hotread', 'sleds')?.iops, get('hotread', 'nbdkit-s3')?.iops), goal: 10 },
    { name: 'coldread' as const, what: 'cold 4K random read IOPS ≥ 2× nbdkit S3', value: ratio(get('coldread', 'sleds')?.iops, get('coldread', 'nbdkit-s3')?.iops), goal: 2 },
    { name: 'seqwrite' as const, what: '1M sequential write MiB/s ≥ 2× nbdkit S3', value: ratio(get('seqwrite', 'sleds')?.mibps, get('seqwrite', 'nbdkit-s3')?.mibps), goal: 2 },
    { name: 'seqread' as const, what: '1M sequential read MiB/s ≥ 2× nbdkit S3', value: ratio(get('seqread', 'sleds')?.mibps, get('seqread', 'nbdkit-s3')?.mibps), goal: 2 },
    { name: 'seqwrite' as const, what: '1M sequential write MiB/s ≥ 0.7 × raw PutObject to two sleds', value: ratio(get('seqwrite', 'sleds')?.mibps, get('seqwrite', 'raw-put-2-sleds')?.mibps), goal: 0.7 },
  ].filter((t) => SELECTED.has(t.name));
  console.log('\nTargets:');
  const missed = new Set<CaseName>();
  for (const t of targets) {
    const met = Number.isFinite(t.value) && t.value >= t.goal;
    if (!met) missed.add(t.name);
    console.log(`  ${met ? 'yes' : 'NO '}  ${t.what}: ${fmt(t.value)}×`);
  }
  if (missed.size > 0) {
    console.log('\nWhere the time goes (cases with a missed target; Sleds metrics deltas over the case from GET /metrics):');
    for (const name of missed) {
      console.log(`  ${name}:`);
      for (const line of diagnostics.get(name) ?? ['  (no figures)']) console.log(`  ${line}`);
    }
  }
  if (s3backerNote) console.log(`\ns3backer: ${s3backerNote}`);
  console.log(
    `\nMachine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end; everything (Sleds, its emulators, nbdkit, fio) shares them, so absolute figures are noisy; compare ratios within this run.`,
  );
  if (failures.length > 0) {
    console.log('\nFailures:');
    for (const f of failures) console.log(`  ${f}`);
  }
  return failures.length === 0;
}

async function main(): Promise<void> {
  const missing = ['fio', 'nbdkit'].filter((b) => !onPath(b));
  if (missing.length > 0) {
    console.error(`bench:nbd needs ${missing.join(', ')}: apt-get install -y fio nbdkit nbdkit-plugin-python python3-boto3 s3backer`);
    process.exit(1);
  }
  const dir = await mkdtemp(join(tmpdir(), 'sleds-bench-nbd-'));
  const started = performance.now();
  console.log(
    `bench:nbd: fio ${SECONDS} s per case per system${QUICK ? ' (--quick)' : ''}; Sleds on the embedded cloud (emulator threads on), volume ${VOLUME_BYTES / GIB} GiB; ` +
      `hot reads over ${HOT_SET / MIB} MiB with the default ${DEFAULT_HEAD_CACHE_MIB} MiB head cache; cold reads over ${COLD_SET / MIB} MiB with a ${COLD_CACHE_MIB} MiB head cache (4×).`,
  );
  const memory = await startNbdkit(join(dir, 'memory.sock'), ['memory', `${VOLUME_BYTES}`]);
  try {
    const memoryTarget: Target = { system: 'nbdkit-memory', target: { kind: 'nbd', uri: memory.uri } };
    const chosen = CASES.filter((c) => SELECTED.has(c.name));
    await phase('hot', DEFAULT_HEAD_CACHE_MIB, chosen.filter((c) => c.name !== 'coldread'), memoryTarget, dir);
    await phase('cold', COLD_CACHE_MIB, chosen.filter((c) => c.name === 'coldread'), memoryTarget, dir);
  } finally {
    await stopChild(memory.child);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  const ok = report();
  console.log(`\ndone in ${fmt((performance.now() - started) / 1000, 0)} s`);
  process.exit(ok ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error('bench:nbd failed:', error instanceof Error ? error.stack : error);
  process.exit(1);
});
