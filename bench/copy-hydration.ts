/**
 * bench:copy's hydration figures (issue 19, "copies usable at once"), measured on the very jobs
 * whose copy times the bench already reports:
 *
 * - time to usable: from the copy request (POST) to the first correct read of every target,
 *   one read per target, all sent the moment the 202 arrives;
 * - reads before hydration: while the job runs, reads of the targets (each still reading
 *   through to the snapshot's chunks) back to back; only those that ended before the finalize
 *   state began count, since finalize swaps targets to their own copies;
 * - hydrated reads: once the job succeeded, the same (target, offset) reads again, same size,
 *   same concurrency.
 *
 * Every read goes through the HTTP API and is compared with the snapshot's bytes; a read that
 * fails or differs is a correctness failure.
 */
import { performance } from 'node:perf_hooks';
import { SledBandwidth } from '../lib/sleds/bandwidth.js';
import { fmt, formatTable, percentile } from './support.js';

/** Reads in flight while the job runs, and again for the hydrated replay: light, so the copy figures hardly move. */
const SAMPLER_CONCURRENCY = 2;
/** The hydrated replay reads at least this many, even when the job was too quick for the sampler to get as many. */
const MIN_REPLAY = 32;

/** Where reads' waits for the capped sled link go while a probe listens; undefined otherwise. */
let linkWaits: number[] | undefined;
let watching = false;

/**
 * Times how long each chunk read waits for its sled's link (the bandwidth model queues a read
 * behind the copies already reserved on the same egress), to show where a read's time goes.
 * Copies cross two links and are not timed. Instrumentation for this bench only: it wraps
 * SledBandwidth.transfer once per process.
 */
export function watchReadLinkWaits(): void {
  if (watching) return;
  watching = true;
  const transfer = SledBandwidth.prototype.transfer;
  SledBandwidth.prototype.transfer = async function (this: SledBandwidth, from: number | undefined, to: number | undefined, bytes: number) {
    const into = from !== undefined && to === undefined ? linkWaits : undefined;
    const began = performance.now();
    await transfer.call(this, from, to, bytes);
    into?.push(performance.now() - began);
  };
}

export interface ProbeGeometry {
  readonly chunkBytes: number;
  readonly chunks: number;
  readonly readBytes: number;
}

interface Read {
  readonly target: number;
  readonly offset: number;
}

/** What one job's probe measured. */
export interface ProbeResult {
  /** POST -> 202. */
  readonly acceptedSeconds: number;
  /** POST -> every target's first read returned and was correct. */
  readonly usableSeconds: number;
  readonly firstReadMs: readonly number[];
  /** Latencies of the reads that ended before finalize began. */
  readonly beforeMs: readonly number[];
  /** Reads the sampler made during finalize or later: not counted on either side. */
  readonly straddling: number;
  /** Latencies of the same reads once the targets were available. */
  readonly hydratedMs: readonly number[];
  /** Waits of chunk reads for their sled's link (with the cap on): during the job, and in the hydrated replay. */
  readonly beforeLinkWaitMs: readonly number[];
  readonly hydratedLinkWaitMs: readonly number[];
}

export class HydrationProbe {
  private readonly firstReadMs: number[] = [];
  private readonly samples: Array<Read & { endedAt: number; latencyMs: number }> = [];
  private readonly beforeLinkWaitMs: number[] = [];
  private usableAt = Number.NaN;
  private stopping = false;
  private running: Promise<void> | undefined;

  /**
   * `postedAt` is performance.now() just before the POST; `acceptedAt` when the 202 arrived.
   * Problems (failed or differing reads) go to `failures`, labelled.
   */
  constructor(
    private readonly apiUrl: string,
    private readonly data: Buffer,
    private readonly volumeIds: readonly string[],
    private readonly geometry: ProbeGeometry,
    private readonly postedAt: number,
    private readonly acceptedAt: number,
    private readonly failures: string[],
    private readonly label: string,
  ) {}

  /** Starts reading: the first read of every target at once, then the sampler until stop(). */
  start(): void {
    linkWaits = this.beforeLinkWaitMs;
    this.running = (async () => {
      await Promise.all(
        this.volumeIds.map(async (_, target) => {
          const latency = await this.read({ target, offset: (target % this.geometry.chunks) * this.geometry.chunkBytes });
          if (latency !== undefined) this.firstReadMs.push(latency);
        }),
      );
      if (this.firstReadMs.length === this.volumeIds.length) this.usableAt = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: SAMPLER_CONCURRENCY }, async () => {
          while (!this.stopping) {
            const read = this.sampleRead(next++);
            const latencyMs = await this.read(read);
            if (latencyMs !== undefined) this.samples.push({ ...read, endedAt: Date.now(), latencyMs });
          }
        }),
      );
    })();
  }

  /** Stops the sampler (the job has ended) and waits for the reads in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    linkWaits = undefined;
  }

  /**
   * Replays the reads that ended before `finalizeAt` (Date ms: when the finalize state began) on
   * the now hydrated targets, and returns the figures. Call only once the job succeeded.
   */
  async finish(finalizeAt: number): Promise<ProbeResult> {
    const before = this.samples.filter((s) => s.endedAt < finalizeAt);
    const replay: Read[] = before.length >= MIN_REPLAY ? before : Array.from({ length: MIN_REPLAY }, (_, k) => this.sampleRead(k));
    const hydratedMs: number[] = [];
    const hydratedLinkWaitMs: number[] = [];
    linkWaits = hydratedLinkWaitMs;
    let next = 0;
    await Promise.all(
      Array.from({ length: SAMPLER_CONCURRENCY }, async () => {
        while (next < replay.length) {
          const latency = await this.read(replay[next++]!);
          if (latency !== undefined) hydratedMs.push(latency);
        }
      }),
    );
    linkWaits = undefined;
    return {
      acceptedSeconds: (this.acceptedAt - this.postedAt) / 1000,
      usableSeconds: (this.usableAt - this.postedAt) / 1000,
      firstReadMs: this.firstReadMs,
      beforeMs: before.map((s) => s.latencyMs),
      straddling: this.samples.length - before.length,
      hydratedMs,
      beforeLinkWaitMs: this.beforeLinkWaitMs,
      hydratedLinkWaitMs,
    };
  }

  /** The k-th sampled read: targets in turn, chunks and offsets within them spread. */
  private sampleRead(k: number): Read {
    const { chunkBytes, chunks, readBytes } = this.geometry;
    const n = this.volumeIds.length;
    const target = k % n;
    const chunk = (k * 7 + Math.floor(k / n)) % chunks;
    const within = ((k * 37) % Math.floor(chunkBytes / readBytes)) * readBytes;
    return { target, offset: chunk * chunkBytes + within };
  }

  /** One read through the API, checked; its latency in ms, or undefined (and a failure) when it failed or differed. */
  private async read({ target, offset }: Read): Promise<number | undefined> {
    const volumeId = this.volumeIds[target]!;
    const began = performance.now();
    const response = await fetch(`${this.apiUrl}/volumes/${volumeId}/data?offset=${offset}&length=${this.geometry.readBytes}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const latency = performance.now() - began;
    if (response.status !== 200) {
      this.failures.push(`${this.label}: read of target ${target} (${volumeId}) at ${offset}: HTTP ${response.status} ${bytes.toString('utf8', 0, 200)}`);
      return undefined;
    }
    if (!bytes.equals(this.data.subarray(offset, offset + this.geometry.readBytes))) {
      this.failures.push(`${this.label}: read of target ${target} (${volumeId}) at ${offset}: ${bytes.length} bytes that differ from the snapshot's`);
      return undefined;
    }
    return latency;
  }
}

/** Targets of issue 19's benchmark section. */
export const HYDRATION_TARGETS = { usableSeconds: 1, hydrationOverModel: 1.2, hydrationOverBound: 1.3, readRatio: 2 } as const;

/** One job's hydration figures beside the planner's model and the physical bound. */
export interface HydrationRow {
  readonly count: number;
  readonly mode: string;
  readonly probe: ProbeResult;
  /** POST -> finalize exited (every target available). */
  readonly hydrationSeconds: number;
  readonly modelSeconds: number;
  readonly boundSeconds: number;
  /** The model's time for the swarm plan of the same job (mode swarm runs it). */
  readonly swarmModelSeconds: number;
}

/** Prints the hydration table; returns its summary verdicts for N = `at`. */
export function reportHydration(rows: readonly HydrationRow[], at: number, readBytes: number): string[] {
  const p50 = (values: readonly number[]) => percentile(values, 50);
  const table = rows.map((r) => [
    String(r.count),
    r.mode,
    fmt(r.probe.acceptedSeconds),
    fmt(r.probe.usableSeconds),
    fmt(p50(r.probe.firstReadMs)),
    fmt(r.hydrationSeconds),
    fmt(r.modelSeconds),
    fmt(r.boundSeconds),
    fmt(r.hydrationSeconds / r.modelSeconds),
    fmt(r.modelSeconds / r.boundSeconds),
    fmt(r.hydrationSeconds / r.boundSeconds),
    fmt(r.swarmModelSeconds),
    fmt(r.swarmModelSeconds / r.boundSeconds),
    `${r.probe.beforeMs.length}`,
    fmt(p50(r.probe.beforeMs)),
    fmt(percentile(r.probe.beforeMs, 99)),
    fmt(p50(r.probe.hydratedMs)),
    fmt(p50(r.probe.beforeMs) / p50(r.probe.hydratedMs)),
    `${fmt(p50(r.probe.beforeLinkWaitMs))} / ${fmt(p50(r.probe.hydratedLinkWaitMs))}`,
  ]);
  const header = [
    'N', 'mode', '202 s', 'usable s', 'first read p50 ms', 'hydration s', 'model s', 'bound s', 'hydr/model', 'model/bound', 'hydr/bound', 'swarm model s', 'swarm/bound',
    'reads before', 'before p50 ms', 'before p99 ms', 'hydrated p50 ms', 'before/hydrated p50', 'link wait p50 ms before / hydrated',
  ];
  console.log(`\n== hydration (issue 19): reads of ${readBytes / 1024} KiB through the HTTP API, each compared with the snapshot ==`);
  console.log(formatTable(header, table));
  console.log(
    'usable = POST -> the first read of every target returned correct (all sent at the 202); hydration = POST -> finalize exited (every target available); ' +
      'bound = N x snapshot bytes / (S x link rate) + depth x chunk time; swarm model = the model of the swarm plan of the same job, each link in slot order (what mode swarm runs); reads before = reads during the job that ended before finalize began ' +
      `(${SAMPLER_CONCURRENCY} in flight), hydrated = the same reads replayed once the job succeeded; link wait = a chunk read's wait for its sled's capped link ` +
      '(queued behind the copies reserved on it), of every read in the job or the replay',
  );
  const verdicts: string[] = [];
  const yes = (ok: boolean) => (ok ? 'yes' : 'NO');
  for (const r of rows.filter((row) => row.count === at && row.mode !== 'direct')) {
    const usable = r.probe.usableSeconds;
    const overModel = r.hydrationSeconds / r.modelSeconds;
    const overBound = r.hydrationSeconds / r.boundSeconds;
    const reads = p50(r.probe.beforeMs) / p50(r.probe.hydratedMs);
    verdicts.push(
      `(4) N = ${at} ${r.mode}: time to usable ${fmt(usable)} s, target <= ${HYDRATION_TARGETS.usableSeconds} s: ${yes(usable <= HYDRATION_TARGETS.usableSeconds)}`,
      `(5) N = ${at} ${r.mode}: hydration / model ${fmt(overModel)}, target <= ${HYDRATION_TARGETS.hydrationOverModel}: ${yes(overModel <= HYDRATION_TARGETS.hydrationOverModel)}`,
      `(6) N = ${at} ${r.mode}: hydration / physical bound ${fmt(overBound)} (the model's plan: ${fmt(r.modelSeconds / r.boundSeconds)}), ` +
        `goal <= ${HYDRATION_TARGETS.hydrationOverBound}: ${yes(overBound <= HYDRATION_TARGETS.hydrationOverBound)}`,
      `(7) N = ${at} ${r.mode}: p50 read before hydration / hydrated ${fmt(reads)} (${fmt(p50(r.probe.beforeMs))} / ${fmt(p50(r.probe.hydratedMs))} ms, ` +
        `${r.probe.beforeMs.length} reads), target <= ${HYDRATION_TARGETS.readRatio}: ${yes(reads <= HYDRATION_TARGETS.readRatio)}`,
    );
  }
  if (verdicts.length === 0) verdicts.push(`(4)-(7) not measured: N = ${at} was not run with intermediaries (--quick or --counts)`);
  return verdicts;
}
