/**
 * `npm run bench:recovery`: recovery and flush on a partition with 20,000 committed ops, both
 * measured in the same run, on the embedded emulators.
 *
 * 1. Rebuild: two twin partitions (two one-partition volumes) take the same 20,000 small writes.
 *    Twin A is flushed up to op 19,000 with exactly one checkpoint there; twin B has no checkpoint.
 *    Losing the secondary of each then rebuilds it: A from the checkpoint plus the tail, B by a
 *    full replay from op 1. Target: A at least 10x faster than B.
 * 2. Flush: MiB of chunk objects written per second by FlushService.flush, against raw
 *    PutObject calls of the same number of chunk-sized objects (same bytes, same buckets, same
 *    concurrency of 8), interleaved: raw, flush, raw. Target: a ratio of at least 0.7. Both sides
 *    hash every body once with SHA-256: the raw PUT in the SDK's signer (it sends a precomputed
 *    ChecksumSHA256, so the SDK computes no CRC32), the flush when it builds a chunk, whose PUT then
 *    signs with that digest instead of hashing the body again.
 *    - By another process, as on AWS (leases and the head cache off): twins A (up to op 19,000)
 *      and B (after its rebuild, up to its newest op). The live notes are read back: from the
 *      partitions table, 100 per BatchGetItem (or, with --table-note-bytes=0, one ranged GET each).
 *    - By the process that wrote it, as in the embedded cloud: twins H1-H8 each take the same
 *      20,000 writes from one services instance holding the head lease, which then flushes
 *      from its view and its chunk images (or cached payloads); then, on the last one, rounds of 1,024 more
 *      writes and a flush each (each rewrites chunks it flushed before, and collects the old versions).
 *    A volume flushed in rounds of one 1 MiB note per chunk is shown for comparison.
 *
 * Before each timed section (raw puts, a flush) every thread runs a full garbage collection, so
 * that no ~100 ms section pays for the garbage the one before left.
 *
 * Every replica of both twins is read back whole, before and after the rebuild, and compared
 * byte for byte with what the workload wrote. The exit code is 1 only on a correctness failure
 * (a failed write, a wrong read-back, a rebuild that did not start from what it should).
 *
 * Flags: --quick (5,000 ops), --ops=N, --checkpoint-at=N (default: ops - ops/20),
 * --writers=W (concurrent writers per twin, default 32), --instances=S (createServices
 * instances the writers are spread over, default 2), --big-rounds=R (rounds of the 1 MiB-note
 * flush case, default 4; 0 skips it), --head-volumes=N (twins H, default 8, quick 3), --head-rounds=R
 * (rounds of 1,024 ops on the last twin H, default 4; 0 skips them), --table-note-bytes=N (notes of at most N bytes
 * are kept in the partitions table, default 8192 as deployed; 0 puts every note on its journal sled, as before),
 * --in-process (emulators on the bench's own thread).
 */
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createAwsClients, type AwsClients } from '../lib/aws/clients.js';
import { S3DynamoDbCheckpointStore } from '../lib/aws/checkpoint-store.js';
import { DynamoDbChunkMapStore } from '../lib/aws/dynamodb-chunk-map-store.js';
import { DynamoDbNoteLogStore } from '../lib/aws/dynamodb-note-log-store.js';
import { DynamoDbPartitionMetaStore } from '../lib/aws/dynamodb-partition-meta-store.js';
import { S3ChunkStore } from '../lib/aws/s3-chunk-store.js';
import type { RebuildReport } from '../lib/checkpoints/rebuild-service.js';
import { DEFAULT_HEAD_LEASE_MS, DEFAULT_HEAD_CACHE_MIB, DEFAULT_TABLE_NOTE_BYTES, type ServiceConfig } from '../lib/config.js';
import { PUT_CONCURRENCY } from '../lib/flush/chunk-builder.js';
import type { FlushResult } from '../lib/flush/ports.js';
import { armFailpoint } from '../lib/faults.js';
import type { LocalCloud } from '../lib/local/local-cloud.js';
import { sumOfThreads, thisThread } from '../lib/local/thread-stats.js';
import { ExtentIndex } from '../lib/notes/extent-index.js';
import { PartitionHead, type PartitionDeps } from '../lib/notes/partition-head.js';
import type { PartitionMeta, PartitionMetaStore } from '../lib/notes/ports.js';
import { mapLimit } from '../lib/shared/concurrency.js';
import { chunkSled } from '../lib/sleds/placement.js';
import { GIB, KIB, MIB } from '../lib/units/sizes.js';
import { createServices, journalStore, type Services } from '../lib/wiring.js';
import { collectGarbage, fmt, formatTable, gcPauseMs, median, packageVersion, threadCpuMs } from './support.js';

// ---------------------------------------------------------------- fixed parameters

const CLOUD_ROLE = 'sleds-bench-recovery-cloud';
const WRITER_ROLE = 'sleds-bench-recovery-writer';
const SLED_COUNT = 8;
/** One partition per volume: 16 chunks of 1 MiB. */
const GEOMETRY = { sizeBytes: 16 * MIB, chunkSizeBytes: MIB, partitionChunks: 16 } as const;
const PARTITION_BYTES = GEOMETRY.chunkSizeBytes * GEOMETRY.partitionChunks;
const CHUNKS = GEOMETRY.partitionChunks;
const BLOCK = 4 * KIB;
const BLOCKS = PARTITION_BYTES / BLOCK;
/** Reads through the data service take at most 4 MiB. */
const READ_BYTES = 4 * MIB;
/** The flush's chunk PUTs in flight (lib/flush/chunk-builder.ts): the raw baseline puts as many at a time. */
const FLUSH_PUT_CONCURRENCY = PUT_CONCURRENCY;
const PAYLOAD_POOL = 16;
const SEED = 0x5eed5;
const NEVER = Number.MAX_SAFE_INTEGER;
const TARGETS = { speedup: 10, flushRatio: 0.7 } as const;
/** Each raw PutObject slot (before and after a flush) puts the flush's bytes this many times, each timed alone, to damp noise. */
const RAW_REPEATS = 3;

/** The failpoints that RebuildService and FlushService pass, named for the phase that ends there. */
const PHASES: Record<string, Record<string, string>> = {
  rebuild: {
    fenced: 'fence: epoch entry on the survivor',
    promoted: 'promote: new partition metadata',
    dropped: 'drop the lost replica (log, chunk map, journal)',
    'base-restored': 'read the survivor log, pick the base, restore the chunk map',
    'notes-copied': 'copy the notes after the base (table: BatchGet+BatchWrite; sleds: CopyObject x16)',
    'ops-copied': 'append the ops after the base (PutItem, one at a time)',
    end: 'verify the digest and notes, clear the rebuild flag',
  },
  flush: {
    'chunks-written': 'build and put the chunks (images or log reads and note reads, SHA-256, PutObject x8)',
    'primary-map-updated': "update both chunk maps (sent together; the primary's answer)",
    'secondary-map-updated': "the secondary's answer",
    checkpointed: 'list checkpoints (and write one when due)',
    end: 'collect garbage (old checkpoints, superseded chunks, notes)',
  },
};

interface Options {
  readonly ops: number;
  readonly checkpointAt: number;
  readonly writers: number;
  readonly instances: number;
  readonly bigRounds: number;
  readonly headRounds: number;
  readonly headVolumes: number;
  /** Notes of at most this many bytes go in the partitions table (0: every note on its sled). */
  readonly tableNoteBytes: number;
  readonly inProcess: boolean;
  readonly quick: boolean;
}

// ---------------------------------------------------------------- the emulators' threads

/** Where the emulators run and how busy their thread is. */
interface CloudHost {
  readonly config: ServiceConfig;
  readonly where: string;
  /** CPU milliseconds used so far by the emulators' threads; absent when it is the bench's own. */
  readonly emulatorCpuMs?: () => Promise<number>;
  /** A full garbage collection on the emulators' threads and this one, before a timed section. */
  settle(): Promise<void>;
  /** Milliseconds every thread has spent in GC pauses so far (the emulators' own, when they have threads). */
  gcPauses(): Promise<number>;
  stop(): Promise<void>;
}

// Head leases and the head cache off, as the AWS stacks have them: the twins' writers
// and their flushes run in other processes. Twin H turns both on, as the embedded cloud has them.
const CLOUD_OPTIONS = { port: 0, sledCount: SLED_COUNT, flushEveryOps: 0, checkpointEveryOps: NEVER, headLeaseMs: 0, headCacheMib: 0 } as const;
/** Rounds of steady-state flushes after twin H's big one: this many new writes, then a flush. */
const HEAD_ROUND_OPS = 1024;

/**
 * Worker entry: starts the embedded cloud, reports its config, stops it on request. Its
 * emulators run on threads of their own, as S3 and DynamoDB are separate services; what this
 * worker reports (CPU, GC pauses) and settles covers them too.
 */
async function serveCloudInWorker(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the cloud worker needs a parent port');
  const cloud: LocalCloud = await startEmbeddedCloud(true);
  if (!cloud.emulatorThreads) throw new Error('the emulators were meant to run on threads of their own');
  const threads = sumOfThreads([thisThread, cloud.emulatorThreads]);
  gcPauseMs();
  port.on('message', (message: unknown) => {
    if (message === 'cpu') void threads.cpuMs().then((cpuMs) => port.postMessage({ cpuMs }));
    if (message === 'gc-pauses') void threads.gcPauseMs().then((gcMs) => port.postMessage({ gcMs }));
    if (message === 'gc') void threads.collectGarbage().then(() => port.postMessage({ settled: true }));
    if (message !== 'stop') return;
    void cloud.stop().then(() => {
      port.postMessage({ stopped: true });
      port.close();
    });
  });
  port.postMessage({ config: cloud.config });
}

/**
 * The emulators, loaded only on the thread that runs them: the local cloud's module graph
 * includes aws-cdk-lib (its Step Functions definition comes from the CDK construct), tens of
 * MB of code that would otherwise sit in the bench thread's heap and slow every full GC there.
 */
async function startEmbeddedCloud(emulatorThreads: boolean): Promise<LocalCloud> {
  const { startLocalCloud } = await import('../lib/local/local-cloud.js');
  return startLocalCloud({ ...CLOUD_OPTIONS, emulatorThreads });
}

async function startCloud(inProcess: boolean): Promise<CloudHost> {
  if (inProcess) {
    const cloud = await startEmbeddedCloud(false);
    return {
      config: cloud.config,
      where: 'on the bench thread',
      settle: () => {
        collectGarbage();
        return Promise.resolve();
      },
      gcPauses: () => Promise.resolve(gcPauseMs()),
      stop: () => cloud.stop(),
    };
  }
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: CLOUD_ROLE } });
  const config = await new Promise<ServiceConfig>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (message: { config: ServiceConfig }) => resolve(message.config));
  });
  return {
    config,
    where: 'on threads of their own (fauxqs, dynalite; the API and pollers on a third)',
    emulatorCpuMs: () =>
      new Promise<number>((resolve) => {
        worker.once('message', (message: { cpuMs: number }) => resolve(message.cpuMs));
        worker.postMessage('cpu');
      }),
    settle: () =>
      new Promise<void>((resolve) => {
        worker.once('message', () => {
          collectGarbage();
          resolve();
        });
        worker.postMessage('gc');
      }),
    gcPauses: () =>
      new Promise<number>((resolve) => {
        worker.once('message', (message: { gcMs: number }) => resolve(message.gcMs + gcPauseMs()));
        worker.postMessage('gc-pauses');
      }),
    async stop() {
      const stopped = new Promise<void>((resolve) => worker.once('message', () => resolve()));
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}

// ---------------------------------------------------------------- measuring

/** Per SDK command: calls, summed call time, and the span from the first start to the last end. */
class CommandTimeline {
  readonly byCommand = new Map<string, { calls: number; sumMs: number; firstMs: number; lastMs: number }>();
  /** When the measured work began (see begin). */
  private origin = performance.now();

  reset(): void {
    this.byCommand.clear();
  }

  /** The measured work begins now: rowsInTime counts from here. */
  begin(): void {
    this.origin = performance.now();
  }

  record(name: string, startMs: number, endMs: number): void {
    const entry = this.byCommand.get(name) ?? { calls: 0, sumMs: 0, firstMs: startMs, lastMs: endMs };
    entry.calls++;
    entry.sumMs += endMs - startMs;
    entry.firstMs = Math.min(entry.firstMs, startMs);
    entry.lastMs = Math.max(entry.lastMs, endMs);
    this.byCommand.set(name, entry);
  }

  /** Adds another thread's figures; `offsetMs` turns its clock into this thread's. */
  merge(entries: ReadonlyArray<[string, { calls: number; sumMs: number; firstMs: number; lastMs: number }]>, offsetMs: number): void {
    for (const [name, e] of entries) {
      const mine = this.byCommand.get(name);
      const first = e.firstMs + offsetMs;
      const last = e.lastMs + offsetMs;
      if (!mine) this.byCommand.set(name, { calls: e.calls, sumMs: e.sumMs, firstMs: first, lastMs: last });
      else {
        mine.calls += e.calls;
        mine.sumMs += e.sumMs;
        mine.firstMs = Math.min(mine.firstMs, first);
        mine.lastMs = Math.max(mine.lastMs, last);
      }
    }
  }

  totalCalls(): number {
    return [...this.byCommand.values()].reduce((sum, e) => sum + e.calls, 0);
  }

  /** Rows: command, calls, summed ms, mean ms, span ms (first start to last end), sorted by summed ms. */
  rows(): string[][] {
    return [...this.byCommand.entries()]
      .sort((a, b) => b[1].sumMs - a[1].sumMs)
      .map(([name, e]) => [name, String(e.calls), fmt(e.sumMs, 0), fmt(e.sumMs / e.calls, 2), fmt(e.lastMs - e.firstMs, 0)]);
  }

  /** The rows, in the order the commands first went out, with when that was and when the last one ended. */
  rowsInTime(): string[][] {
    return [...this.byCommand.entries()]
      .sort((a, b) => a[1].firstMs - b[1].firstMs)
      .map(([name, e]) => [name, String(e.calls), fmt(e.sumMs, 0), fmt(e.sumMs / e.calls, 2), fmt(e.firstMs - this.origin, 0), fmt(e.lastMs - this.origin, 0)]);
  }
}

/** Records every command sent through an SDK client into whichever timeline `current()` returns. */
function timeCommands(client: { middlewareStack: unknown }, current: () => CommandTimeline | undefined): void {
  type Next = (args: unknown) => Promise<unknown>;
  const stack = (client as { middlewareStack: { add(m: unknown, o: { step: string; name: string; priority?: string }): void } }).middlewareStack;
  stack.add(
    (next: Next, context: { commandName?: string }) => async (args: unknown) => {
      const timeline = current();
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        timeline?.record((context.commandName ?? 'unknown').replace(/Command$/, ''), started, performance.now());
      }
    },
    { step: 'initialize', name: 'benchRecoveryTimeline', priority: 'high' },
  );
}

/**
 * Marks the phases of one rebuild or flush: the failpoints the service passes between its steps
 * are armed with an action that only records the time (it never fails).
 */
class PhaseMarks {
  private readonly marks: Array<{ step: string; at: number }> = [];
  private readonly disarm: () => void;
  private started = performance.now();
  private ended: number | undefined;

  constructor(private readonly name: 'rebuild' | 'flush') {
    this.disarm = armFailpoint(name, (context) => {
      this.marks.push({ step: String(context.step), at: performance.now() });
    });
  }

  /** Records the start of the work now (after the bench's own messages to the emulator threads). */
  begin(): void {
    this.started = performance.now();
  }

  /** Records the end of the work now (before the bench's own messages to the emulator threads). */
  end<T>(value: T): T {
    this.ended = performance.now();
    return value;
  }

  /** Disarms the failpoint and returns each phase with its milliseconds, in order. */
  finish(): Array<{ phase: string; ms: number }> {
    const ended = this.ended ?? performance.now();
    this.disarm();
    const phases: Array<{ phase: string; ms: number }> = [];
    let last = this.started;
    for (const { step, at } of [...this.marks, { step: 'end', at: ended }]) {
      phases.push({ phase: PHASES[this.name]?.[step] ?? step, ms: at - last });
      last = at;
    }
    return phases;
  }
}

interface Cpu {
  benchMs: number;
  emulatorMs: number | undefined;
}

/** Runs `work`, returning its result, its wall time and the CPU the bench and emulator threads spent meanwhile. */
async function measure<T>(cloud: CloudHost, work: () => Promise<T>): Promise<{ value: T; ms: number; cpu: Cpu }> {
  const emulatorBefore = await cloud.emulatorCpuMs?.();
  const benchBefore = threadCpuMs();
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  const benchMs = threadCpuMs() - benchBefore;
  const emulatorAfter = await cloud.emulatorCpuMs?.();
  const emulatorMs = emulatorBefore === undefined || emulatorAfter === undefined ? undefined : emulatorAfter - emulatorBefore;
  return { value, ms, cpu: { benchMs, emulatorMs } };
}

const cpuLine = (cpu: Cpu, ms: number) =>
  `bench thread ${fmt(cpu.benchMs, 0)} ms (${fmt((100 * cpu.benchMs) / ms, 0)}%)` +
  (cpu.emulatorMs === undefined ? '' : `, emulator threads ${fmt(cpu.emulatorMs, 0)} ms (${fmt((100 * cpu.emulatorMs) / ms, 0)}%)`);

// ---------------------------------------------------------------- the workload

/** A small deterministic PRNG (mulberry32), so the twins and every run get the same writes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The writes: write i puts 4 KiB at block blocks[i]; its bytes are unique to i. */
class Workload {
  readonly blocks: Uint16Array;
  private readonly pool: Buffer[];

  constructor(readonly ops: number) {
    const random = prng(SEED);
    this.blocks = Uint16Array.from({ length: ops }, () => Math.floor(random() * BLOCKS));
    const bytes = prng(SEED + 1);
    this.pool = Array.from({ length: PAYLOAD_POOL }, () => Buffer.from(Uint8Array.from({ length: BLOCK }, () => Math.floor(bytes() * 256))));
  }

  payload(index: number): Buffer {
    const buffer = Buffer.allocUnsafe(BLOCK);
    (this.pool[index % PAYLOAD_POOL] as Buffer).copy(buffer);
    for (let at = 0; at < BLOCK; at += 512) buffer.writeUInt32LE(index + 1, at);
    return buffer;
  }

  /** The partition after every write: each block holds the highest-numbered write to it, zeros if none. */
  image(): Buffer {
    const image = Buffer.alloc(PARTITION_BYTES);
    const last = new Int32Array(BLOCKS).fill(-1);
    this.blocks.forEach((block, index) => (last[block] = index));
    last.forEach((index, block) => {
      if (index >= 0) this.payload(index).copy(image, block * BLOCK);
    });
    return image;
  }

  blocksWritten(): number {
    return new Set(this.blocks).size;
  }
}

/**
 * Runs the workload on one volume: `writers` closed-loop writers take the writes in order and
 * spread them over the given services instances. Writes to one block are chained in workload
 * order, so each block ends with the highest-numbered write to it whatever the interleaving.
 */
async function fill(
  volumeId: string,
  workload: Workload,
  instances: readonly Services[],
  writers: number,
  progress: { done: number },
  failures: string[],
): Promise<void> {
  let next = 0;
  const chains = new Map<number, Promise<void>>();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      const services = instances[writer % instances.length] as Services;
      while (next < workload.ops) {
        const index = next++;
        const block = workload.blocks[index] as number;
        const write = (chains.get(block) ?? Promise.resolve()).then(async () => {
          try {
            await services.data.write(volumeId, block * BLOCK, workload.payload(index));
            progress.done++;
          } catch (error) {
            if (failures.length < 5) failures.push(`write #${index + 1} of ${volumeId} (block ${block}) failed: ${describe(error)}`);
            else failures.push('');
          }
        });
        chains.set(block, write);
        await write;
        if (chains.get(block) === write) chains.delete(block);
      }
    }),
  );
}

/** What the main thread asks of a writer thread: run the workload on one volume. */
interface WriterTask {
  readonly role: typeof WRITER_ROLE;
  readonly config: ServiceConfig;
  readonly volumeId: string;
  readonly ops: number;
  readonly writers: number;
  readonly instances: number;
}

interface WriterResult {
  readonly done: number;
  readonly failures: string[];
  readonly cpuMs: number;
  readonly commands: Array<[string, { calls: number; sumMs: number; firstMs: number; lastMs: number }]>;
  readonly timeOrigin: number;
}

/** Writer thread entry: fills one twin through its own createServices instances, reporting progress. */
async function writeInWorker(task: WriterTask): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('a writer thread needs a parent port');
  const timeline = new CommandTimeline();
  const instances = Array.from({ length: task.instances }, () => {
    const services = createServices(task.config);
    timeCommands(services.clients.s3, () => timeline);
    timeCommands(services.clients.dynamodb, () => timeline);
    return services;
  });
  const progress = { done: 0 };
  const failures: string[] = [];
  const ticker = setInterval(() => port.postMessage({ progress: progress.done }), 1000);
  const cpuBefore = threadCpuMs();
  try {
    await fill(task.volumeId, new Workload(task.ops), instances, task.writers, progress, failures);
  } finally {
    clearInterval(ticker);
    for (const services of instances) services.clients.destroy();
  }
  const result: WriterResult = { done: progress.done, failures, cpuMs: threadCpuMs() - cpuBefore, commands: [...timeline.byCommand], timeOrigin: performance.timeOrigin };
  port.postMessage({ result });
}

/** Runs one writer thread to completion; `onProgress` hears its count of completed writes. */
function runWriter(task: Omit<WriterTask, 'role'>, onProgress: (done: number) => void): Promise<WriterResult> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: WRITER_ROLE, ...task } });
  return new Promise<WriterResult>((resolve, reject) => {
    worker.on('message', (message: { progress?: number; result?: WriterResult }) => {
      if (message.progress !== undefined) onProgress(message.progress);
      if (message.result) {
        resolve(message.result);
        void worker.terminate();
      }
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a writer thread exited with code ${code} before reporting`)));
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// ---------------------------------------------------------------- reading back

/** The stores a partition head needs, built as lib/wiring.ts builds them. */
function partitionDeps(clients: AwsClients, config: ServiceConfig): PartitionDeps & { metas: DynamoDbPartitionMetaStore; logs: DynamoDbNoteLogStore } {
  const table = config.tables.partitions;
  return {
    metas: new DynamoDbPartitionMetaStore(clients.documents, table),
    logs: new DynamoDbNoteLogStore(clients.documents, table),
    journal: journalStore(clients, config),
    chunkMaps: new DynamoDbChunkMapStore(clients.documents, table),
    chunks: new S3ChunkStore(clients.s3, config.sledBuckets),
    sledCount: config.sledBuckets.length,
  };
}

/**
 * Reads the whole partition as one replica holds it (its chunk map, its log, its journal): a
 * fresh partition head that is told this replica is the primary. Nothing is written.
 */
async function readReplica(deps: PartitionDeps, meta: PartitionMeta, role: 'primary' | 'secondary'): Promise<Buffer> {
  const view: PartitionMeta = role === 'primary' ? meta : { ...meta, primary: meta.secondary, secondary: meta.primary };
  const refuse = () => Promise.reject(new Error('read-only view of a replica'));
  const metas: PartitionMetaStore = {
    get: () => Promise.resolve(view),
    getMany: () => Promise.resolve([view]),
    createIfAbsent: refuse,
    replace: refuse,
    listPartitions: refuse,
    removePartition: refuse,
  };
  const head = new PartitionHead({ ...deps, metas }, meta.volumeId, meta.partition, { start: 0, chunkSizeBytes: GEOMETRY.chunkSizeBytes, partitionChunks: CHUNKS, volumeBytes: GEOMETRY.sizeBytes });
  const bytes = Buffer.alloc(PARTITION_BYTES);
  await head.read(0, PARTITION_BYTES, bytes, 0);
  return bytes;
}

/**
 * Reads the whole partition through the public data path (VolumeDataService.read) of fresh
 * services, one 4 MiB read at a time. (The one-at-a-time reads date from a read-path bug, since
 * fixed, where concurrent first reads on a cold head could see an index swapped in before it
 * was filled; a head now fills a new view before it replaces the old one.)
 */
async function readPublic(config: ServiceConfig, volumeId: string): Promise<Buffer> {
  const services = createServices(config);
  try {
    const parts: Buffer[] = [];
    for (let offset = 0; offset < PARTITION_BYTES; offset += READ_BYTES) parts.push(await services.data.read(volumeId, offset, READ_BYTES));
    return Buffer.concat(parts);
  } finally {
    services.clients.destroy();
  }
}

/** Compares a read-back with the expected image; undefined when equal, else where it first differs. */
function difference(got: Buffer, expected: Buffer): string | undefined {
  if (got.length === expected.length && got.equals(expected)) return undefined;
  const blocks = Math.min(got.length, expected.length) / BLOCK;
  let differing = 0;
  let first = -1;
  for (let block = 0; block < blocks; block++) {
    const at = block * BLOCK;
    if (got.subarray(at, at + BLOCK).equals(expected.subarray(at, at + BLOCK))) continue;
    differing++;
    if (first < 0) first = block;
  }
  const stamp = (buffer: Buffer) => buffer.readUInt32LE(first * BLOCK);
  return `${differing} of ${blocks} blocks differ; block ${first} holds write #${stamp(got)} instead of #${stamp(expected)} (0: zeros)`;
}

// ---------------------------------------------------------------- the raw PutObject baseline

/** Raw PutObject of chunk-sized objects: same buckets as the flush's chunks, same checksum header, same concurrency. */
class RawPuts {
  private readonly bodies: Array<{ body: Buffer; checksum: string }>;

  constructor(
    private readonly clients: AwsClients,
    private readonly buckets: readonly string[],
  ) {
    this.bodies = Array.from({ length: CHUNKS }, () => {
      const body = randomBytes(GEOMETRY.chunkSizeBytes);
      return { body, checksum: createHash('sha256').update(body).digest('base64') };
    });
  }

  /**
   * Puts `count` chunk-sized objects where the chunks of `volumeId` go, RAW_REPEATS times over,
   * each time from a settled heap and timed alone, as a flush of those chunks is (a longer
   * section would spread one GC pause over more bytes); returns the summed time.
   */
  async run(volumeId: string, count: number, cloud: CloudHost): Promise<{ bytes: number; ms: number; gcMs: number }> {
    let ms = 0;
    let gcMs = 0;
    for (let repeat = 0; repeat < RAW_REPEATS; repeat++) {
      await cloud.settle();
      const pausesBefore = await cloud.gcPauses();
      const started = performance.now();
      await mapLimit(
        Array.from({ length: count }, (_, i) => i),
        FLUSH_PUT_CONCURRENCY,
        async (i) => {
          const { body, checksum } = this.bodies[i % CHUNKS] as { body: Buffer; checksum: string };
          await this.clients.s3.send(
            new PutObjectCommand({
              Bucket: this.buckets[chunkSled(volumeId, 0, i % CHUNKS, this.buckets.length)],
              Key: `bench-raw/${volumeId}/${i}`,
              Body: body,
              ContentLength: body.length,
              ChecksumSHA256: checksum,
            }),
          );
        },
      );
      ms += performance.now() - started;
      // Pauses that began in the section; one still running when it ended counts whole.
      gcMs += (await cloud.gcPauses()) - pausesBefore;
    }
    return { bytes: count * RAW_REPEATS * GEOMETRY.chunkSizeBytes, ms, gcMs };
  }
}

const mibPerSecond = (bytes: number, ms: number) => bytes / MIB / (ms / 1000);

/**
 * The requests a flush to `uptoOp` cannot avoid, done raw: for each chunk, the live note extents
 * in it, read through the journal store (a ranged GetObject each for notes on a sled,
 * 16 at a time; BatchGetItem of 100 for notes in the table), then one
 * PutObject of the assembled chunk (SDK default checksum), ${FLUSH_PUT_CONCURRENCY} chunks at a
 * time, as the flush does them. The note extents come from the primary's log, read before the
 * clock starts. Comparing the flush with this isolates the flush's own overhead from the cost of its I/O.
 */
async function rawFlushIo(harness: Harness, volumeId: string, uptoOp: number): Promise<{ ms: number; extents: number; bytes: number }> {
  const meta = await harness.deps.metas.get(volumeId, 0);
  if (!meta) throw new Error(`${volumeId} has no partition metadata`);
  const log = { volumeId, partition: 0, replicaId: meta.primary.replicaId };
  const index = new ExtentIndex(0);
  for (const entry of await harness.deps.logs.range(log, 0, uptoOp)) {
    if (entry.kind === 'write') index.apply(entry.offset, entry.length, { op: entry.op, noteId: entry.noteId, noteOffset: entry.offset });
    else index.apply(0, 0, { op: entry.op, noteId: '', noteOffset: 0 });
  }
  const { sledBuckets } = harness.config;
  const size = GEOMETRY.chunkSizeBytes;
  let extentsRead = 0;
  let bytes = 0;
  const started = performance.now();
  await mapLimit(
    Array.from({ length: CHUNKS }, (_, chunk) => chunk),
    FLUSH_PUT_CONCURRENCY,
    async (chunk) => {
      const extents = index.lookup(chunk * size, size);
      if (extents.length === 0) return;
      const assembled = Buffer.alloc(size);
      const parts = extents.map((extent) => ({ noteId: extent.noteId, start: extent.offset - extent.noteOffset, length: extent.length }));
      const payloads = await harness.deps.journal.readMany(meta.primary.sled, log, parts);
      payloads.forEach((payload, i) => payload.copy(assembled, extents[i]!.offset - chunk * size));
      extentsRead += parts.length;
      await harness.clients.s3.send(
        new PutObjectCommand({
          Bucket: sledBuckets[chunkSled(volumeId, 0, chunk, sledBuckets.length)],
          Key: `bench-rawio/${volumeId}/${chunk}`,
          Body: assembled,
          ContentLength: assembled.length,
        }),
      );
      bytes += size;
    },
  );
  return { ms: performance.now() - started, extents: extentsRead, bytes };
}

interface FlushSample {
  readonly label: string;
  readonly ops: number;
  readonly result: FlushResult;
  readonly ms: number;
  /** GC pauses on every thread during the flush. */
  readonly gcMs: number;
  readonly bytes: number;
  readonly cpu: Cpu;
  readonly raw: ReadonlyArray<{ bytes: number; ms: number; gcMs: number }>;
  readonly timeline: string[][];
  readonly phases: Array<{ phase: string; ms: number }>;
  /** SDK calls by command during the flush: calls and summed milliseconds. */
  readonly calls: ReadonlyMap<string, { calls: number; sumMs: number }>;
  /** The flush's unavoidable GETs and PUTs, done raw right after it. */
  readonly rawIo: { ms: number; extents: number; bytes: number };
}

/** Raw puts, the flush, raw puts: one interleaved sample of flush against raw PutObject. */
async function flushSample(
  harness: Harness,
  label: string,
  ops: number,
  volumeId: string,
  flush: Services,
  uptoOp: number,
  raw: RawPuts,
  orNewer = false,
): Promise<FlushSample> {
  // Each timed section starts from a collected heap on every thread: none pays for another's garbage.
  const settle = () => harness.cloud.settle();
  const before = await raw.run(volumeId, CHUNKS, harness.cloud);
  await settle();
  const pausesBefore = await harness.cloud.gcPauses();
  harness.timeline.reset();
  harness.active.current = harness.timeline;
  const marks = new PhaseMarks('flush');
  const measured = await measure(harness.cloud, async () => {
    harness.timeline.begin();
    marks.begin();
    return marks.end(await flush.flush.flush({ volumeId, partition: 0, uptoOp, orNewer }));
  });
  const gcMs = (await harness.cloud.gcPauses()) - pausesBefore;
  const phases = marks.finish();
  harness.active.current = undefined;
  const timeline = harness.timeline.rowsInTime();
  const calls = new Map([...harness.timeline.byCommand].map(([name, e]) => [name, { calls: e.calls, sumMs: e.sumMs }]));
  const bytes = measured.value.chunksWritten * GEOMETRY.chunkSizeBytes;
  await settle();
  const rawIo = await rawFlushIo(harness, volumeId, measured.value.flushedOp);
  const after = await raw.run(volumeId, measured.value.chunksWritten, harness.cloud);
  return { label, ops, result: measured.value, ms: measured.ms, gcMs, bytes, cpu: measured.cpu, raw: [before, after], timeline, phases, calls, rawIo };
}

// ---------------------------------------------------------------- the run

interface Harness {
  readonly cloud: CloudHost;
  readonly config: ServiceConfig;
  readonly clients: AwsClients;
  readonly deps: ReturnType<typeof partitionDeps>;
  readonly checkpoints: S3DynamoDbCheckpointStore;
  readonly timeline: CommandTimeline;
  /** The timeline the instrumented clients report into right now (only while something is measured). */
  readonly active: { current?: CommandTimeline };
  readonly failures: string[];
}

function fail(harness: Harness, what: string): void {
  harness.failures.push(what);
  console.log(`  FAILED: ${what}`);
}

/** Services whose SDK calls go into the harness's active timeline. */
function instrumentedServices(harness: Harness, config: ServiceConfig): Services {
  const services = createServices(config);
  timeCommands(services.clients.s3, () => harness.active.current);
  timeCommands(services.clients.dynamodb, () => harness.active.current);
  return services;
}

interface RebuildOutcome {
  readonly report: RebuildReport;
  readonly wallMs: number;
  readonly cpu: Cpu;
  readonly timeline: string[][];
  readonly phases: Array<{ phase: string; ms: number }>;
}

/** Loses the secondary of the volume's partition and rebuilds it, timed; then checks both replicas. */
async function loseAndRebuild(harness: Harness, services: Services, volumeId: string, image: Buffer): Promise<RebuildOutcome> {
  harness.timeline.reset();
  harness.active.current = harness.timeline;
  const marks = new PhaseMarks('rebuild');
  const measured = await measure(harness.cloud, async () => {
    marks.begin();
    return marks.end(await services.rebuild.loseReplica(volumeId, 0, 'secondary'));
  });
  const phases = marks.finish();
  harness.active.current = undefined;
  const timeline = harness.timeline.rows();
  const meta = await harness.deps.metas.get(volumeId, 0);
  if (!meta || meta.rebuild) fail(harness, `${volumeId}: the partition metadata still says it is rebuilding`);
  else {
    if (meta.secondary.replicaId !== measured.value.replicaId) fail(harness, `${volumeId}: the secondary is ${meta.secondary.replicaId}, not the rebuilt ${measured.value.replicaId}`);
    for (const role of ['primary', 'secondary'] as const) {
      const started = performance.now();
      const got = await readReplica(harness.deps, meta, role);
      const diff = difference(got, image);
      const who = role === 'primary' ? `survivor ${meta.primary.replicaId}` : `rebuilt ${meta.secondary.replicaId}`;
      if (diff) fail(harness, `${volumeId}: after the rebuild, the ${who} reads back wrong: ${diff}`);
      else console.log(`  after:  the ${who} (its own chunk map, log and journal) reads back all ${fmt(PARTITION_BYTES / MIB, 0)} MiB identical (${fmt((performance.now() - started) / 1000, 1)} s)`);
    }
  }
  return { report: measured.value, wallMs: measured.ms, cpu: measured.cpu, timeline, phases };
}

function printRebuild(label: string, outcome: RebuildOutcome): void {
  const { report } = outcome;
  console.log(
    `  ${label}: source ${report.source}, checkpoint op ${report.checkpointOp}, ops copied ${report.opsCopied}, notes copied ${report.notesCopied}, ` +
      `report.millis ${report.millis} ms, wall ${fmt(outcome.wallMs, 0)} ms`,
  );
  console.log(`  cpu:    ${cpuLine(outcome.cpu, outcome.wallMs)}`);
  console.log(indent(phaseTable(outcome.phases, outcome.wallMs), 4));
  console.log(indent(formatTable(['SDK command', 'calls', 'sum ms', 'mean ms', 'span ms'], outcome.timeline), 4));
}

function phaseTable(phases: ReadonlyArray<{ phase: string; ms: number }>, totalMs: number): string {
  return formatTable(
    ['phase (between the service\'s failpoints)', 'ms', '%'],
    phases.map(({ phase, ms }) => [phase, fmt(ms, 0), fmt((100 * ms) / totalMs, 0)]),
  );
}

const indent = (text: string, by: number) =>
  text
    .split('\n')
    .map((line) => ' '.repeat(by) + line)
    .join('\n');

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick');
  const number = (name: string, fallback: number, min: number): number => {
    const raw = argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be a whole number of at least ${min}, got "${raw}"`);
    return value;
  };
  const ops = number('ops', quick ? 5_000 : 20_000, 100);
  const checkpointAt = number('checkpoint-at', ops - Math.round(ops / 20), 1);
  if (checkpointAt >= ops) throw new Error(`--checkpoint-at must be below --ops (${ops})`);
  return {
    ops,
    checkpointAt,
    writers: number('writers', 32, 1),
    instances: number('instances', 1, 1),
    bigRounds: number('big-rounds', quick ? 2 : 4, 0),
    headRounds: number('head-rounds', quick ? 2 : 4, 0),
    headVolumes: number('head-volumes', quick ? 3 : 8, 1),
    tableNoteBytes: number('table-note-bytes', DEFAULT_TABLE_NOTE_BYTES, 0),
    inProcess: argv.includes('--in-process'),
    quick,
  };
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const options = parseOptions(argv);
  const began = performance.now();
  const cloud = await startCloud(options.inProcess);
  const config: ServiceConfig = { ...cloud.config, flushEveryOps: 0, checkpointEveryOps: NEVER, tableNoteBytes: options.tableNoteBytes };
  const clients = createAwsClients(config);
  const harness: Harness = {
    cloud,
    config,
    clients,
    deps: partitionDeps(clients, config),
    checkpoints: new S3DynamoDbCheckpointStore(clients.s3, clients.documents, config.tables.partitions, config.sledBuckets),
    timeline: new CommandTimeline(),
    active: {},
    failures: [],
  };
  const workload = new Workload(options.ops);
  const image = workload.image();
  const tailA = options.ops - options.checkpointAt;

  const cpus = os.cpus();
  console.log('Sleds recovery benchmark (bench/recovery.ts)');
  console.log(`machine:    ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${os.platform()} ${os.arch()}, ${fmt(os.totalmem() / GIB, 0)} GiB RAM, load ${os.loadavg().map((l) => fmt(l, 1)).join(' ')}`);
  console.log(
    `emulators:  fauxqs ${packageVersion('fauxqs')} (S3) and dynalite ${packageVersion('dynalite')} (DynamoDB), in memory, ${cloud.where}; ` +
      `AWS SDK ${packageVersion('@aws-sdk/client-s3')}; ${SLED_COUNT} sled buckets; automatic flushes off (flushEveryOps 0); ` +
      `notes of at most ${options.tableNoteBytes.toLocaleString('en')} bytes in the partitions table (SLEDS_TABLE_NOTE_BYTES), the others on their journal sleds`,
  );
  console.log(
    `geometry:   one-partition volumes of ${fmt(PARTITION_BYTES / MIB, 0)} MiB = ${CHUNKS} chunks of ${fmt(GEOMETRY.chunkSizeBytes / MIB, 0)} MiB; ` +
      `writes of ${BLOCK / KIB} KiB at random aligned offsets (${BLOCKS} blocks, ${workload.blocksWritten()} of them written)`,
  );
  console.log(
    `workload:   ${options.ops.toLocaleString('en')} committed ops per twin, the same writes in the same order on both twins; ` +
      `${options.writers} concurrent writers per twin over ${options.instances} createServices instance(s) of its own, one writer thread per twin, both twins at once`,
  );
  console.log(
    `twins:      A flushed to op ${options.checkpointAt.toLocaleString('en')} with exactly one checkpoint there (tail of ${tailA.toLocaleString('en')} ops); ` +
      `B never flushed before its rebuild, no checkpoint (full replay)`,
  );
  console.log(
    `rebuild:    services.rebuild.loseReplica(volume, 0, 'secondary'), timed by its report.millis (rebuild only) and by wall time (fence, promote, rebuild)`,
  );
  console.log(
    `flush:      services.flush.flush() on the ${options.ops.toLocaleString('en')}-op twins (A up to op ${options.checkpointAt.toLocaleString('en')}, B after its rebuild up to its newest op), ` +
      `MiB of chunk objects written / flush time; baseline: PutObject of as many ${fmt(GEOMETRY.chunkSizeBytes / MIB, 0)} MiB objects ` +
      `(with their ChecksumSHA256, to the chunks' buckets, ${FLUSH_PUT_CONCURRENCY} at a time; ${RAW_REPEATS} timed sections of the flush's size, each after a full GC) right before and right after each flush; ` +
      `both hash each body once: the raw PUT in the SDK's signer, the flush when it builds the chunk (its PUT then signs with that digest); ` +
      `also, right after each flush, the flush's own unavoidable requests done raw (every live note extent read through the journal store, then the chunk PUTs)`,
  );
  console.log(
    `timing:     a full GC on every thread before each timed section; phases between the failpoints the services pass (armed with an action that only records the time); ` +
      `SDK calls per command: count, summed latency, span from first start to last end; CPU of the bench thread and the emulators' threads`,
  );
  console.log(`targets:    rebuild from checkpoint >= ${TARGETS.speedup}x faster than full replay; flush MiB/s / raw PutObject MiB/s >= ${TARGETS.flushRatio}`);

  const ops = new Map<string, Services>();
  let failed: boolean;
  try {
    // ------------------------------------------------------------ setup
    const admin = instrumentedServices(harness, config);
    ops.set('admin', admin);
    const twinA = (await admin.volumes.create({ ...GEOMETRY, name: 'bench:recovery twin A' })).volumeId;
    const twinB = (await admin.volumes.create({ ...GEOMETRY, name: 'bench:recovery twin B' })).volumeId;
    console.log(`\n== setup: ${options.ops.toLocaleString('en')} writes to each twin (A ${twinA}, B ${twinB}) ==`);
    // One writer thread per twin, each with its own createServices instances: the SDK's CPU cost
    // spreads over two threads, and two heads of one partition would only race for op numbers.
    const done = [0, 0];
    const ticker = setInterval(() => {
      console.log(`  ... ${(done[0]! + done[1]!).toLocaleString('en')} of ${(2 * options.ops).toLocaleString('en')} writes, ${fmt((performance.now() - began) / 1000, 0)} s`);
    }, 15_000);
    const setup = await measure(cloud, () =>
      Promise.all(
        [twinA, twinB].map((volumeId, twin) =>
          runWriter({ config, volumeId, ops: options.ops, writers: options.writers, instances: options.instances }, (count) => (done[twin] = count)),
        ),
      ),
    ).finally(() => clearInterval(ticker));
    harness.timeline.reset();
    for (const result of setup.value) harness.timeline.merge(result.commands, result.timeOrigin - performance.timeOrigin);
    const written = setup.value.reduce((sum, r) => sum + r.done, 0);
    const writerCpu = setup.value.map((r) => `${fmt(r.cpuMs, 0)} ms (${fmt((100 * r.cpuMs) / setup.ms, 0)}%)`).join(' and ');
    console.log(
      `  ${written.toLocaleString('en')} writes in ${fmt(setup.ms / 1000, 1)} s = ${fmt(written / (setup.ms / 1000), 0)} writes/s ` +
        `(${fmt(harness.timeline.totalCalls() / Math.max(1, written), 1)} SDK calls per write); cpu: writer threads ${writerCpu}` +
        (setup.cpu.emulatorMs === undefined ? '' : `, emulator threads ${fmt(setup.cpu.emulatorMs, 0)} ms (${fmt((100 * setup.cpu.emulatorMs) / setup.ms, 0)}%)`),
    );
    console.log(indent(formatTable(['SDK command', 'calls', 'sum ms', 'mean ms', 'span ms'], harness.timeline.rows()), 4));
    const writeFailures = setup.value.flatMap((r) => r.failures);
    if (writeFailures.length > 0) fail(harness, `${writeFailures.length} writes failed: ${writeFailures.filter(Boolean).join('; ')}`);
    for (const [name, volumeId] of [['A', twinA], ['B', twinB]] as const) {
      const meta = await harness.deps.metas.get(volumeId, 0);
      if (!meta) {
        fail(harness, `twin ${name} has no partition metadata`);
        continue;
      }
      const tails = await Promise.all([meta.primary, meta.secondary].map(async (replica) => (await harness.deps.logs.tail({ volumeId, partition: 0, replicaId: replica.replicaId }))?.op ?? 0));
      if (tails.some((tail) => tail !== options.ops)) fail(harness, `twin ${name}: the replicas' logs end at ops ${tails.join(' and ')}, not ${options.ops}`);
      else console.log(`  twin ${name}: both replicas' logs hold ops 1 to ${options.ops.toLocaleString('en')}`);
    }

    const raw = new RawPuts(clients, config.sledBuckets);
    const flushSamples: FlushSample[] = [];
    // Twin A: one flush to the checkpoint op with K = that op, so exactly one checkpoint lands there.
    console.log(`\n== twin A: flush to op ${options.checkpointAt.toLocaleString('en')} with one checkpoint ==`);
    const flushA = instrumentedServices(harness, { ...config, checkpointEveryOps: options.checkpointAt });
    ops.set('flushA', flushA);
    const sampleA = await flushSample(harness, `twin A, ops 1-${options.checkpointAt}`, options.checkpointAt, twinA, flushA, options.checkpointAt, raw);
    flushSamples.push(sampleA);
    printFlush(sampleA);
    const recordsA = await harness.checkpoints.list(twinA, 0);
    if (sampleA.result.flushedOp !== options.checkpointAt) fail(harness, `twin A flushed to op ${sampleA.result.flushedOp}, not ${options.checkpointAt}`);
    if (recordsA.length !== 1 || recordsA[0]?.op !== options.checkpointAt) {
      fail(harness, `twin A has checkpoints at ops [${recordsA.map((r) => r.op).join(', ')}], not exactly one at ${options.checkpointAt}`);
    } else console.log(`  checkpoint store: exactly one checkpoint of twin A, at op ${recordsA[0].op} (${recordsA[0].key})`);
    const recordsB = await harness.checkpoints.list(twinB, 0);
    if (recordsB.length !== 0) fail(harness, `twin B has checkpoints at ops [${recordsB.map((r) => r.op).join(', ')}]; it must have none`);
    else console.log('  checkpoint store: twin B has no checkpoint');

    // ------------------------------------------------------------ the rebuilds
    const expectedImage = image;
    const outcomes = new Map<string, RebuildOutcome>();
    for (const [name, volumeId] of [['A', twinA], ['B', twinB]] as const) {
      console.log(`\n== twin ${name}: lose the secondary and rebuild it ==`);
      const started = performance.now();
      const before = await readPublic(config, volumeId);
      const diff = difference(before, expectedImage);
      if (diff) fail(harness, `twin ${name}: before the rebuild, the partition reads back wrong: ${diff}`);
      else console.log(`  before: the partition reads back all ${fmt(PARTITION_BYTES / MIB, 0)} MiB as written (${fmt((performance.now() - started) / 1000, 1)} s)`);
      const rebuilder = instrumentedServices(harness, config);
      ops.set(`rebuild${name}`, rebuilder);
      const outcome = await loseAndRebuild(harness, rebuilder, volumeId, expectedImage);
      outcomes.set(name, outcome);
      printRebuild(name === 'A' ? 'from checkpoint' : 'full replay', outcome);
      const { report } = outcome;
      const expected =
        name === 'A'
          ? { source: 'checkpoint', checkpointOp: options.checkpointAt, opsCopied: tailA + 1, notesCopied: tailA }
          : { source: 'replay', checkpointOp: 0, opsCopied: options.ops + 1, notesCopied: options.ops };
      const got = { source: report.source, checkpointOp: report.checkpointOp, opsCopied: report.opsCopied, notesCopied: report.notesCopied };
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        fail(harness, `twin ${name}: the rebuild reported ${JSON.stringify(got)}, expected ${JSON.stringify(expected)} (ops include the failover's epoch entry)`);
      }
      if (report.skippedCheckpoints.length > 0) fail(harness, `twin ${name}: the rebuild skipped checkpoints ${JSON.stringify(report.skippedCheckpoints)}`);
    }

    // ------------------------------------------------------------ flush of twin B (20,000 ops, unflushed)
    console.log(`\n== twin B: flush all ${(options.ops + 1).toLocaleString('en')} ops (after its rebuild; no checkpoint) ==`);
    const flushB = instrumentedServices(harness, config);
    ops.set('flushB', flushB);
    const sampleB = await flushSample(harness, `twin B, ops 1-${options.ops + 1}`, options.ops + 1, twinB, flushB, NEVER, raw);
    flushSamples.push(sampleB);
    printFlush(sampleB);
    if (sampleB.result.flushedOp !== options.ops + 1) fail(harness, `twin B flushed to op ${sampleB.result.flushedOp}, not ${options.ops + 1}`);
    {
      const started = performance.now();
      const diff = difference(await readPublic(config, twinB), expectedImage);
      if (diff) fail(harness, `twin B: after its flush, the partition reads back wrong: ${diff}`);
      else console.log(`  after:  the partition (now all chunk objects) reads back identical (${fmt((performance.now() - started) / 1000, 1)} s)`);
    }

    // The emulators keep every object in memory; a smaller heap pauses less in what follows.
    for (const volumeId of [twinA, twinB]) await admin.volumes.delete(volumeId);

    // ------------------------------------------------------------ twins H: the head flushes its own writes
    // The embedded cloud's way: one process writes the partition under its head lease, keeps the
    // payloads of its notes until they are flushed, and its flush poller flushes from that view.
    // One flush of 16 MiB takes about 100 ms, so there are several such volumes to damp noise.
    console.log(
      `\n== twins H1-H${options.headVolumes}: the same ${options.ops.toLocaleString('en')} writes by one process that holds the head lease, then that process flushes ` +
        `(head lease ${DEFAULT_HEAD_LEASE_MS} ms, head cache ${DEFAULT_HEAD_CACHE_MIB} MiB: the embedded cloud's defaults) ==`,
    );
    const headSamples: FlushSample[] = [];
    const roundSamples: FlushSample[] = [];
    let twinH = '';
    let headServices: Services | undefined;
    for (let twin = 1; twin <= options.headVolumes; twin++) {
      headServices = instrumentedServices(harness, { ...config, headLeaseMs: DEFAULT_HEAD_LEASE_MS, headCacheMib: DEFAULT_HEAD_CACHE_MIB });
      ops.set(`head${twin}`, headServices);
      twinH = (await headServices.volumes.create({ ...GEOMETRY, name: `bench:recovery twin H${twin}` })).volumeId;
      const headWriteFailures: string[] = [];
      const headSetup = await measure(cloud, () => fill(twinH, workload, [headServices as Services], options.writers, { done: 0 }, headWriteFailures));
      console.log(`  H${twin}: ${options.ops.toLocaleString('en')} writes by ${options.writers} writers in one services instance in ${fmt(headSetup.ms / 1000, 1)} s`);
      if (headWriteFailures.length > 0) fail(harness, `twin H${twin}: ${headWriteFailures.length} writes failed: ${headWriteFailures.filter(Boolean).join('; ')}`);
      const sample = await flushSample(harness, `twin H${twin}, ops 1-${options.ops}, own process`, options.ops, twinH, headServices, NEVER, raw, true);
      headSamples.push(sample);
      printFlush(sample);
      if (sample.result.flushedOp !== options.ops) fail(harness, `twin H${twin} flushed to op ${sample.result.flushedOp}, not ${options.ops}`);
      const diff = difference(await readPublic(config, twinH), image);
      if (diff) fail(harness, `twin H${twin}: after its flush, the partition reads back wrong: ${diff}`);
      if (twin < options.headVolumes) await admin.volumes.delete(twinH);
    }
    if (headServices && options.headRounds > 0) {
      // Steady state on the last twin: more writes, then a flush, which now rewrites flushed chunks.
      const headImage = Buffer.from(image);
      const random = prng(SEED + 2);
      for (let round = 0; round < options.headRounds; round++) {
        // Distinct blocks within a round, so concurrent writers cannot reorder two writes to one block.
        const blocks = [...Array(BLOCKS).keys()].sort(() => random() - 0.5).slice(0, HEAD_ROUND_OPS);
        const writer = headServices;
        await mapLimit(blocks, options.writers, async (block) => {
          const payload = randomBytes(BLOCK);
          await writer.data.write(twinH, block * BLOCK, payload);
          payload.copy(headImage, block * BLOCK);
        });
        const sample = await flushSample(harness, `twin H${options.headVolumes}, +${HEAD_ROUND_OPS} ops, round ${round + 1}`, HEAD_ROUND_OPS, twinH, writer, NEVER, raw, true);
        roundSamples.push(sample);
        const expectedOp = options.ops + (round + 1) * HEAD_ROUND_OPS;
        if (sample.result.flushedOp !== expectedOp) fail(harness, `twin H${options.headVolumes} round ${round + 1} flushed to op ${sample.result.flushedOp}, not ${expectedOp}`);
      }
      printFlush(roundSamples.at(-1) as FlushSample, 'last round');
      const diff = difference(await readPublic(config, twinH), headImage);
      if (diff) fail(harness, `twin H${options.headVolumes}: after its rounds, the partition reads back wrong: ${diff}`);
    }
    console.log('  after:  every twin H reads back identical, through a process that never saw the payloads');

    // ------------------------------------------------------------ 1 MiB notes, for comparison
    const bigSamples: FlushSample[] = [];
    if (options.bigRounds > 0) {
      console.log(`\n== for comparison: ${options.bigRounds} rounds of one 1 MiB note per chunk, then a flush ==`);
      const bigServices = instrumentedServices(harness, config);
      ops.set('big', bigServices);
      const volumeC = (await bigServices.volumes.create({ ...GEOMETRY, name: 'bench:recovery 1 MiB notes' })).volumeId;
      let last: Buffer[] = [];
      for (let round = 0; round < options.bigRounds; round++) {
        last = Array.from({ length: CHUNKS }, () => randomBytes(GEOMETRY.chunkSizeBytes));
        await mapLimit(last, 8, (bytes, chunk) => bigServices.data.write(volumeC, chunk * GEOMETRY.chunkSizeBytes, bytes));
        const sample = await flushSample(harness, `1 MiB notes, round ${round + 1}`, CHUNKS, volumeC, bigServices, NEVER, raw);
        bigSamples.push(sample);
        if (sample.result.chunksWritten !== CHUNKS) fail(harness, `1 MiB notes round ${round + 1}: the flush wrote ${sample.result.chunksWritten} chunks, not ${CHUNKS}`);
      }
      printFlush(bigSamples.at(-1) as FlushSample, 'last round');
      const diff = difference(await readPublic(config, volumeC), Buffer.concat(last));
      if (diff) fail(harness, `1 MiB notes: after the last flush, the volume reads back wrong: ${diff}`);
      else console.log('  after:  the volume reads back the last round identical');
    }

    // ------------------------------------------------------------ summary
    const a = outcomes.get('A');
    const b = outcomes.get('B');
    console.log('\n== rebuild: from checkpoint + tail against full replay ==');
    let speedup = Number.NaN;
    if (a && b) {
      speedup = b.report.millis / a.report.millis;
      const rows = [
        ['source', a.report.source, b.report.source, ''],
        ['ops copied', String(a.report.opsCopied), String(b.report.opsCopied), ''],
        ['notes copied', String(a.report.notesCopied), String(b.report.notesCopied), ''],
        ['report.millis', String(a.report.millis), String(b.report.millis), `${fmt(speedup)}x`],
        ['wall ms', fmt(a.wallMs, 0), fmt(b.wallMs, 0), `${fmt(b.wallMs / a.wallMs)}x`],
        ['ms per op copied', fmt(a.report.millis / a.report.opsCopied, 2), fmt(b.report.millis / b.report.opsCopied, 2), ''],
        ...a.phases.map(({ phase, ms }) => {
          const other = b.phases.find((p) => p.phase === phase)?.ms ?? Number.NaN;
          return [`  ${phase}`, fmt(ms, 0), fmt(other, 0), `${fmt(other / ms)}x`];
        }),
      ];
      console.log(formatTable(['', 'A: checkpoint', 'B: replay', 'speedup'], rows));
    }
    console.log('\n== flush: chunk MiB/s against raw PutObject of the same bytes ==');
    const flushRows = [...flushSamples, ...headSamples, ...roundSamples, ...bigSamples].map((s) => {
      const rawBytes = s.raw.reduce((sum, r) => sum + r.bytes, 0);
      const rawMs = s.raw.reduce((sum, r) => sum + r.ms, 0);
      return [
        s.label,
        String(s.result.chunksWritten),
        fmt(s.ms, 0),
        fmt(mibPerSecond(s.bytes, s.ms)),
        fmt(mibPerSecond(rawBytes, rawMs)),
        fmt(mibPerSecond(s.bytes, s.ms) / mibPerSecond(rawBytes, rawMs)),
        String(s.calls.get('GetObject')?.calls ?? 0),
        String(s.calls.get('CopyObject')?.calls ?? 0),
        fmt(mibPerSecond(s.rawIo.bytes, s.rawIo.ms)),
        fmt(mibPerSecond(s.bytes, s.ms) / mibPerSecond(s.rawIo.bytes, s.rawIo.ms)),
      ];
    });
    console.log(
      formatTable(['flush', 'chunks', 'flush ms', 'flush MiB/s', 'raw PUT MiB/s', 'ratio', 'GETs', 'copies', 'GET+PUT MiB/s', 'vs GET+PUT'], flushRows),
    );
    console.log(
      'GETs and copies: the flush\'s own GetObject and CopyObject calls. GET+PUT: every live note extent read through the journal store (BatchGetItem or ranged GETs), then the chunk PUTs, done raw; ' +
        'a chunk that one note wrote whole is a server-side copy in the flush, so against GET+PUT it may exceed 1.',
    );
    const pooled = (samples: readonly FlushSample[]) => {
      const flushRate = mibPerSecond(
        samples.reduce((sum, s) => sum + s.bytes, 0),
        samples.reduce((sum, s) => sum + s.ms, 0),
      );
      const raws = samples.flatMap((s) => s.raw);
      const rawRate = mibPerSecond(
        raws.reduce((sum, r) => sum + r.bytes, 0),
        raws.reduce((sum, r) => sum + r.ms, 0),
      );
      const ioRate = mibPerSecond(
        samples.reduce((sum, s) => sum + s.rawIo.bytes, 0),
        samples.reduce((sum, s) => sum + s.rawIo.ms, 0),
      );
      // The same ratio with every GC pause taken out of both sides (a diagnostic of the in-memory emulators, not the target).
      const withoutGc =
        mibPerSecond(
          samples.reduce((sum, s) => sum + s.bytes, 0),
          samples.reduce((sum, s) => sum + s.ms - s.gcMs, 0),
        ) /
        mibPerSecond(
          raws.reduce((sum, r) => sum + r.bytes, 0),
          raws.reduce((sum, r) => sum + r.ms - r.gcMs, 0),
        );
      const gcShare = { flush: samples.reduce((sum, s) => sum + s.gcMs, 0) / samples.reduce((sum, s) => sum + s.ms, 0), raw: raws.reduce((sum, r) => sum + r.gcMs, 0) / raws.reduce((sum, r) => sum + r.ms, 0) };
      return { flushRate, rawRate, ratio: flushRate / rawRate, rawMedian: median(raws.map((r) => mibPerSecond(r.bytes, r.ms))), ioRate, withoutGc, gcShare };
    };
    const main20k = pooled(flushSamples);
    console.log(
      `${options.ops.toLocaleString('en')}-op twins pooled: flush ${fmt(main20k.flushRate)} MiB/s, raw PUT ${fmt(main20k.rawRate)} MiB/s (median round ${fmt(main20k.rawMedian)}), ratio ${fmt(main20k.ratio)}; ` +
        `the same GETs and PUTs done raw ${fmt(main20k.ioRate)} MiB/s, ratio ${fmt(main20k.flushRate / main20k.ioRate)}`,
    );
    const own = pooled(headSamples);
    const ownRatios = headSamples.map((s) => pooled([s]).ratio);
    console.log(
      `twins H, flushed by their own process, pooled: ${fmt(own.flushRate)} MiB/s vs raw PUT ${fmt(own.rawRate)} MiB/s, ratio ${fmt(own.ratio)} ` +
        `(each: ${ownRatios.map((r) => fmt(r)).join(', ')}; median ${fmt(median(ownRatios))}); the same GETs and PUTs done raw ${fmt(own.ioRate)} MiB/s`,
    );
    console.log(
      `  GC pauses took ${fmt(100 * own.gcShare.flush, 0)}% of the flushes' time and ${fmt(100 * own.gcShare.raw, 0)}% of the raw sections'; ` +
        `with every pause taken out of both, the ratio is ${fmt(own.withoutGc)} (a diagnostic, not the target)`,
    );
    const steady = roundSamples.length > 0 ? pooled(roundSamples) : undefined;
    if (steady) {
      console.log(
        `twin H rounds of ${HEAD_ROUND_OPS} ops (every chunk rewritten, old versions collected) pooled: ${fmt(steady.flushRate)} vs ${fmt(steady.rawRate)} MiB/s, ratio ${fmt(steady.ratio)} (comparison only)`,
      );
    }
    if (bigSamples.length > 0) {
      const big = pooled(bigSamples);
      console.log(
        `1 MiB notes pooled:     flush ${fmt(big.flushRate)} MiB/s, raw PUT ${fmt(big.rawRate)} MiB/s, ratio ${fmt(big.ratio)}; ` +
          `same I/O raw ${fmt(big.ioRate)} MiB/s, ratio ${fmt(big.flushRate / big.ioRate)} (comparison only)`,
      );
    }

    console.log('\n== summary ==');
    console.log(`setup:   ${(2 * options.ops).toLocaleString('en')} writes in ${fmt(setup.ms / 1000, 1)} s`);
    console.log(
      `rebuild: from checkpoint ${a?.report.millis ?? '?'} ms vs full replay ${b?.report.millis ?? '?'} ms = ${fmt(speedup)}x faster; ` +
        `target >= ${TARGETS.speedup}x: ${speedup >= TARGETS.speedup ? 'yes' : 'NO'}`,
    );
    console.log(
      `flush:   by the head's own process (embedded cloud), ${options.ops.toLocaleString('en')} ops, ${headSamples.length} volumes pooled: ${fmt(own.flushRate)} MiB/s vs raw PutObject ${fmt(own.rawRate)} MiB/s = ratio ${fmt(own.ratio)}; ` +
        `target >= ${TARGETS.flushRatio}: ${own.ratio >= TARGETS.flushRatio ? 'yes' : 'NO'}${steady ? `; steady-state rounds ${fmt(steady.ratio)}` : ''}`,
    );
    console.log(
      `         by another process (AWS: the flush Lambda; no lease, no payloads): ${fmt(main20k.flushRate)} MiB/s vs ${fmt(main20k.rawRate)} MiB/s = ratio ${fmt(main20k.ratio)}; ` +
        `target >= ${TARGETS.flushRatio}: ${main20k.ratio >= TARGETS.flushRatio ? 'yes' : 'NO'} ` +
        `(live 4 KiB notes: ${options.tableNoteBytes >= BLOCK ? 'in the table, 100 per BatchGetItem' : 'on the sleds, one GET each'})`,
    );
    if (a) {
      const wholeLog = a.phases
        .filter(({ phase }) => phase === PHASES.rebuild?.dropped || phase === PHASES.rebuild?.['base-restored'])
        .reduce((sum, { ms }) => sum + ms, 0);
      console.log(
        `         A spends ${fmt(wholeLog, 0)} ms (${fmt((100 * wholeLog) / a.wallMs, 0)}%) in phases that scale with the whole log ` +
          `(dropping the lost replica, reading the survivor's log from op 1), not with its ${tailA.toLocaleString('en')}-op tail`,
      );
    }
    for (const sample of [...flushSamples, ...headSamples.slice(0, 1)]) {
      const gets = sample.calls.get('GetObject');
      const batches = sample.calls.get('BatchGetItem');
      const queries = sample.calls.get('Query');
      console.log(
        `         flush of ${sample.label}: ${gets?.calls ?? 0} GETs, ${batches?.calls ?? 0} BatchGetItems and ${queries?.calls ?? 0} log Queries (${fmt(queries?.sumMs ?? 0, 0)} ms, one after another) ` +
          `to write ${sample.result.chunksWritten} chunks of ${fmt(GEOMETRY.chunkSizeBytes / MIB, 0)} MiB; ` +
          `those note reads and PUTs alone, done raw, take ${fmt(sample.rawIo.ms, 0)} ms of its ${fmt(sample.ms, 0)} ms`,
      );
    }
    console.log(`checks:  ${harness.failures.length === 0 ? 'all read-backs identical, rebuild sources and counts as expected' : `${harness.failures.length} FAILED (see above)`}`);
    failed = harness.failures.length > 0;
  } finally {
    for (const services of ops.values()) services.clients.destroy();
    clients.destroy();
    await cloud.stop();
  }
  console.log(`total run time ${fmt((performance.now() - began) / 1000, 1)} s`);
  return failed ? 1 : 0;
}

function printFlush(sample: FlushSample, note?: string): void {
  const { result } = sample;
  console.log(
    `  flush${note ? ` (${note})` : ''}: ${result.chunksWritten} chunks (${fmt(sample.bytes / MIB, 0)} MiB) to op ${result.flushedOp} in ${fmt(sample.ms, 0)} ms = ` +
      `${fmt(mibPerSecond(sample.bytes, sample.ms))} MiB/s; raw PutObject of the same bytes before/after: ` +
      `${sample.raw.map((r) => `${fmt(r.ms, 0)} ms (${fmt(mibPerSecond(r.bytes, r.ms))} MiB/s)`).join(' / ')}` +
      `${result.checkpoint ? `; wrote checkpoint at op ${result.checkpoint.op}` : ''}; notes trimmed ${result.notesTrimmed}, chunks collected ${result.chunksCollected}`,
  );
  console.log(
    `  same I/O raw: ${sample.rawIo.extents} live note extents read through the journal store + ${fmt(sample.rawIo.bytes / MIB, 0)} chunk PUTs in ${fmt(sample.rawIo.ms, 0)} ms ` +
      `(${fmt(mibPerSecond(sample.rawIo.bytes, sample.rawIo.ms))} MiB/s): the flush takes ${fmt(sample.ms / sample.rawIo.ms)}x as long`,
  );
  console.log(`  cpu:    ${cpuLine(sample.cpu, sample.ms)}`);
  const rawMs = sample.raw.reduce((sum, r) => sum + r.ms, 0);
  const rawGc = sample.raw.reduce((sum, r) => sum + r.gcMs, 0);
  console.log(`  GC pauses (every thread): ${fmt(sample.gcMs, 0)} ms during the flush; ${fmt(rawGc, 0)} ms during the raw sections' ${fmt(rawMs, 0)} ms`);
  console.log(indent(phaseTable(sample.phases, sample.ms), 4));
  console.log(indent(formatTable(['SDK command', 'calls', 'sum ms', 'mean ms', 'first sent at ms', 'last done at ms'], sample.timeline), 4));
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
} else if ((workerData as { role?: string } | null)?.role === WRITER_ROLE) {
  void writeInWorker(workerData as WriterTask);
}
