import { sha256Hex } from '../shared/hashing.js';
import { ConcurrentModificationError, SledsError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import { mapLimit } from '../shared/concurrency.js';
import type { ChunkMapStore, ChunkRef, NewPartitionWriter, PartitionMetaStore } from '../notes/ports.js';
import type { ChunkLocation, ChunkStore } from '../sleds/ports.js';
import type { SnapshotRepository } from '../snapshots/ports.js';
import { SnapshotNotFoundError } from '../snapshots/snapshot-service.js';
import { snapshotChunkKey, type Snapshot, type SnapshotPartition } from '../snapshots/snapshot.js';
import type { VolumeDataStore, VolumeRepository } from '../volumes/ports.js';
import { chunkKeyPrefix, type Volume } from '../volumes/volume.js';
import {
  MAX_TRACKED_TASKS,
  copyJobStatus,
  newCopyJobId,
  type CopyJobTree,
  type CopyTreeNode,
  type CopyJob, type CopyJobStatus, type CopyRequest } from './copy-job.js';
import { ChecksumMismatchError, CopyJobNotFoundError, SnapshotNotReadyError, TransientCopyError } from './errors.js';
import type { CopyJobRepository, PlanStore, VerifiedChunkRecords, WorkflowRunner, WorkflowTimeline } from './ports.js';
import { planCopyJob, planDirectCopy, type CopyNode, type CopyPlan, type CopyTask } from './planner.js';
import type { Telemetry } from '../observability/telemetry.js';
import { COPY_BATCH_CONCURRENCY } from './states.js';
import type { ChunkSwap } from './borrowed-chunks.js';
import { Hydration, jobHydration, targetHydration, type HydrationProgress, type JobHydration } from './hydration.js';
import { copyJobRestarts, type JobRestart } from './retry.js';

export interface CopyJobDeps {
  readonly jobs: CopyJobRepository;
  readonly plans: PlanStore;
  readonly verified: VerifiedChunkRecords;
  readonly snapshots: SnapshotRepository;
  readonly volumes: VolumeRepository;
  /** Everything that holds a volume's data, to remove partial targets of a failed job. */
  readonly volumeData: readonly VolumeDataStore[];
  /** Writes the targets' borrowed head-node items in batches (at the request). */
  readonly newPartitions: NewPartitionWriter;
  readonly metas: PartitionMetaStore;
  readonly chunkMaps: ChunkMapStore;
  readonly chunks: ChunkStore;
  readonly runner: () => WorkflowRunner;
  readonly sledCount: number;
  readonly clock?: () => Date;
  /** Where each batch's bytes and time are reported (copy throughput). */
  readonly telemetry?: Telemetry;
}

/** What `POST /snapshots/{id}/copies` answers. */
export interface CopyJobCreated {
  readonly jobId: string;
  readonly volumeIds: readonly string[];
  readonly executionArn: string;
}

/** The Plan state's result: per round, the batch numbers the Map iterates over. */
export interface PlannedRounds {
  readonly rounds: ReadonlyArray<{ readonly round: number; readonly batches: readonly number[] }>;
}

const MAX_BATCH_TASKS = 32;
const PARENT_WAIT_MS = 120_000;
/** Target partitions finalize verifies at once (reading the batches' records). */
const FINALIZE_CONCURRENCY = 32;
/** How often a batch reports its progress and so learns whether its job still runs. */
const PROGRESS_REPORT_MS = 1000;

/**
 * Adds a batch's progress to the job about once a second, not once per chunk or task: one
 * conditional write that also tells whether the job still runs (it fails once the job ended).
 */
class ProgressReporter {
  private chunks = 0;
  private intermediaries = 0;
  private roundTasks: Record<number, number> = {};
  private taskChunks: Record<string, number> = {};
  private last = Date.now();
  private reporting: Promise<boolean> = Promise.resolve(true);
  /** False once a report found the job ended. */
  running = true;

  constructor(
    private readonly jobs: CopyJobRepository,
    private readonly jobId: string,
    private readonly chunkBytes: number,
    /** Whether the job records chunks per task (see MAX_TRACKED_TASKS). */
    private readonly perTask: boolean,
  ) {}

  chunk(taskId: string): void {
    this.chunks++;
    if (this.perTask) this.taskChunks[taskId] = (this.taskChunks[taskId] ?? 0) + 1;
    this.maybeReport();
  }

  task(round: number, intermediary: boolean): void {
    this.roundTasks[round] = (this.roundTasks[round] ?? 0) + 1;
    if (intermediary) this.intermediaries++;
    this.maybeReport();
  }

  private maybeReport(): void {
    if (Date.now() - this.last >= PROGRESS_REPORT_MS) void this.report().catch(() => undefined);
  }

  /** Reports what is not reported yet; resolves to whether the job still runs. */
  async report(): Promise<boolean> {
    this.last = Date.now();
    const delta = {
      chunksCopied: this.chunks,
      bytesCopied: this.chunks * this.chunkBytes,
      intermediariesCreated: this.intermediaries,
      roundTasks: this.roundTasks,
      ...(this.perTask ? { taskChunks: this.taskChunks } : {}),
    };
    this.taskChunks = {};
    this.chunks = 0;
    this.intermediaries = 0;
    this.roundTasks = {};
    // One report at a time, in order; one that failed does not stop the next.
    this.reporting = this.reporting
      .catch(() => true)
      .then(async () => {
        const running = await this.jobs.reportProgress(this.jobId, delta);
        if (!running) this.running = false;
        return running;
      });
    return this.reporting;
  }
}

/** Target `index` of job `jobId` gets a volume id derived from both, so a retried request makes the same volumes. */
export function targetVolumeId(jobId: string, index: number): string {
  return `vol-${sha256Hex(`${jobId}/${index}`).slice(0, 17)}`;
}

/** The round in which the state machine runs a task: all at once when pipelined. */
function executionRound(plan: CopyPlan, task: CopyTask): number {
  return plan.mode === 'pipelined' ? 1 : task.round;
}

/** Splits each execution round's tasks, in plan order, into batches. */
function batchesOf(plan: CopyPlan): Map<number, CopyTask[][]> {
  const byRound = new Map<number, CopyTask[]>();
  for (const task of plan.tasks) {
    const round = executionRound(plan, task);
    const tasks = byRound.get(round);
    if (tasks) tasks.push(task);
    else byRound.set(round, [task]);
  }
  const batches = new Map<number, CopyTask[][]>();
  for (const [round, tasks] of byRound) {
    const size = Math.min(MAX_BATCH_TASKS, Math.max(1, Math.ceil(tasks.length / COPY_BATCH_CONCURRENCY)));
    const split: CopyTask[][] = [];
    for (let i = 0; i < tasks.length; i += size) split.push(tasks.slice(i, i + size));
    batches.set(round, split);
  }
  return batches;
}

function transient<T>(what: string, call: () => Promise<T>): Promise<T> {
  return call().catch((error: unknown) => {
    // The adapters turn throttling, timeouts and dropped connections into BackendUnavailableError.
    if (error instanceof SledsError && error.retryable && !(error instanceof TransientCopyError)) {
      throw new TransientCopyError(`${what}: ${error.message}`, { cause: error });
    }
    throw error;
  });
}

/**
 * Copy jobs: the request (volumes in `creating`, one execution), and the work of each state
 * of the workflow. Every step is idempotent, because Step Functions retries them.
 */
export class CopyJobService {
  private readonly planCache = new Map<string, CopyPlan>();
  /** Chunks this process has written, and tasks waiting for them (pipelining within a process). */
  private readonly written = new Set<string>();
  private readonly waiters = new Map<string, Array<() => void>>();
  /** Chunks that copy tasks running in this process are about to write. */
  private readonly pending = new Set<string>();
  /** Jobs this process has failed: its own copy tasks of those stop at once. */
  private readonly ended = new Set<string>();

  private readonly hydration: Hydration;

  constructor(private readonly deps: CopyJobDeps) {
    this.hydration = new Hydration({ ...deps, clock: () => this.now() });
  }

  private now(): Date {
    return (this.deps.clock ?? (() => new Date()))();
  }

  private async completedSnapshot(snapshotId: string): Promise<Snapshot> {
    const snapshot = await this.deps.snapshots.get(snapshotId);
    if (!snapshot) throw new SnapshotNotFoundError(snapshotId);
    if (snapshot.state !== 'completed') throw new SnapshotNotReadyError(snapshotId, snapshot.state);
    return snapshot;
  }

  /**
   * Starts a copy job: N volumes in `creating`, a job record, an execution. With a
   * clientToken, a second request returns the first job, and finishes starting it if the
   * first request died half-way.
   */
  async create(snapshotId: string, request: CopyRequest): Promise<CopyJobCreated> {
    const snapshot = await this.completedSnapshot(snapshotId);
    let jobId = newCopyJobId();
    if (request.clientToken) jobId = await this.deps.jobs.claimToken(snapshotId, request.clientToken, jobId);
    let job = await this.deps.jobs.get(jobId);
    if (job && job.snapshotId !== snapshotId) throw new ConcurrentModificationError(`clientToken belongs to job ${jobId}`);
    const volumeIds = job?.volumeIds ?? Array.from({ length: request.count }, (_, i) => targetVolumeId(jobId, i));
    if (!job) {
      job = {
        jobId,
        snapshotId,
        volumeIds,
        maxSourceFanout: request.maxSourceFanout,
        mode: request.mode,
        state: 'running',
        executionArn: '',
        progress: {
          roundsPlanned: 0,
          roundsDone: 0,
          intermediariesCreated: 0,
          intermediariesRemoved: 0,
          chunksCopied: 0,
          chunksTotal: 0,
          bytesCopied: 0,
          bytesTotal: 0,
          targetsVerified: 0,
        },
        createdAt: this.now().toISOString(),
      };
      await this.deps.jobs.create(job);
    }
    const timestamp = this.now().toISOString();
    const fresh = new Set<string>();
    await mapLimit(volumeIds, 16, async (volumeId, i) => {
      const volume: Volume = {
        volumeId,
        name: `copy ${i + 1} of ${snapshotId}`,
        sizeBytes: snapshot.sizeBytes,
        chunkSizeBytes: snapshot.chunkSizeBytes,
        partitionChunks: snapshot.partitionChunks,
        partitionCount: snapshot.partitionCount,
        state: 'creating',
        source: { snapshotId, jobId },
        createdAt: timestamp,
        updatedAt: timestamp,
      };
      await this.deps.volumes.create(volume).then(
        () => fresh.add(volumeId),
        (error: unknown) => {
          if (!(error instanceof ConcurrentModificationError)) throw error;
        },
      );
    });
    // A snapshot delete marks the snapshot first and then looks for dependents: checking again
    // now that the targets exist means one of the two sees the other.
    const latest = await this.deps.snapshots.get(snapshotId);
    if (latest?.state !== 'completed') {
      await mapLimit([...fresh], 16, (volumeId) => this.deps.volumes.transition(volumeId, ['creating'], 'failed', this.now()));
      await this.deps.jobs.update(jobId, { state: 'failed', error: `snapshot ${snapshotId} is ${latest?.state ?? 'gone'}`, finishedAt: this.now().toISOString() });
      throw new SnapshotNotReadyError(snapshotId, latest?.state ?? 'deleted');
    }
    // Usable at once: the targets borrow the snapshot's chunks before the answer (see hydration.ts).
    await this.hydration.borrow(await this.snapshotPartitions(snapshot), volumeIds, fresh);
    const { executionArn } = await this.deps.runner().start(jobId, { jobId });
    if (job.executionArn !== executionArn) await this.deps.jobs.setExecution(jobId, executionArn);
    return { jobId, volumeIds, executionArn };
  }

  /** The job with its rate and ETA. */
  async status(jobId: string): Promise<CopyJobStatus & { hydration?: JobHydration }> {
    const job = await this.deps.jobs.get(jobId);
    if (!job) throw new CopyJobNotFoundError(jobId);
    const status = copyJobStatus(job, this.now());
    if (job.plan === undefined) return status;
    return { ...status, hydration: jobHydration({ ...status, taskChunksDone: job.taskChunksDone }, await this.plan(jobId)) };
  }

  /** A copy target's hydration (its job's progress for it); undefined for a volume no job made. */
  async volumeHydration(volumeId: string, state: string, jobId: string | undefined): Promise<HydrationProgress | undefined> {
    if (!jobId) return undefined;
    const job = await this.deps.jobs.get(jobId);
    const target = job?.volumeIds.indexOf(volumeId) ?? -1;
    if (!job || target < 0 || job.plan === undefined) return undefined;
    const status = { ...copyJobStatus(job, this.now()), taskChunksDone: job.taskChunksDone };
    return targetHydration(status, await this.plan(jobId), target, state === 'available');
  }

  /**
   * POST /copy-jobs/{id}/retry: finishes the hydration of the targets a failed job (or one
   * whose execution died with its process) left hydrating, in a new execution that copies only
   * for them and removes what the earlier run left behind. Idempotent: a job that succeeded or
   * still runs is answered as it is.
   */
  async retry(jobId: string): Promise<JobRestart> {
    this.forgetIntermediaries(jobId);
    const restart = await copyJobRestarts(this.deps.jobs, this.deps.runner(), jobId, this.now());
    if (restart.restarted) this.ended.delete(jobId);
    return restart;
  }

  /**
   * The job's fan-out tree, read-only: the stored plan's tasks as nodes (one snapshot node per
   * partition), each with its chunks copied so far. Undefined until the job is planned.
   */
  async tree(jobId: string): Promise<CopyJobTree | undefined> {
    const job = await this.job(jobId);
    if (job.plan === undefined) return undefined;
    const plan = await this.plan(jobId);
    const done = job.taskChunksDone;
    const finished = job.state === 'succeeded';
    const nodes: CopyTreeNode[] = [];
    const snapshots = new Set<number>();
    for (const task of plan.tasks) {
      if (task.from.kind === 'snapshot' && !snapshots.has(task.partition)) {
        snapshots.add(task.partition);
        const chunks = task.chunks.length;
        nodes.push({ id: `p${task.partition}-s`, partition: task.partition, kind: 'snapshot', sled: task.from.sled, depth: 0, round: 0, chunks, chunksDone: chunks });
      }
      const chunks = task.chunks.length;
      // A retried batch copies (and counts) again, hence the cap; untracked plans are known only once done.
      const counted = done !== undefined ? Math.min(chunks, done[task.id] ?? 0) : finished ? chunks : null;
      const volumeId = task.to.kind === 'target' ? job.volumeIds[task.to.target] : undefined;
      nodes.push({
        id: task.id,
        partition: task.partition,
        kind: task.to.kind,
        sled: task.to.sled,
        depth: task.depth,
        round: task.round,
        parent: task.parentTask ?? `p${task.partition}-s`,
        ...(volumeId === undefined ? {} : { volumeId }),
        chunks,
        chunksDone: counted,
      });
    }
    return { mode: plan.mode, rounds: plan.rounds, nodes };
  }

  /** The execution's state transitions, with its batches' child executions on AWS. */
  async events(jobId: string): Promise<WorkflowTimeline> {
    const job = await this.deps.jobs.get(jobId);
    if (!job) throw new CopyJobNotFoundError(jobId);
    if (!job.executionArn) return { events: [] };
    const runner = this.deps.runner();
    return runner.timeline ? runner.timeline(job.executionArn) : { events: await runner.history(job.executionArn) };
  }

  private async job(jobId: string): Promise<CopyJob> {
    const job = await this.deps.jobs.get(jobId);
    if (!job) throw new CopyJobNotFoundError(jobId);
    return job;
  }

  private async plan(jobId: string): Promise<CopyPlan> {
    let plan = this.planCache.get(jobId);
    if (!plan) {
      plan = await transient('load the plan', () => this.deps.plans.get(jobId));
      this.planCache.set(jobId, plan);
    }
    return plan;
  }

  private async snapshotPartitions(snapshot: Snapshot): Promise<SnapshotPartition[]> {
    const partitions = Object.keys(snapshot.ops).map(Number).sort((a, b) => a - b);
    const stored = await mapLimit(partitions, 16, (partition) => this.deps.snapshots.getPartition(snapshot.snapshotId, partition));
    return stored.filter((p): p is NonNullable<typeof p> => p !== undefined && Object.keys(p.chunks).length > 0);
  }

  /** Plan state: the fan-out tree, stored for the copy tasks; returns the batches per round. */
  async planJob(jobId: string): Promise<PlannedRounds> {
    const job = await this.job(jobId);
    const snapshot = await this.completedSnapshot(job.snapshotId);
    const partitions = await this.snapshotPartitions(snapshot);
    // A target whose request died before it borrowed the snapshot's chunks borrows them now.
    await this.hydration.borrow(partitions, job.volumeIds, new Set());
    const active = await this.activeTargets(job);
    const input = {
      partitions: partitions.map((p) => ({
        partition: p.partition,
        chunks: Object.keys(p.chunks).map(Number).sort((a, b) => a - b),
        sourceSled: p.sled,
      })),
      targets: job.volumeIds.length,
      sledCount: this.deps.sledCount,
      maxSourceFanout: job.maxSourceFanout,
    };
    const plan = job.mode === 'direct' ? planDirectCopy(input) : planCopyJob({ ...input, mode: job.mode });
    await this.deps.plans.put(jobId, plan);
    this.planCache.set(jobId, plan);
    // A retry copies nothing for the targets already available.
    const chunksTotal = plan.tasks.filter((task) => this.copiesFor(job, task, active)).reduce((sum, task) => sum + task.chunks.length, 0);
    const roundTaskCounts = Array.from({ length: plan.rounds }, (_, i) => plan.tasks.filter((task) => task.round === i + 1).length);
    await this.deps.jobs.update(jobId, {
      plan: plan.fanoutTree,
      roundTaskCounts,
      ...(plan.tasks.length <= MAX_TRACKED_TASKS ? { taskChunksDone: {} } : {}),
      startedCopyingAt: this.now().toISOString(),
      progress: { ...job.progress, roundsPlanned: plan.rounds, chunksTotal, bytesTotal: chunksTotal * snapshot.chunkSizeBytes },
    });
    const rounds = [...batchesOf(plan)].sort(([a], [b]) => a - b).map(([round, batches]) => ({ round, batches: batches.map((_, i) => i) }));
    return { rounds };
  }

  private location(job: CopyJob, node: CopyNode, partition: number, chunk: number): ChunkLocation {
    switch (node.kind) {
      case 'snapshot':
        return { sled: node.sled, key: snapshotChunkKey(job.snapshotId, partition, chunk) };
      case 'intermediary':
        return { sled: node.sled, key: `copy-jobs/${job.jobId}/intermediaries/${node.id}/${chunk}` };
      case 'target':
        return { sled: node.sled, key: `${chunkKeyPrefix(String(job.volumeIds[node.target]), partition)}${chunk}-${job.jobId}` };
    }
  }

  /** The job's intermediaries are gone (its catch removed them): a retry's children must not take them for written. */
  private forgetIntermediaries(jobId: string): void {
    for (const key of this.written) if (key.includes(`/copy-jobs/${jobId}/`)) this.written.delete(key);
  }

  /** The job's targets still to hydrate (`hydrating`, or `creating` before they borrowed). */
  private async activeTargets(job: CopyJob): Promise<Set<string>> {
    const active = new Set<string>();
    await mapLimit(job.volumeIds, 16, async (volumeId) => {
      const state = (await this.deps.volumes.get(volumeId))?.state;
      if (state === 'hydrating' || state === 'creating') active.add(volumeId);
    });
    return active;
  }

  /** Whether a task copies anything this run: intermediaries always, a target only while it hydrates. */
  private copiesFor(job: CopyJob, task: CopyTask, active: ReadonlySet<string>): boolean {
    return task.to.kind !== 'target' || active.has(String(job.volumeIds[task.to.target]));
  }

  /**
   * Waits until a parent's chunk exists: with pipelining a child starts before its parent is
   * done. A parent copied by this process wakes the child at once; otherwise (another Lambda)
   * the child polls the sled with backoff.
   */
  private async waitForChunk(at: ChunkLocation, stillRunning: () => Promise<void>): Promise<void> {
    const key = `${at.sled}/${at.key}`;
    if (this.written.has(key)) return;
    const deadline = Date.now() + PARENT_WAIT_MS;
    // A parent that this process is copying wakes the child itself: asking the sled would only
    // add load. Now and then it asks anyway, in case that copy failed and ran again elsewhere.
    const local = this.pending.has(key);
    for (let delay = local ? 1000 : 20, round = 0; ; delay = Math.min(delay * 2, local ? 4000 : 1000), round++) {
      if ((!local || round > 0) && (await transient('look for a parent chunk', () => this.deps.chunks.sha256(at))) !== undefined) return;
      if (Date.now() > deadline) throw new TransientCopyError(`parent chunk ${at.key} did not appear within ${PARENT_WAIT_MS} ms`);
      // A parent that failed never writes; the job's state says so.
      await stillRunning();
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const waiters = this.waiters.get(key) ?? [];
      waiters.push(wake);
      this.waiters.set(key, waiters);
      await Promise.race([woken, new Promise((resolve) => setTimeout(resolve, delay))]);
      if (this.written.has(key)) return;
    }
  }

  private wrote(at: ChunkLocation): void {
    const key = `${at.sled}/${at.key}`;
    this.written.add(key);
    this.pending.delete(key);
    for (const wake of this.waiters.get(key) ?? []) wake();
    this.waiters.delete(key);
  }

  /** Copy state: one batch of partition copies, all at once, chunk by chunk with server-side copies. */
  async copyBatch(jobId: string, round: number, batch: number): Promise<{ tasks: number; chunks: number }> {
    const started = performance.now();
    const [job, plan] = await Promise.all([this.job(jobId), this.plan(jobId)]);
    const planned = batchesOf(plan).get(round)?.[batch];
    if (!planned) throw new Error(`job ${jobId} has no batch ${batch} in round ${round}`);
    const snapshot = await this.completedSnapshot(job.snapshotId);
    const active = await this.activeTargets(job);
    const tasks = planned.filter((task) => this.copiesFor(job, task, active));
    const progress = new ProgressReporter(this.deps.jobs, jobId, snapshot.chunkSizeBytes, job.taskChunksDone !== undefined);
    // Tasks for targets already available (a retry) are done without copying.
    for (const task of planned) if (!tasks.includes(task)) progress.task(task.round, false);
    for (const task of tasks) {
      for (const chunk of task.chunks) {
        const to = this.location(job, task.to, task.partition, chunk);
        if (!this.written.has(`${to.sled}/${to.key}`)) this.pending.add(`${to.sled}/${to.key}`);
      }
    }
    const writtenHere: ChunkLocation[] = [];
    /** The SHA-256 the sled reported for each target chunk this batch wrote. */
    const checksums: Record<string, string> = {};
    // Tasks still running when a job fails are not cancelled. Each one learns that the job ended
    // from this process's own catch handler at once, or from the batch's next progress report
    // (the report is conditional on the job running), and stops; the batch's last report then
    // finds the job ended and the batch removes all it wrote, since the job's clean-up may
    // already have passed by.
    const stillRunning = (): void => {
      if (progress.running && !this.ended.has(jobId)) return;
      throw new Error(`copy job ${jobId} has ended; stopping batch ${batch} of round ${round}`);
    };
    let settled: Array<PromiseSettledResult<void>>;
    try {
      // Settle every task before returning: a task left running would copy after the check below.
      settled = await Promise.allSettled(
        tasks.map(async (task) => {
          await failpoint(FAILPOINTS.copyTask, { jobId, taskId: task.id, round, batch });
          for (const chunk of task.chunks) {
            const from = this.location(job, task.from, task.partition, chunk);
            const to = this.location(job, task.to, task.partition, chunk);
            if (task.from.kind !== 'snapshot' && plan.mode === 'pipelined') await this.waitForChunk(from, async () => stillRunning());
            await failpoint(FAILPOINTS.chunkCopying, { jobId, from, to, kind: task.to.kind, fromKind: task.from.kind });
            const reported = await transient(`copy chunk ${chunk} of partition ${task.partition}`, () =>
              this.deps.chunks.copy(from, to, snapshot.chunkSizeBytes),
            );
            writtenHere.push(to);
            await failpoint(FAILPOINTS.chunkCopied, { jobId, to, kind: task.to.kind });
            if (task.to.kind === 'target') {
              // S3 answers a copy with the SHA-256 of what it stored (so does fauxqs with scripts/patch-emulators.mjs);
              // a store that does not (fauxqs unpatched) is asked once.
              const sha256 = reported ?? (await transient('verify a chunk', () => this.deps.chunks.sha256(to)));
              if (sha256 === undefined) throw new TransientCopyError(`chunk ${to.key} on sled ${to.sled} is missing right after its copy`);
              checksums[`${to.sled}/${to.key}`] = sha256;
            }
            this.wrote(to);
            progress.chunk(task.id);
            stillRunning();
          }
          progress.task(task.round, task.to.kind === 'intermediary');
        }),
      );
    } finally {
      // What this batch did not write is no longer on its way: waiting children go back to asking the sled.
      for (const task of tasks) {
        for (const chunk of task.chunks) {
          const to = this.location(job, task.to, task.partition, chunk);
          this.pending.delete(`${to.sled}/${to.key}`);
        }
      }
    }
    const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    // Recorded before the last report, so that a job failing meanwhile finds the record and removes it.
    const recorded = !failed && Object.keys(checksums).length > 0;
    if (recorded) {
      await transient('record verified chunks', () => this.deps.verified.put(jobId, round, batch, checksums));
      await failpoint(FAILPOINTS.batchRecorded, { jobId, round, batch });
    }
    // The last report counts what is left and says whether the job still runs.
    if (!(await progress.report()) || this.ended.has(jobId)) {
      await mapLimit(writtenHere, 16, (at) => this.deps.chunks.remove(at));
      if (recorded) await this.deps.verified.remove(jobId, [{ round, batch }]);
      throw new Error(`copy job ${jobId} has ended; batch ${batch} of round ${round} removed the ${writtenHere.length} chunks it wrote`);
    }
    if (failed) throw failed.reason;
    const bytes = writtenHere.length * snapshot.chunkSizeBytes;
    this.deps.telemetry?.copyProgress({ jobId, round, batch, bytes, millis: performance.now() - started });
    return { tasks: tasks.length, chunks: writtenHere.length };
  }

  /**
   * Finalize state: every target chunk must match the snapshot's SHA-256; only then does a
   * target become `available`. The SHA-256 of each target chunk is the one its sled reported
   * for the copy that wrote it, recorded by the copy batch; a chunk with none recorded counts
   * as a mismatch. Only the targets still hydrating are checked (a retry leaves the available
   * ones alone). Once every chunk checks out, each target's maps take its own copies in place
   * of the borrowed refs, only where they still name them (see borrowed-chunks.ts), and it is
   * marked available. A crash anywhere leaves the rest `hydrating`, still serving through the
   * snapshot; the catch keeps them so, and a retry finishes them.
   */
  async finalize(jobId: string): Promise<{ verifiedChunks: number }> {
    const [job, plan] = await Promise.all([this.job(jobId), this.plan(jobId)]);
    const snapshot = await this.completedSnapshot(job.snapshotId);
    const partitions = new Map((await this.snapshotPartitions(snapshot)).map((p) => [p.partition, p]));
    const active = await this.activeTargets(job);
    // Each batch's record is read once, when the first of its target tasks is checked.
    const batchOf = new Map<CopyTask, { round: number; batch: number }>();
    for (const [round, batches] of batchesOf(plan)) batches.forEach((tasks, batch) => tasks.forEach((task) => batchOf.set(task, { round, batch })));
    const records = new Map<string, Promise<Record<string, string> | undefined>>();
    const recordOf = (task: CopyTask) => {
      const { round, batch } = batchOf.get(task)!;
      let record = records.get(`${round}/${batch}`);
      if (!record) records.set(`${round}/${batch}`, (record = transient('read verified chunks', () => this.deps.verified.get(jobId, round, batch))));
      return record;
    };
    const targetTasks = plan.tasks.filter((task) => task.to.kind === 'target' && this.copiesFor(job, task, active));
    let verifiedChunks = 0;
    const swaps = new Map<string, Map<number, Record<string, ChunkSwap>>>();
    await mapLimit(targetTasks, FINALIZE_CONCURRENCY, async (task) => {
      const target = task.to as Extract<CopyNode, { kind: 'target' }>;
      const volumeId = job.volumeIds[target.target]!;
      const record = await recordOf(task);
      const chunks: Record<string, ChunkSwap> = {};
      for (const chunk of task.chunks) {
        const at = this.location(job, task.to, task.partition, chunk);
        const borrowed = partitions.get(task.partition)?.chunks[String(chunk)];
        const expected = borrowed?.sha256;
        const actual = record?.[`${at.sled}/${at.key}`];
        if (!borrowed || !expected || actual !== expected) {
          throw new ChecksumMismatchError(
            `target ${volumeId} partition ${task.partition} chunk ${chunk}: ` +
              `SHA-256 ${actual === undefined ? 'never verified' : actual || 'missing'} does not match the snapshot's ${expected ?? 'missing'}`,
          );
        }
        chunks[String(chunk)] = { borrowed, own: { ...at, sha256: expected } };
      }
      verifiedChunks += task.chunks.length;
      const byPartition = swaps.get(volumeId) ?? new Map<number, Record<string, ChunkSwap>>();
      byPartition.set(task.partition, chunks);
      swaps.set(volumeId, byPartition);
    });
    await failpoint(FAILPOINTS.finalize, { jobId });
    await mapLimit(job.volumeIds, 16, async (volumeId) => {
      if (!active.has(volumeId)) return;
      if ((await this.deps.volumes.get(volumeId))?.state !== 'hydrating') return;
      await transient('hydrate a target', () => this.hydration.complete(volumeId, swaps.get(volumeId) ?? new Map()));
      await failpoint(FAILPOINTS.targetAvailable, { jobId, volumeId });
    });
    await this.deps.jobs.update(jobId, { progress: { ...(await this.job(jobId)).progress, targetsVerified: job.volumeIds.length } });
    return { verifiedChunks };
  }

  /** Clean-up state: removes the intermediaries, by the keys the plan gave them; the job has succeeded. */
  async cleanUp(jobId: string): Promise<{ objectsRemoved: number }> {
    const [job, plan] = await Promise.all([this.job(jobId), this.plan(jobId)]);
    const intermediaries = plan.tasks
      .filter((task) => task.to.kind === 'intermediary')
      .flatMap((task) => task.chunks.map((chunk) => this.location(job, task.to, task.partition, chunk)));
    const objectsRemoved = await transient('remove intermediaries', () => this.deps.chunks.removeAll(intermediaries));
    const batches = [...batchesOf(plan)].flatMap(([round, split]) => split.map((_, batch) => ({ round, batch })));
    await transient('remove verified-chunk records', () => this.deps.verified.remove(jobId, batches));
    await this.deps.jobs.update(jobId, {
      state: 'succeeded',
      finishedAt: this.now().toISOString(),
      progress: { ...job.progress, intermediariesRemoved: plan.intermediaries.length, roundsDone: plan.rounds },
    });
    return { objectsRemoved };
  }

  /**
   * Catch: the job is failed; intermediaries are removed. A target that already borrowed the
   * snapshot's chunks stays `hydrating` and keeps serving (its writes included): only the job's
   * own copies that no map names are removed, and a retry finishes it. A target still
   * `creating` (its request died before it borrowed) is failed and its partial data removed.
   */
  async fail(jobId: string, error: { Error?: string; Cause?: string } | undefined): Promise<void> {
    const job = await this.job(jobId);
    this.ended.add(jobId);
    // Children waiting for a parent chunk wake up and find the job ended (or, another job's, wait again).
    for (const [key, wakes] of this.waiters) {
      this.waiters.delete(key);
      for (const wake of wakes) wake();
    }
    const cause = typeof error?.Cause === 'string' ? describeCause(error.Cause) : undefined;
    // Failed first: tasks still running see it after each copy and stop (see copyBatch).
    await this.deps.jobs.update(jobId, {
      state: 'failed',
      error: [error?.Error, cause].filter(Boolean).join(': ') || 'the copy job failed',
      finishedAt: this.now().toISOString(),
    });
    await this.deps.chunks.removePrefix(`copy-jobs/${jobId}/`);
    this.forgetIntermediaries(jobId);
    const plan = job.plan === undefined ? undefined : await this.plan(jobId).catch(() => undefined);
    await mapLimit(job.volumeIds, 8, async (volumeId, target) => {
      const volume = await this.deps.volumes.get(volumeId);
      if (volume?.state === 'hydrating') {
        const copies = new Map<number, ChunkRef[]>();
        for (const task of plan?.tasks ?? []) {
          if (task.to.kind !== 'target' || task.to.target !== target) continue;
          copies.set(task.partition, task.chunks.map((chunk) => ({ ...this.location(job, task.to, task.partition, chunk), sha256: '' })));
        }
        await this.hydration.abandon(volumeId, copies);
        return;
      }
      if (volume?.state !== 'creating') return;
      for (const store of this.deps.volumeData) await store.removeVolumeData(volumeId);
      await this.deps.volumes.transition(volumeId, ['creating'], 'failed', this.now());
    });
    const latest = await this.job(jobId);
    await this.deps.jobs.setProgress(jobId, { ...latest.progress, intermediariesRemoved: latest.progress.intermediariesCreated });
  }
}

/** Lambda error causes arrive as JSON with an errorMessage; keep just the message. */
function describeCause(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}
