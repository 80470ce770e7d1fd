/**
 * bench:copy's two parts: the capped cases (part 1, with the hydration probe) and the cap-off
 * pairs of a job against raw CopyObject (part 2).
 */
import { performance } from 'node:perf_hooks';
import { CopyObjectCommand, DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { modelJobSeconds } from '../lib/copy-jobs/bandwidth-model.js';
import type { CopyPlan } from '../lib/copy-jobs/copy-plan.js';
import { physicalBound } from '../lib/copy-jobs/physical-bound.js';
import { scheduleSwarm, swarmPlan } from '../lib/copy-jobs/swarm-schedule.js';
import { mapLimit } from '../lib/shared/concurrency.js';
import { snapshotChunkKey } from '../lib/snapshots/snapshot.js';
import { MIB } from '../lib/units/sizes.js';
import type { HydrationRow, ProbeResult } from './copy-hydration.js';
import { GEOMETRY, TARGETS, deleteVolumes, mibs, stopHarness, yesNo, type Harness, type JobMode, type Options } from './copy-harness.js';
import { checkTargets, describeJob, rebuildPlan, runJob, startWarmHarness, taskConcurrency, type JobResult } from './copy-job-run.js';
import { fmt, formatTable, median, processCpuMs } from './support.js';

// ---------------------------------------------------------------- part 1: the cap on

export interface CapCase {
  readonly count: number;
  /** The model's time for the swarm plan (swarm-schedule.ts) of the same job, printed beside every mode. */
  readonly swarmModelSeconds: number;
  readonly jobs: Partial<Record<JobMode, JobResult & { modelSeconds: number; hydration?: ProbeResult }>>;
}

export async function runCappedCases(options: Options, failures: string[]): Promise<CapCase[]> {
  const harness = await startWarmHarness(options.sleds, options.capBytesPerSecond, options.linkSharing);
  const cases: CapCase[] = [];
  try {
    describeSnapshot(harness);
    for (const [countIndex, count] of options.counts.entries()) {
      const jobs: CapCase['jobs'] = {};
      console.log(`\n== N = ${count} targets, F = ${options.fanout}, cap ${mibs(options.capBytesPerSecond)}/s per sled link, shared ${options.linkSharing} ==`);
      for (const mode of options.modes) {
        const label = `N=${count} ${mode}`;
        const probe = { readBytes: options.readBytes, failures, label };
        const result = await runJob(harness, { count, fanout: options.fanout, mode, sleds: options.sleds, capBytesPerSecond: options.capBytesPerSecond, probe });
        const modelSeconds = modelJobSeconds(result.plan, { chunkBytes: GEOMETRY.chunkSizeBytes, sledBytesPerSecond: options.capBytesPerSecond });
        // The hydrated replay reads the targets before checkTargets reads two of them whole.
        const hydration = result.state === 'succeeded' && result.probe ? await result.probe.finish(result.finalizeAt) : undefined;
        jobs[mode] = { ...result, modelSeconds, ...(hydration ? { hydration } : {}) };
        describeJob(result, modelSeconds);
        await checkTargets(harness, result, options.verifyTargets, `N=${count} ${mode}`, failures);
      }
      const swarm = swarmPlan(scheduleSwarm({ partitions: harness.partitions, targets: count, sledCount: options.sleds, maxSourceFanout: options.fanout }));
      const params = { chunkBytes: GEOMETRY.chunkSizeBytes, sledBytesPerSecond: options.capBytesPerSecond };
      cases.push({ count, jobs, swarmModelSeconds: modelJobSeconds(swarm, params) });
      // Targets stay until the case is over; the last case's go when the cloud stops.
      if (countIndex < options.counts.length - 1) {
        const volumeIds = Object.values(jobs).flatMap((job) => job.volumeIds);
        const began = performance.now();
        await deleteVolumes(harness, volumeIds);
        console.log(`deleted the case's ${volumeIds.length} targets through the API in ${fmt((performance.now() - began) / 1000)} s`);
      }
    }
  } finally {
    await stopHarness(harness);
  }
  return cases;
}

/** Each probed job's hydration figures, with the physical bound for its N. */
export function hydrationRows(cases: readonly CapCase[], options: Options): HydrationRow[] {
  const snapshotChunks = GEOMETRY.sizeBytes / GEOMETRY.chunkSizeBytes;
  return cases.flatMap((c) =>
    options.modes.flatMap((mode) => {
      const job = c.jobs[mode];
      if (!job?.hydration) return [];
      const bound = physicalBound({
        targets: c.count,
        snapshotChunks,
        sledCount: options.sleds,
        maxSourceFanout: options.fanout,
        chunkBytes: GEOMETRY.chunkSizeBytes,
        sledBytesPerSecond: options.capBytesPerSecond,
      });
      return [
        {
          count: c.count,
          mode,
          probe: job.hydration,
          hydrationSeconds: job.hydrationSeconds,
          modelSeconds: job.modelSeconds,
          boundSeconds: bound.seconds,
          swarmModelSeconds: c.swarmModelSeconds,
        },
      ];
    }),
  );
}

/** Bytes the plan's chunk copies move. */
export function chunkBytes(plan: CopyPlan): number {
  return plan.tasks.reduce((sum, task) => sum + task.chunks.length, 0) * GEOMETRY.chunkSizeBytes;
}

export function describeSnapshot(harness: Harness): void {
  const sleds = harness.partitions.map((p) => p.sourceSled);
  const shared = new Set(sleds).size < sleds.length ? ' (SHARED: two partitions on one sled)' : '';
  console.log(
    `snapshot:  ${harness.snapshotId}, written and materialized in ${fmt(harness.snapshotSeconds, 1)} s; partitions on sleds ${sleds.join(', ')}${shared}` +
      (harness.rejectedSnapshots.length > 0 ? `; not used, as partitions shared a sled: ${harness.rejectedSnapshots.join('; ')}` : ''),
  );
}

// ---------------------------------------------------------------- part 2: the cap off

export interface RawResult {
  readonly seconds: number;
  readonly copies: number;
  readonly bytes: number;
  readonly concurrency: number;
  readonly cpuMs: number;
}

/** One job and one raw run, back to back, so that load from elsewhere on the machine hits both. */
export interface CapOffPair {
  readonly job: JobResult;
  readonly raw: RawResult;
  readonly jobFirst: boolean;
}

/**
 * Raw CopyObject of the job's chunk copies: from the snapshot's chunk objects to the same
 * destination buckets, `concurrency` at a time; then removes what it wrote.
 */
export async function rawCopies(harness: Harness, plan: CopyPlan, concurrency: number, pair: number): Promise<RawResult> {
  const buckets = harness.cloud.config.sledBuckets;
  const sourceSled = new Map(harness.partitions.map((p) => [p.partition, p.sourceSled]));
  const copies = plan.tasks.flatMap((task) =>
    task.chunks.map((chunk) => ({
      Bucket: buckets[task.to.sled]!,
      Key: `bench-baseline/${pair}/${task.id}/${chunk}`,
      CopySource: `${buckets[sourceSled.get(task.partition)!]!}/${snapshotChunkKey(harness.snapshotId, task.partition, chunk)}`,
    })),
  );
  const cpuBefore = processCpuMs();
  const began = performance.now();
  // The same request the chunk store sends (lib/aws/s3-chunk-store.ts copy), minus the bandwidth model.
  await mapLimit(copies, concurrency, (copy) => harness.clients.s3.send(new CopyObjectCommand({ ...copy, ChecksumAlgorithm: 'SHA256' })));
  const seconds = (performance.now() - began) / 1000;
  const cpuMs = processCpuMs() - cpuBefore;
  const byBucket = new Map<string, string[]>();
  for (const copy of copies) byBucket.set(copy.Bucket, [...(byBucket.get(copy.Bucket) ?? []), copy.Key]);
  await mapLimit([...byBucket], 16, ([Bucket, keys]) =>
    harness.clients.s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })),
  );
  return { seconds, copies: copies.length, bytes: copies.length * GEOMETRY.chunkSizeBytes, concurrency, cpuMs };
}

export async function runCapOff(options: Options, failures: string[]): Promise<CapOffPair[]> {
  const harness = await startWarmHarness(options.sleds, undefined);
  const pairs: CapOffPair[] = [];
  try {
    console.log(
      `
== cap off: N = ${options.capOffCount} targets, F = ${options.fanout}, pipelined, against raw CopyObject; ` +
        `${options.capOffPairs} pair${options.capOffPairs === 1 ? "" : "s"}, alternating which side goes first ==`,
    );
    describeSnapshot(harness);
    const request = { count: options.capOffCount, fanout: options.fanout, mode: 'pipelined', sleds: options.sleds, capBytesPerSecond: undefined } as const;
    const plan = rebuildPlan(harness, request);
    const concurrency = taskConcurrency(plan);
    for (let pair = 1; pair <= options.capOffPairs; pair++) {
      const jobFirst = pair % 2 === 1;
      let raw: RawResult | undefined;
      if (!jobFirst) raw = await rawCopies(harness, plan, concurrency, pair);
      const job = await runJob(harness, request);
      if (jobFirst) raw = await rawCopies(harness, plan, concurrency, pair);
      describeJob(job, undefined);
      console.log(
        `  raw CopyObject (${jobFirst ? 'after' : 'before'} the job): ${raw!.copies} copies (${mibs(raw!.bytes)}) at concurrency ${raw!.concurrency} ` +
          `in ${fmt(raw!.seconds)} s = ${fmt(raw!.bytes / MIB / raw!.seconds, 0)} MiB/s; job / raw ${fmt(raw!.seconds / job.phaseSeconds)} (copy phase)`,
      );
      // No deletes between pairs (about 8 s each): the targets (1 GiB per job at N = 32) go when the cloud stops.
      await checkTargets(harness, job, options.verifyTargets, `cap off pair ${pair}`, failures);
      pairs.push({ job, raw: raw!, jobFirst });
    }
    return pairs;
  } finally {
    await stopHarness(harness);
  }
}

/** Prints part 2's table; returns its verdict line. */
export function reportCapOff(pairs: readonly CapOffPair[], capOffCount: number): string {
  console.log('\n== part 2: sled cap off ==');
  const rows = pairs.map(({ job, raw }, i) => {
    const rawRate = raw.bytes / MIB / raw.seconds;
    const rate = (seconds: number) => job.bytesCopied / MIB / seconds;
    return {
      cells: [
        String(i + 1),
        fmt(job.phaseSeconds),
        fmt(rate(job.phaseSeconds), 0),
        fmt(rate(job.roundsSeconds), 0),
        fmt(rate(job.wallSeconds), 0),
        fmt(raw.seconds),
        fmt(rawRate, 0),
        fmt(rate(job.phaseSeconds) / rawRate),
        fmt(rate(job.roundsSeconds) / rawRate),
        fmt(rate(job.wallSeconds) / rawRate),
      ],
      phase: rate(job.phaseSeconds) / rawRate,
      rounds: rate(job.roundsSeconds) / rawRate,
      wall: rate(job.wallSeconds) / rawRate,
    };
  });
  console.log(
    formatTable(
      ['pair', 'job phase s', 'job MiB/s', 'rounds-only MiB/s', 'wall MiB/s', 'raw s', 'raw MiB/s', 'ratio', 'rounds-only ratio', 'wall ratio'],
      rows.map((r) => r.cells),
    ),
  );
  const first = pairs[0]!;
  console.log(
    `job MiB/s = chunk bytes the job copied (${mibs(first.job.bytesCopied)}: targets and intermediaries) / copy phase; the raw side copies the same ` +
      `${first.raw.copies} chunks from the snapshot's chunk objects into the same destination buckets, at the job's task concurrency (${first.raw.concurrency})`,
  );
  const copies = first.raw.copies;
  const cpu = (pick: (p: CapOffPair) => number) => fmt(median(pairs.map(pick)) / copies);
  console.log(
    `process CPU per chunk copy (median): job ${cpu((p) => p.job.cpuMs)} ms (POST to end, everything the job does), raw CopyObject ${cpu((p) => p.raw.cpuMs)} ms; ` +
      `job SDK calls per chunk copy: ${[...first.job.calls.calls].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${fmt(n / copies)}`).join(', ')}`,
  );
  const ratio = median(rows.map((r) => r.phase));
  return (
    `(3) cap off, N = ${capOffCount}: copy MiB/s / raw CopyObject, median of ${pairs.length} pairs, ${fmt(ratio)} ` +
    `(copy rounds only ${fmt(median(rows.map((r) => r.rounds)))}, wall ${fmt(median(rows.map((r) => r.wall)))}), ` +
    `target >= ${TARGETS.throughputRatio}: ${yesNo(ratio >= TARGETS.throughputRatio)}`
  );
}
