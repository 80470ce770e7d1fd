/**
 * `npm run bench:write`: the Sleds write path against the bare minimum call sequence per
 * write (two payload PutObject calls, two conditional PutItem calls), both on the same
 * embedded emulators in the same run, interleaved round by round so machine noise hits both.
 *
 * Flags: --quick (short rounds), --seconds=N or BENCH_SECONDS=N (write seconds per side per
 * case), --in-process (run the emulators on the bench's own thread instead of a worker),
 * --cases=64KiBx1,1MiBx16 (run only these cases; for profiling), --verbose (print every round),
 * --head-cache (keep the embedded cloud's head cache on: reads of notes not yet flushed
 * then come from memory, and the read figures stop measuring the object read path).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createAwsClients, type AwsClients } from '../lib/aws/clients.js';
import { opSk } from '../lib/aws/partitions-table-schema.js';
import { DEFAULT_HEAD_CACHE_MIB, type ServiceConfig } from '../lib/config.js';
import { startLocalCloud, type LocalCloud } from '../lib/local/local-cloud.js';
import { journalSleds } from '../lib/sleds/placement.js';
import { GIB, KIB, MIB } from '../lib/units/sizes.js';
import { createServices, type Services } from '../lib/wiring.js';
import {
  SdkCallCounter,
  countSdkCalls,
  fmt,
  formatTable,
  median,
  mergeLoops,
  percentile,
  processCpuMs,
  runClosedLoop,
  threadCpuMs,
  type LoopResult,
} from './support.js';

const CLOUD_ROLE = 'sleds-bench-cloud';
const SLED_COUNT = 8;
const VOLUME = { sizeBytes: GIB, chunkSizeBytes: MIB, partitionChunks: 16 } as const;
const PARTITION_BYTES = VOLUME.chunkSizeBytes * VOLUME.partitionChunks;
const PARTITIONS = VOLUME.sizeBytes / PARTITION_BYTES;
const BLOCK = 4 * KIB;
const PAYLOAD_POOL = 16;
/** One read in this many is checked byte for byte, on both sides alike. */
const VERIFY_EVERY = 4;
const TARGET = 0.7;
const MAX_REPORTED_FAILURES = 5;

const CASES = [
  { ioBytes: 64 * KIB, writers: 1 },
  { ioBytes: 64 * KIB, writers: 16 },
  { ioBytes: MIB, writers: 1 },
  { ioBytes: MIB, writers: 16 },
] as const;

type BenchCase = (typeof CASES)[number];
type SideName = 'sleds' | 'baseline';

interface Options {
  readonly writeSeconds: number;
  readonly readSeconds: number;
  readonly rounds: number;
  readonly inProcess: boolean;
  readonly cases: readonly BenchCase[];
  readonly verbose: boolean;
  readonly headCache: boolean;
}

/** Where the emulators run and how busy their thread is. */
interface CloudHost {
  readonly config: ServiceConfig;
  readonly where: string;
  /** CPU milliseconds used so far by the emulators' thread; absent when it is the bench's own. */
  readonly emulatorCpuMs?: () => Promise<number>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- the emulators' thread

/** Worker entry: starts the embedded cloud, reports its config, stops it on request. */
async function serveCloudInWorker(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the cloud worker needs a parent port');
  const cloud: LocalCloud = await startLocalCloud({ port: 0, sledCount: SLED_COUNT });
  port.on('message', (message: unknown) => {
    if (message === 'cpu') port.postMessage({ cpuMs: threadCpuMs() });
    if (message !== 'stop') return;
    void cloud.stop().then(() => {
      port.postMessage({ stopped: true });
      port.close();
    });
  });
  port.postMessage({ config: cloud.config });
}

async function startCloud(inProcess: boolean): Promise<CloudHost> {
  if (inProcess) {
    const cloud = await startLocalCloud({ port: 0, sledCount: SLED_COUNT });
    return { config: cloud.config, where: 'on the bench thread (shares its event loop with the clients)', stop: () => cloud.stop() };
  }
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: CLOUD_ROLE } });
  const config = await new Promise<ServiceConfig>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (message: { config: ServiceConfig }) => resolve(message.config));
  });
  return {
    config,
    where: 'in a worker thread of the bench process (its own event loop)',
    // One question at a time (the bench awaits each), so the next reply is the answer.
    emulatorCpuMs: () =>
      new Promise<number>((resolve) => {
        worker.once('message', (message: { cpuMs: number }) => resolve(message.cpuMs));
        worker.postMessage('cpu');
      }),
    async stop() {
      const stopped = new Promise<void>((resolve) => worker.once('message', () => resolve()));
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}

// ---------------------------------------------------------------- per-side bookkeeping

/** Payloads: a pool of random buffers, each copy stamped with its write's sequence number in every block. */
class Payloads {
  private readonly pool: Buffer[];

  constructor(readonly ioBytes: number) {
    this.pool = Array.from({ length: PAYLOAD_POOL }, () => randomBytes(ioBytes));
  }

  /** The bytes of write `seq`: unique per write, so a stale or misplaced read cannot pass. */
  make(seq: number): Buffer {
    const buffer = Buffer.allocUnsafe(this.ioBytes);
    (this.pool[seq % PAYLOAD_POOL] as Buffer).copy(buffer);
    for (let at = 0; at < this.ioBytes; at += BLOCK) buffer.writeDoubleLE(seq, at);
    return buffer;
  }
}

/** CPU milliseconds spent while one side ran: the bench thread, the emulators' thread, the whole process. */
interface CpuSplit {
  benchMs: number;
  emulatorMs: number | undefined;
  processMs: number;
}

/** What one side (Sleds or the baseline) wrote where, and what went wrong. */
class SideState {
  readonly slotCount: number;
  private readonly inflight = new Set<number>();
  private readonly partitionInflight = new Uint32Array(PARTITIONS);
  /** Slot -> sequence number of its last acknowledged write (and, for the baseline, where it went). */
  readonly lastWrite = new Map<number, { seq: number; bucket?: string; key?: string }>();
  /** Slots whose last write failed: their content is unknown, so they are never verified. */
  readonly unknown = new Set<number>();
  readonly writtenSlots: number[] = [];
  nextSeq = 1;
  writesStarted = 0;
  sharedPartitionStarts = 0;
  reads = 0;
  verifiedReads = 0;
  failedWrites = 0;
  failedReads = 0;
  mismatches = 0;
  readonly failures: string[] = [];
  readonly writeLoops: LoopResult[] = [];
  readonly readLoops: LoopResult[] = [];
  readonly writeCalls = new SdkCallCounter();
  readonly readCalls = new SdkCallCounter();
  readonly writeCpu: CpuSplit = { benchMs: 0, emulatorMs: undefined, processMs: 0 };
  readonly readCpu: CpuSplit = { benchMs: 0, emulatorMs: undefined, processMs: 0 };

  constructor(
    readonly name: SideName,
    readonly ioBytes: number,
    readonly payloads: Payloads,
  ) {
    this.slotCount = VOLUME.sizeBytes / ioBytes;
  }

  partitionOf(slot: number): number {
    return Math.floor((slot * this.ioBytes) / PARTITION_BYTES);
  }

  /** A random slot with no write in flight, so that the last acknowledged write of a slot is its content. */
  acquire(slot?: number): number {
    let chosen = slot ?? Math.floor(Math.random() * this.slotCount);
    while (this.inflight.has(chosen)) chosen = Math.floor(Math.random() * this.slotCount);
    this.inflight.add(chosen);
    const partition = this.partitionOf(chosen);
    this.writesStarted++;
    if ((this.partitionInflight[partition] ?? 0) > 0) this.sharedPartitionStarts++;
    this.partitionInflight[partition] = (this.partitionInflight[partition] ?? 0) + 1;
    return chosen;
  }

  release(slot: number): void {
    this.inflight.delete(slot);
    const partition = this.partitionOf(slot);
    this.partitionInflight[partition] = (this.partitionInflight[partition] ?? 1) - 1;
  }

  committed(slot: number, seq: number, where?: { bucket: string; key: string }): void {
    if (!this.lastWrite.has(slot)) this.writtenSlots.push(slot);
    this.lastWrite.set(slot, { seq, ...where });
    this.unknown.delete(slot);
  }

  writeFailed(slot: number, error: unknown): void {
    this.failedWrites++;
    this.unknown.add(slot);
    this.note(`write to slot ${slot} failed: ${describe(error)}`);
  }

  note(failure: string): void {
    if (this.failures.length < MAX_REPORTED_FAILURES) this.failures.push(failure);
  }

  /** A random slot that holds an acknowledged write. */
  randomWrittenSlot(): number {
    return this.writtenSlots[Math.floor(Math.random() * this.writtenSlots.length)] as number;
  }

  /** Checks a sample of reads against what was written, recording any mismatch. */
  check(slot: number, bytes: Uint8Array): void {
    const index = this.reads++;
    if (index % VERIFY_EVERY !== 0 || this.unknown.has(slot)) return;
    const last = this.lastWrite.get(slot);
    if (!last) return;
    this.verifiedReads++;
    const expected = this.payloads.make(last.seq);
    if (bytes.length !== expected.length || Buffer.compare(expected, bytes) !== 0) {
      this.mismatches++;
      let first = 0;
      while (first < Math.min(bytes.length, expected.length) && bytes[first] === expected[first]) first++;
      this.note(`read of slot ${slot} (write #${last.seq}) returned ${bytes.length} bytes differing from byte ${first}`);
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// ---------------------------------------------------------------- the two implementations

/** One side's write and read of a slot; each resolves to the op's latency, or undefined if it failed. */
interface Target {
  write(side: SideState, slot?: number): Promise<{ bytes: number; latencyMs: number } | undefined>;
  read(side: SideState, slot: number): Promise<{ bytes: number; latencyMs: number } | undefined>;
}

function sledsTarget(services: Services, volumeId: string): Target {
  return {
    async write(side, slotHint) {
      const slot = side.acquire(slotHint);
      const seq = side.nextSeq++;
      const payload = side.payloads.make(seq);
      const started = performance.now();
      try {
        const result = await services.data.write(volumeId, slot * side.ioBytes, payload);
        const latencyMs = performance.now() - started;
        if (result.ops.length !== 1 || !(result.ops[0]!.op > 0)) throw new Error(`unexpected ops ${JSON.stringify(result.ops)}`);
        side.committed(slot, seq);
        return { bytes: payload.length, latencyMs };
      } catch (error) {
        side.writeFailed(slot, error);
        return undefined;
      } finally {
        side.release(slot);
      }
    },
    async read(side, slot) {
      const started = performance.now();
      try {
        const bytes = await services.data.read(volumeId, slot * side.ioBytes, side.ioBytes);
        const latencyMs = performance.now() - started;
        side.check(slot, bytes);
        return { bytes: bytes.length, latencyMs };
      } catch (error) {
        side.failedReads++;
        side.note(`read of slot ${slot} failed: ${describe(error)}`);
        return undefined;
      }
    },
  };
}

const FAKE_SHA256 = 'f'.repeat(64);

/**
 * The bare minimum per write: the payload to two sled buckets, then two conditional PutItem
 * calls of a log-entry-sized item under fresh keys. Nothing is read first, nothing hashed.
 */
function baselineTarget(clients: AwsClients, config: ServiceConfig, prefix: string): Target {
  const table = config.tables.partitions;
  const buckets = config.sledBuckets;
  return {
    async write(side, slotHint) {
      const slot = side.acquire(slotHint);
      const seq = side.nextSeq++;
      const payload = side.payloads.make(seq);
      const partition = side.partitionOf(slot);
      const [primary, secondary] = journalSleds(prefix, partition, buckets.length);
      const noteId = `n${seq.toString(16).padStart(24, '0')}`;
      const key = `${prefix}/journal/${partition}/${noteId}`;
      const started = performance.now();
      try {
        for (const sled of [primary, secondary]) {
          await clients.s3.send(
            new PutObjectCommand({ Bucket: buckets[sled], Key: key, Body: payload, ContentLength: payload.length, ContentType: 'application/octet-stream' }),
          );
        }
        for (const replica of ['r1', 'r2']) {
          await clients.documents.send(
            new PutCommand({
              TableName: table,
              Item: {
                pk: `${prefix}#${partition}#${replica}`,
                sk: opSk(seq),
                kind: 'write',
                op: seq,
                epoch: 1,
                noteId,
                offset: slot * side.ioBytes,
                length: payload.length,
                sha256: FAKE_SHA256,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
        }
        const latencyMs = performance.now() - started;
        side.committed(slot, seq, { bucket: buckets[primary] as string, key });
        return { bytes: payload.length, latencyMs };
      } catch (error) {
        side.writeFailed(slot, error);
        return undefined;
      } finally {
        side.release(slot);
      }
    },
    async read(side, slot) {
      const where = side.lastWrite.get(slot);
      const started = performance.now();
      try {
        const object = await clients.s3.send(
          new GetObjectCommand({ Bucket: where?.bucket, Key: where?.key, Range: `bytes=0-${side.ioBytes - 1}` }),
        );
        const bytes = await object.Body!.transformToByteArray();
        const latencyMs = performance.now() - started;
        if (bytes.length !== side.ioBytes) throw new Error(`GetObject returned ${bytes.length} of ${side.ioBytes} bytes`);
        side.check(slot, bytes);
        return { bytes: bytes.length, latencyMs };
      } catch (error) {
        side.failedReads++;
        side.note(`read of slot ${slot} failed: ${describe(error)}`);
        return undefined;
      }
    },
  };
}

async function removePrefix(clients: AwsClients, buckets: readonly string[], prefix: string): Promise<void> {
  for (const bucket of buckets) {
    let token: string | undefined;
    do {
      const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
      if (keys.length > 0) await clients.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

// ---------------------------------------------------------------- running a case

interface Harness {
  readonly cloud: CloudHost;
  readonly services: Services;
  readonly baselineClients: AwsClients;
  /** The counter each client set reports into right now (only during a measured round). */
  readonly active: { sleds?: SdkCallCounter; baseline?: SdkCallCounter };
  readonly verbose: boolean;
}

/** Runs `count` un-timed ops, `concurrency` at a time. */
async function untimed(count: number, concurrency: number, op: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await op(next++);
    }),
  );
}

async function measured(
  harness: Harness,
  side: SideState,
  phase: 'write' | 'read',
  seconds: number,
  concurrency: number,
  op: () => Promise<{ bytes: number; latencyMs: number } | undefined>,
): Promise<void> {
  const cpu = phase === 'write' ? side.writeCpu : side.readCpu;
  const calls = new SdkCallCounter();
  const emulatorBefore = await harness.cloud.emulatorCpuMs?.();
  const benchBefore = threadCpuMs();
  const processBefore = processCpuMs();
  harness.active[side.name] = calls;
  const result = await runClosedLoop(concurrency, seconds * 1000, op);
  harness.active[side.name] = undefined;
  const processUsed = processCpuMs() - processBefore;
  cpu.processMs += processUsed;
  cpu.benchMs += threadCpuMs() - benchBefore;
  const emulatorAfter = await harness.cloud.emulatorCpuMs?.();
  if (emulatorBefore !== undefined && emulatorAfter !== undefined) cpu.emulatorMs = (cpu.emulatorMs ?? 0) + emulatorAfter - emulatorBefore;
  (phase === 'write' ? side.writeCalls : side.readCalls).add(calls);
  (phase === 'write' ? side.writeLoops : side.readLoops).push(result);
  if (harness.verbose) {
    const seconds = result.windowMs / 1000;
    console.log(
      `  round ${phase} ${side.name.padEnd(8)} ${String(result.ops).padStart(5)} ops in ${fmt(seconds)} s = ` +
        `${fmt(result.bytes / MIB / seconds)} MiB/s, p50 ${fmt(percentile(result.latenciesMs, 50))} ms, ` +
        `${fmt(processUsed / Math.max(1, result.latenciesMs.length))} ms process CPU/op`,
    );
  }
}

interface CaseResult {
  readonly benchCase: BenchCase;
  readonly sides: Record<SideName, SideState>;
}

async function runCase(harness: Harness, benchCase: BenchCase, options: Options, index: number): Promise<CaseResult> {
  const { services, baselineClients, cloud } = harness;
  const volume = await services.volumes.create({ ...VOLUME, name: `bench-write-${index}` });
  const prefix = `bench-baseline-${volume.volumeId.slice(4)}`;
  const payloads = new Payloads(benchCase.ioBytes);
  const sides: Record<SideName, SideState> = {
    sleds: new SideState('sleds', benchCase.ioBytes, payloads),
    baseline: new SideState('baseline', benchCase.ioBytes, payloads),
  };
  const targets: Record<SideName, Target> = {
    sleds: sledsTarget(services, volume.volumeId),
    baseline: baselineTarget(baselineClients, cloud.config, prefix),
  };
  const slotsPerPartition = PARTITION_BYTES / benchCase.ioBytes;
  const order = (round: number): SideName[] => (round % 2 === 0 ? ['sleds', 'baseline'] : ['baseline', 'sleds']);

  // Warm-up, not measured: one write and one read per partition on each side, so that Sleds
  // has placed every partition and loaded its head-node state, and both sides' sockets are open.
  for (const name of ['sleds', 'baseline'] as const) {
    await untimed(PARTITIONS, benchCase.writers, (p) => targets[name].write(sides[name], p * slotsPerPartition));
  }

  const writeSlice = options.writeSeconds / options.rounds;
  for (let round = 0; round < options.rounds; round++) {
    for (const name of order(round)) {
      await measured(harness, sides[name], 'write', writeSlice, benchCase.writers, () => targets[name].write(sides[name]));
    }
  }

  for (const name of ['sleds', 'baseline'] as const) {
    // Sleds builds each partition's extent index from its log on the first read: do that un-timed.
    await untimed(PARTITIONS, benchCase.writers, (p) => targets[name].read(sides[name], p * slotsPerPartition));
  }
  const readSlice = options.readSeconds / options.rounds;
  for (let round = 0; round < options.rounds; round++) {
    for (const name of order(round)) {
      const side = sides[name];
      await measured(harness, side, 'read', readSlice, benchCase.writers, () => targets[name].read(side, side.randomWrittenSlot()));
    }
  }

  // Free the emulators' memory before the next case: the journal objects of both sides.
  await services.volumes.delete(volume.volumeId);
  await removePrefix(baselineClients, cloud.config.sledBuckets, `${prefix}/`);
  return { benchCase, sides };
}

// ---------------------------------------------------------------- reporting

const sizeLabel = (bytes: number) =>
  bytes >= GIB ? `${bytes / GIB} GiB` : bytes >= MIB ? `${bytes / MIB} MiB` : `${bytes / KIB} KiB`;
const caseId = (c: BenchCase) => `${sizeLabel(c.ioBytes).replace(' ', '')}x${c.writers}`;
const caseLabel = (c: BenchCase) => `${sizeLabel(c.ioBytes)} writes, ${c.writers} writer${c.writers === 1 ? '' : 's'}`;

interface Figures {
  readonly opsPerSecond: number;
  readonly mibPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly ops: number;
  /** Ops started, including those that finished after a window closed (the CPU figures cover these). */
  readonly allOps: number;
}

function figures(loops: readonly LoopResult[]): Figures {
  const merged = mergeLoops(loops);
  const seconds = merged.windowMs / 1000;
  return {
    opsPerSecond: merged.ops / seconds,
    mibPerSecond: merged.bytes / MIB / seconds,
    p50: percentile(merged.latenciesMs, 50),
    p99: percentile(merged.latenciesMs, 99),
    ops: merged.ops,
    allOps: merged.latenciesMs.length,
  };
}

function callMix(counter: SdkCallCounter, ops: number): string {
  const names = [...counter.calls.keys()].sort();
  const parts = names.map((name) => `${name} ${fmt((counter.calls.get(name) ?? 0) / ops)}`);
  const { calls, attempts } = counter.totals();
  const retries = attempts > calls ? `, ${attempts - calls} retried attempts` : '';
  return `${parts.join(' + ')} = ${fmt(calls / ops)}${retries}`;
}

function callTimes(counter: SdkCallCounter): string {
  return [...counter.calls.keys()]
    .sort()
    .map((name) => `${name} ${fmt((counter.callMs.get(name) ?? 0) / (counter.calls.get(name) ?? 1))}`)
    .join(', ');
}

function cpuLine(cpu: CpuSplit, ops: number): string {
  const emulators = cpu.emulatorMs !== undefined ? `${fmt(cpu.emulatorMs / ops)} emulator thread` : 'emulators on the bench thread';
  return `${fmt(cpu.benchMs / ops)} bench thread (SDK clients + Sleds), ${emulators}, ${fmt(cpu.processMs / ops)} whole process`;
}

/** Sleds / baseline throughput of each round pair (rounds run back to back, so they share the machine's mood). */
function pairRatios(sleds: readonly LoopResult[], baseline: readonly LoopResult[]): string {
  const ratios = sleds.map((s, i) => {
    const b = baseline[i];
    return b && b.bytes > 0 ? s.bytes / s.windowMs / (b.bytes / b.windowMs) : Number.NaN;
  });
  const finite = ratios.filter(Number.isFinite);
  return `${ratios.map((r) => fmt(r)).join(' ')} (median ${fmt(median(finite))}, range ${fmt(Math.min(...finite))}-${fmt(Math.max(...finite))})`;
}

interface Verdict {
  readonly label: string;
  readonly write: number;
  readonly read: number;
  readonly below: string[];
}

function report(result: CaseResult): Verdict {
  const { sleds, baseline } = result.sides;
  const w = { s: figures(sleds.writeLoops), b: figures(baseline.writeLoops) };
  const r = { s: figures(sleds.readLoops), b: figures(baseline.readLoops) };
  const rows: Array<[string, number, number, number]> = [
    ['committed writes/s', w.s.opsPerSecond, w.b.opsPerSecond, w.s.opsPerSecond / w.b.opsPerSecond],
    ['write MiB/s', w.s.mibPerSecond, w.b.mibPerSecond, w.s.mibPerSecond / w.b.mibPerSecond],
    ['write p50 ms', w.s.p50, w.b.p50, w.b.p50 / w.s.p50],
    ['write p99 ms', w.s.p99, w.b.p99, w.b.p99 / w.s.p99],
    ['read MiB/s', r.s.mibPerSecond, r.b.mibPerSecond, r.s.mibPerSecond / r.b.mibPerSecond],
    ['read p50 ms', r.s.p50, r.b.p50, r.b.p50 / r.s.p50],
    ['read p99 ms', r.s.p99, r.b.p99, r.b.p99 / r.s.p99],
  ];
  const label = caseLabel(result.benchCase);
  console.log(`\n== ${label} ==`);
  console.log(formatTable(['metric', 'sleds', 'baseline', 'ratio'], rows.map(([m, s, b, q]) => [m, fmt(s), fmt(b), fmt(q)])));
  console.log(
    `measured: ${w.s.ops} + ${w.b.ops} writes and ${r.s.ops} + ${r.b.ops} reads completed inside the windows (sleds + baseline); ` +
      `the per-op figures below also cover the ${w.s.allOps - w.s.ops + w.b.allOps - w.b.ops} writes and ` +
      `${r.s.allOps - r.s.ops + r.b.allOps - r.b.ops} reads that finished after a window closed`,
  );
  console.log(`write ratio by round   ${pairRatios(sleds.writeLoops, baseline.writeLoops)}`);
  console.log(`read ratio by round    ${pairRatios(sleds.readLoops, baseline.readLoops)}`);
  console.log(`SDK calls per write    sleds: ${callMix(sleds.writeCalls, w.s.allOps)}`);
  console.log(`                    baseline: ${callMix(baseline.writeCalls, w.b.allOps)}`);
  console.log(`mean ms per write call sleds: ${callTimes(sleds.writeCalls)}`);
  console.log(`                    baseline: ${callTimes(baseline.writeCalls)}`);
  console.log(`CPU ms per write       sleds: ${cpuLine(sleds.writeCpu, w.s.allOps)}`);
  console.log(`                    baseline: ${cpuLine(baseline.writeCpu, w.b.allOps)}`);
  console.log(`SDK calls per read     sleds: ${callMix(sleds.readCalls, r.s.allOps)}`);
  console.log(`                    baseline: ${callMix(baseline.readCalls, r.b.allOps)}`);
  console.log(`mean ms per read call  sleds: ${callTimes(sleds.readCalls)}`);
  console.log(`                    baseline: ${callTimes(baseline.readCalls)}`);
  console.log(`CPU ms per read        sleds: ${cpuLine(sleds.readCpu, r.s.allOps)}`);
  console.log(`                    baseline: ${cpuLine(baseline.readCpu, r.b.allOps)}`);
  const shared = sleds.sharedPartitionStarts / Math.max(1, sleds.writesStarted);
  console.log(
    `partitions: ${result.benchCase.writers} writer(s) over ${PARTITIONS} partitions; ` +
      `${fmt(shared * 100, 1)}% of Sleds writes began while another write to the same partition was in flight ` +
      `(those queue for the next op number)`,
  );
  console.log(`verified: ${sleds.verifiedReads} sleds and ${baseline.verifiedReads} baseline reads checked byte for byte`);
  for (const side of [sleds, baseline]) {
    if (side.failedWrites + side.failedReads + side.mismatches === 0) continue;
    console.log(
      `FAILED (${side.name}): ${side.failedWrites} failed writes, ${side.failedReads} failed reads, ` +
        `${side.mismatches} reads that returned other bytes than were written; the first ones:`,
    );
    for (const failure of side.failures) console.log(`  ${failure}`);
  }
  const below = rows.filter(([, , , q]) => q < TARGET).map(([m]) => m);
  return { label, write: w.s.mibPerSecond / w.b.mibPerSecond, read: r.s.mibPerSecond / r.b.mibPerSecond, below };
}

// ---------------------------------------------------------------- main

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick');
  const flag = argv.find((arg) => arg.startsWith('--seconds='))?.slice('--seconds='.length);
  const raw = flag ?? process.env.BENCH_SECONDS;
  const seconds = raw === undefined || raw === '' ? (quick ? 2 : 8) : Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds / BENCH_SECONDS must be a positive number, got "${raw}"`);
  // About one second per round: fine interleaving, so a burst of load elsewhere on the machine hits both sides.
  const rounds = Math.max(2, Math.round(seconds));
  const wanted = argv.find((arg) => arg.startsWith('--cases='))?.slice('--cases='.length).toLowerCase().split(',');
  const cases = wanted ? CASES.filter((c) => wanted.includes(caseId(c).toLowerCase())) : CASES;
  if (cases.length === 0) throw new Error(`--cases names none of ${CASES.map(caseId).join(', ')}`);
  return {
    writeSeconds: seconds,
    readSeconds: seconds / 2,
    rounds,
    inProcess: argv.includes('--in-process'),
    cases,
    verbose: argv.includes('--verbose'),
    headCache: argv.includes('--head-cache'),
  };
}

/** Runs the four cases and prints a table per case; the exit code is 1 only on a failed write or a bad read-back. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const options = parseOptions(argv);
  const began = performance.now();
  const cloud = await startCloud(options.inProcess);
  const active: Harness['active'] = {};
  // The head cache off by default: the reads then measure the object read path.
  const headCacheMib = options.headCache ? DEFAULT_HEAD_CACHE_MIB : 0;
  const services = createServices({ ...cloud.config, headCacheMib });
  const baselineClients = createAwsClients(cloud.config);
  countSdkCalls(services.clients.s3, () => active.sleds);
  countSdkCalls(services.clients.dynamodb, () => active.sleds);
  countSdkCalls(baselineClients.s3, () => active.baseline);
  countSdkCalls(baselineClients.dynamodb, () => active.baseline);
  const harness: Harness = { cloud, services, baselineClients, active, verbose: options.verbose };

  const cpus = os.cpus();
  console.log('Sleds write benchmark (bench/write.ts)');
  console.log(`machine:   ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${os.platform()} ${os.arch()}, ${fmt(os.totalmem() / GIB, 0)} GiB RAM`);
  console.log(`emulators: fauxqs (S3) in memory, dynalite (DynamoDB) in memory, ${SLED_COUNT} sled buckets; one embedded cloud for the whole run, ${cloud.where}`);
  console.log(
    `sleds:     head lease ${cloud.config.headLeaseMs} ms; head cache ${headCacheMib} MiB` +
      (options.headCache ? ' (reads of notes not yet flushed come from memory)' : ' (off: every read goes to its object; --head-cache turns it on)'),
  );
  console.log(
    `volume:    a fresh ${sizeLabel(VOLUME.sizeBytes)} volume per case, ${sizeLabel(VOLUME.chunkSizeBytes)} chunks, ` +
      `${VOLUME.partitionChunks} chunks per partition = ${PARTITIONS} partitions of ${sizeLabel(PARTITION_BYTES)}`,
  );
  console.log(
    `workload:  closed loop; each writer writes to random offsets aligned to the I/O size (never two writes in flight on one offset), ` +
      `so concurrent writers mostly hit different partitions; reads hit random written offsets`,
  );
  console.log(
    `run:       per case and side ${options.writeSeconds} s of writes and ${options.readSeconds} s of reads, in ${options.rounds} interleaved rounds ` +
      `(sleds then baseline, baseline then sleds, ...); throughput counts the ops that complete inside each round's window; ` +
      `un-timed warm-up of one write and one read per partition on each side`,
  );
  console.log(
    `baseline:  per write PutObject to two sled buckets + PutItem x2 (attribute_not_exists(pk), fresh keys), in that order; ` +
      `per read one ranged GetObject of the same size`,
  );
  console.log(`sleds:     services.data.write / services.data.read through lib/wiring.ts (the real adapters, same emulators)`);
  console.log(`ratio:     sleds / baseline for rates, baseline / sleds for latencies: 1.00 is parity, higher is better; target >= ${TARGET}`);
  console.log(`check:     every ${VERIFY_EVERY}th read on each side is compared byte for byte with what that side wrote last`);
  console.log(
    `cpu:       thread CPU time of the bench thread (SDK clients, Sleds code, the bench) and of the emulators' thread; ` +
      `"whole process" adds GC and I/O helper threads`,
  );
  console.log(`bandwidth: the sled bandwidth model is off (no per-sled byte-rate cap)`);

  const verdicts: Verdict[] = [];
  let failed = false;
  try {
    for (const [index, benchCase] of options.cases.entries()) {
      const result = await runCase(harness, benchCase, options, index);
      verdicts.push(report(result));
      for (const side of Object.values(result.sides)) {
        if (side.failedWrites > 0 || side.failedReads > 0 || side.mismatches > 0) failed = true;
      }
    }
  } finally {
    services.clients.destroy();
    baselineClients.destroy();
    await cloud.stop();
  }

  console.log('\n== summary (write ratio = committed MiB/s, sleds / baseline) ==');
  for (const v of verdicts) {
    const others = v.below.length > 0 ? `; figures below ${TARGET}: ${v.below.join(', ')}` : '';
    console.log(`${v.label.padEnd(26)} write ${fmt(v.write)}  read ${fmt(v.read)}  ratio >= ${TARGET}: ${v.write >= TARGET ? 'yes' : 'no'}${others}`);
  }
  console.log(`total run time ${fmt((performance.now() - began) / 1000, 1)} s`);
  if (failed) console.log('FAILED: a write failed or a read did not return what was written (see above)');
  return failed ? 1 : 0;
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else if ((workerData as { role?: string } | null)?.role === CLOUD_ROLE) {
  void serveCloudInWorker();
}
