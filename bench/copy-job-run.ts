/**
 * bench:copy: one copy job through the API, start to end (what it cost, its states' times, the
 * hydration probe), the harness's warm-up job, and reading targets back.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { batchesOf } from '../lib/copy-jobs/copy-job-batches.js';
import type { CopyPlan } from '../lib/copy-jobs/copy-plan.js';
import type { LinkSharing } from '../lib/sleds/bandwidth.js';
import { planCopyJob, planDirectCopy } from '../lib/copy-jobs/planner.js';
import { COPY_BATCH_CONCURRENCY, COPY_JOB_STATES } from '../lib/copy-jobs/states.js';
import { HydrationProbe } from './copy-hydration.js';
import {
  GEOMETRY,
  IO_BYTES,
  JOB_TIMEOUT_MS,
  POLL_MS,
  api,
  deleteVolumes,
  expectStatus,
  loadAverage,
  mibs,
  sleep,
  startHarness,
  type Harness,
  type JobMode,
  type Reply,
} from './copy-harness.js';
import { SdkCallCounter, fmt, processCpuMs } from './support.js';

// ---------------------------------------------------------------- one copy job

export interface JobRequest {
  readonly count: number;
  readonly fanout: number;
  readonly mode: JobMode;
  readonly sleds: number;
  readonly capBytesPerSecond: number | undefined;
  /** Probe the targets' reads while the job hydrates them (copy-hydration.ts); failures go to `failures`. */
  readonly probe?: { readonly readBytes: number; readonly failures: string[]; readonly label: string };
}

export interface JobResult {
  readonly request: JobRequest;
  readonly jobId: string;
  readonly state: string;
  readonly error?: string;
  readonly volumeIds: readonly string[];
  /** startedCopyingAt -> finishedAt: the copy rounds (each target chunk's SHA-256 taken as it is copied), finalize and clean-up. */
  readonly phaseSeconds: number;
  /** POST -> the first poll that saw the job ended. */
  readonly wallSeconds: number;
  /** From the execution's events: the Plan, copy-rounds, finalize (check the recorded SHA-256s, head-node items, mark available) and clean-up states. */
  readonly planSeconds: number;
  readonly roundsSeconds: number;
  readonly verifySeconds: number;
  readonly cleanUpSeconds: number;
  readonly bytesCopied: number;
  readonly chunksCopied: number;
  readonly intermediaries: number;
  readonly plan: CopyPlan;
  /** Whether the rebuilt plan draws the same fan-out tree as the job's own. */
  readonly planMatches: boolean;
  /** Copy tasks running at once (as the state machine batches them), and CopyObject calls in flight. */
  readonly taskConcurrency: number;
  readonly copiesInFlight: { peak: number; mean: number };
  readonly calls: SdkCallCounter;
  /** The handlers' SDK calls up to the 202. */
  readonly requestCalls: SdkCallCounter;
  readonly cpuMs: number;
  readonly cpuPercent: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** POST -> finalize exited (every target available), from the execution's events. */
  readonly hydrationSeconds: number;
  /** When finalize began (Date ms): reads that ended before it read through to the snapshot. */
  readonly finalizeAt: number;
  readonly probe?: HydrationProbe;
}

/** Rebuilds the plan the job ran, from the same inputs the Plan state used. */
export function rebuildPlan(harness: Harness, request: JobRequest): CopyPlan {
  const input = { partitions: harness.partitions, targets: request.count, sledCount: request.sleds, maxSourceFanout: request.fanout };
  return request.mode === 'direct' ? planDirectCopy(input) : planCopyJob({ ...input, mode: request.mode });
}

/** How many copy tasks the state machine runs at once: per execution round, batches of tasks, COPY_BATCH_CONCURRENCY batches at a time. */
export function taskConcurrency(plan: CopyPlan): number {
  let most = 0;
  for (const batches of batchesOf(plan).values()) {
    const running = batches.slice(0, COPY_BATCH_CONCURRENCY).reduce((sum, batch) => sum + batch.length, 0);
    most = Math.max(most, running);
  }
  return most;
}

export interface WorkflowEventJson {
  readonly timestamp: string;
  readonly type: string;
  readonly state?: string;
}

/** When `state` was first entered and last exited (Date ms); NaN when absent. */
export function stateSpan(events: readonly WorkflowEventJson[], state: string): { entered: number; exited: number } {
  const entered = events.filter((e) => e.state === state && e.type === 'StateEntered').map((e) => Date.parse(e.timestamp));
  const exited = events.filter((e) => e.state === state && e.type === 'StateExited').map((e) => Date.parse(e.timestamp));
  if (entered.length === 0 || exited.length === 0) return { entered: Number.NaN, exited: Number.NaN };
  return { entered: Math.min(...entered), exited: Math.max(...exited) };
}

/** Seconds from the first time `state` was entered to the last time it was exited; 0 when absent. */
export function stateSeconds(events: readonly WorkflowEventJson[], state: string): number {
  const { entered, exited } = stateSpan(events, state);
  return Number.isNaN(entered) ? 0 : (exited - entered) / 1000;
}

export async function runJob(harness: Harness, request: JobRequest): Promise<JobResult> {
  const base = harness.cloud.apiUrl;
  const plan = rebuildPlan(harness, request);
  const calls = new SdkCallCounter();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  harness.counter.current = calls;
  harness.copies.reset();
  loop.enable();
  const cpuBefore = processCpuMs();
  const postedAtMs = Date.now();
  const posted = performance.now();
  const created = await expectStatus(
    api(base, 'POST', `/snapshots/${harness.snapshotId}/copies`, { count: request.count, maxSourceFanout: request.fanout, mode: request.mode }),
    202,
    `start a ${request.mode} copy job`,
  );
  const jobId = created.body.jobId as string;
  // What the request itself cost before the 202 (the targets are usable from then on).
  const requestCalls = new SdkCallCounter();
  requestCalls.add(calls);
  const probe = request.probe
    ? new HydrationProbe(
        base,
        harness.data,
        created.body.volumeIds as string[],
        { chunkBytes: GEOMETRY.chunkSizeBytes, chunks: GEOMETRY.sizeBytes / GEOMETRY.chunkSizeBytes, readBytes: request.probe.readBytes },
        posted,
        performance.now(),
        request.probe.failures,
        request.probe.label,
      )
    : undefined;
  probe?.start();
  let job: Reply['body'];
  for (;;) {
    job = (await expectStatus(api(base, 'GET', `/copy-jobs/${jobId}`), 200, `poll ${jobId}`)).body;
    if (job.state !== 'running') break;
    if (performance.now() - posted > JOB_TIMEOUT_MS) throw new Error(`copy job ${jobId} still runs after ${JOB_TIMEOUT_MS / 1000} s`);
    await sleep(POLL_MS);
  }
  const wallSeconds = (performance.now() - posted) / 1000;
  await probe?.stop();
  const cpuMs = processCpuMs() - cpuBefore;
  loop.disable();
  harness.counter.current = undefined;
  const copiesInFlight = harness.copies.read();
  const events = (await expectStatus(api(base, 'GET', `/copy-jobs/${jobId}/events`), 200, `events of ${jobId}`)).body.events as WorkflowEventJson[];
  const started = job.startedCopyingAt ? Date.parse(job.startedCopyingAt as string) : Number.NaN;
  const finished = job.finishedAt ? Date.parse(job.finishedAt as string) : Number.NaN;
  const finalize = stateSpan(events, COPY_JOB_STATES.finalize);
  return {
    request,
    jobId,
    state: job.state as string,
    ...(job.error ? { error: job.error as string } : {}),
    volumeIds: created.body.volumeIds as string[],
    phaseSeconds: (finished - started) / 1000,
    wallSeconds,
    planSeconds: stateSeconds(events, COPY_JOB_STATES.plan),
    roundsSeconds: stateSeconds(events, COPY_JOB_STATES.rounds),
    verifySeconds: stateSeconds(events, COPY_JOB_STATES.finalize),
    cleanUpSeconds: stateSeconds(events, COPY_JOB_STATES.cleanUp),
    bytesCopied: job.progress.bytesCopied as number,
    chunksCopied: job.progress.chunksCopied as number,
    intermediaries: job.progress.intermediariesCreated as number,
    plan,
    planMatches: job.plan === plan.fanoutTree,
    taskConcurrency: taskConcurrency(plan),
    copiesInFlight,
    calls,
    requestCalls,
    cpuMs,
    cpuPercent: (cpuMs / (wallSeconds * 1000)) * 100,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    loopDelayMaxMs: loop.max / 1e6,
    hydrationSeconds: (finalize.exited - postedAtMs) / 1000,
    finalizeAt: finalize.entered,
    ...(probe ? { probe } : {}),
  };
}

/** Reads `count` targets (the first, the last, and evenly spread between) through the API and compares them with the source. */
export async function verifyTargets(harness: Harness, volumeIds: readonly string[], count: number): Promise<string[]> {
  const picks = new Set<number>();
  const n = volumeIds.length;
  for (let i = 0; i < Math.min(count, n); i++) picks.add(count <= 1 ? 0 : Math.round((i * (n - 1)) / (count - 1)));
  const problems: string[] = [];
  await Promise.all(
    [...picks].map(async (index) => {
      const volumeId = volumeIds[index]!;
      const offsets = Array.from({ length: GEOMETRY.sizeBytes / IO_BYTES }, (_, i) => i * IO_BYTES);
      await Promise.all(
        offsets.map(async (offset) => {
          const response = await fetch(`${harness.cloud.apiUrl}/volumes/${volumeId}/data?offset=${offset}&length=${IO_BYTES}`);
          const bytes = Buffer.from(await response.arrayBuffer());
          if (response.status !== 200) problems.push(`target ${index} (${volumeId}) at ${offset}: HTTP ${response.status} ${bytes.toString('utf8', 0, 200)}`);
          else if (!bytes.equals(harness.data.subarray(offset, offset + IO_BYTES))) {
            problems.push(`target ${index} (${volumeId}) at ${offset}: ${bytes.length} bytes that differ from the snapshot's`);
          }
        }),
      );
    }),
  );
  return problems;
}

/** Reads sample targets back through the API; a failed job or a mismatch is a correctness failure. */
export async function checkTargets(harness: Harness, result: JobResult, verify: number, label: string, failures: string[]): Promise<void> {
  const began = performance.now();
  if (result.state !== 'succeeded') {
    failures.push(`${label}: job ${result.jobId} ended ${result.state}: ${result.error ?? ''}`);
    console.log(`  the job ${result.state}; nothing read back`);
    return;
  }
  const problems = await verifyTargets(harness, result.volumeIds, verify);
  failures.push(...problems.map((p) => `${label}: ${p}`));
  console.log(
    `  read back ${Math.min(verify, result.volumeIds.length)} target(s) through the API: ` +
      `${problems.length === 0 ? 'identical to the snapshot' : 'MISMATCH'} (${fmt((performance.now() - began) / 1000)} s)`,
  );
}

export function callSummary(counter: SdkCallCounter): string {
  return [...counter.calls]
    .sort((a, b) => b[1] - a[1])
    .map(([name, calls]) => `${name} ${calls} (${fmt((counter.callMs.get(name) ?? 0) / calls)} ms)`)
    .join(', ');
}

export function describeJob(result: JobResult, modelSeconds: number | undefined): void {
  const { request: r, plan } = result;
  const chunkCopies = plan.tasks.reduce((sum, task) => sum + task.chunks.length, 0);
  console.log(
    `- ${r.mode}: job ${result.jobId} ${result.state}; copy phase ${fmt(result.phaseSeconds)} s, wall ${fmt(result.wallSeconds)} s` +
      (modelSeconds === undefined ? '' : `, model ${fmt(modelSeconds)} s (phase/model ${fmt(result.phaseSeconds / modelSeconds)})`),
  );
  console.log(
    `  states: plan ${fmt(result.planSeconds)} s, copy rounds ${fmt(result.roundsSeconds)} s, finalize (check + chunk maps + mark available) ${fmt(result.verifySeconds)} s, ` +
      `clean-up ${fmt(result.cleanUpSeconds)} s`,
  );
  console.log(
    `  plan: ${plan.tasks.length} tasks, ${chunkCopies} chunk copies (${mibs(chunkCopies * GEOMETRY.chunkSizeBytes)}), ${plan.intermediaries.length} intermediaries, ` +
      `${plan.mode === 'pipelined' ? `depth ${plan.rounds}` : plan.mode === 'swarm' ? `${plan.rounds} slots` : `${plan.rounds} rounds`}; the job reported ${result.chunksCopied} chunks and ${result.intermediaries} intermediaries; ` +
      `rebuilt plan ${result.planMatches ? 'matches' : 'DIFFERS FROM'} the job's`,
  );
  console.log(
    `  concurrency: ${result.taskConcurrency} copy tasks at once (batched), CopyObject in flight peak ${result.copiesInFlight.peak}, mean ${fmt(result.copiesInFlight.mean)}; ` +
      `process CPU ${fmt(result.cpuPercent, 0)}% of one core, machine load ${fmt(loadAverage(), 1)}; event-loop delay p99 ${fmt(result.loopDelayP99Ms)} ms, max ${fmt(result.loopDelayMaxMs)} ms`,
  );
  console.log(`  handler SDK calls: ${callSummary(result.calls)}`);
  console.log(`  of which before the 202 (creating the targets, borrowing the snapshot's chunk maps): ${callSummary(result.requestCalls)}`);
}

/** Starts a harness and runs its un-timed warm-up job: the first job builds the state machine (cdk synth in-process) and loads the handlers. */
export async function startWarmHarness(sleds: number, capBytesPerSecond: number | undefined, linkSharing?: LinkSharing): Promise<Harness> {
  const harness = await startHarness(sleds, capBytesPerSecond, linkSharing);
  const warm = await runJob(harness, { count: 1, fanout: 1, mode: 'direct', sleds, capBytesPerSecond });
  if (warm.state !== 'succeeded') throw new Error(`the warm-up copy job ${warm.jobId} ended ${warm.state}: ${warm.error ?? ''}`);
  await deleteVolumes(harness, warm.volumeIds);
  return harness;
}
