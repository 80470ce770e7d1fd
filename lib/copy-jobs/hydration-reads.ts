import { ChunkGoneError } from '../errors.js';
import type { BorrowedChunkReads, ChunkRef } from '../notes/ports.js';
import { noTelemetry, type Telemetry } from '../observability/telemetry.js';
import type { ChunkLocation, ChunkStore } from '../sleds/ports.js';
import { snapshotChunkKey } from '../snapshots/snapshot.js';
import type { VolumeRepository } from '../volumes/ports.js';
import type { VolumeSource } from '../volumes/volume.js';
import { chunkLocation } from './chunk-locations.js';
import type { CopyJob } from './copy-job.js';
import type { CopyPlan, CopyTask } from './copy-plan.js';
import type { CopyJobRepository, PlanStore } from './ports.js';

/** How old the job's per-task progress may be before a read asks for it again (batches report about once a second). */
const JOB_REFRESH_MS = 1000;
/** A chunk found not in place is asked about again after this long. */
const RECHECK_MS = 1000;
/** Targets and chunks remembered per process; past these the memory starts afresh (it is only a cache). */
const MAX_TARGETS = 4096;
const MAX_CHUNKS = 1 << 20;
/** Plans remembered per process; past this the one read first goes. */
const MAX_PLANS = 64;

export interface HydrationReadDeps {
  readonly volumes: Pick<VolumeRepository, 'get'>;
  readonly jobs: Pick<CopyJobRepository, 'get'>;
  readonly plans: Pick<PlanStore, 'get'>;
  readonly chunks: Pick<ChunkStore, 'read' | 'sha256'>;
  readonly telemetry?: Telemetry;
}

/** What a process knows of one copy target: its job (at most JOB_REFRESH_MS old), and the plan's task per chunk. */
interface Target {
  readonly snapshotId: string;
  /** Undefined while the job is not planned (or is gone): every read goes to the snapshot then. */
  readonly job: CopyJob | undefined;
  /** `partition/chunk` -> the task that copies that chunk to the target (one per partition in a tree plan, one per chunk in a swarm). */
  readonly tasks: ReadonlyMap<string, CopyTask>;
}

/** A chunk's own copy: verified in place (its SHA-256 is the snapshot's), or not found at `checkedAt`. */
type ChunkState = { readonly verified: ChunkLocation } | { readonly checkedAt: number };

/**
 * Reads of a copy target's borrowed chunks while it hydrates: from the target's own copy as soon
 * as the fan-out has put it in place, else from the snapshot's object the chunk map names.
 *
 * The chunk maps are not touched (finalize still swaps them, once, at the end); only the object
 * a read fetches changes. The own copy is used only once its sled reports the snapshot's SHA-256
 * for it (the check finalize makes), so both objects hold the same bytes and which one serves a
 * read never changes what the read returns: notes stay on top, and a chunk the target flushed its
 * own version of is not borrowed any more, so it never comes here. A copy that is gone when read
 * (a failed or cancelled job removed it) is forgotten and the read falls back to the snapshot's
 * object, which is retained while the target hydrates. The job's per-task progress says which
 * chunks may be in place, so a chunk not copied yet costs no request beyond the snapshot's read.
 */
export class HydrationReads implements BorrowedChunkReads {
  private readonly plans = new Map<string, Promise<CopyPlan>>();
  /** `jobId/target index` -> that target's tasks by chunk: a plan never changes, so worked out once. */
  private readonly taskMaps = new Map<string, Promise<ReadonlyMap<string, CopyTask>>>();
  /** A volume's source never changes: read once per process (null: not a copy target). */
  private readonly sources = new Map<string, Promise<VolumeSource | null>>();
  /** Each job read at most once per JOB_REFRESH_MS, for all of its targets at once. */
  private readonly jobs = new Map<string, { readonly job: Promise<CopyJob | undefined>; readonly at: number }>();
  private readonly states = new Map<string, ChunkState>();
  private readonly telemetry: Telemetry;

  constructor(private readonly deps: HydrationReadDeps) {
    this.telemetry = deps.telemetry ?? noTelemetry;
  }

  async read(volumeId: string, partition: number, ref: ChunkRef, start: number, length: number): Promise<Buffer> {
    const own = await this.ownCopy(volumeId, partition, ref).catch(() => undefined);
    if (own) {
      try {
        const bytes = await this.deps.chunks.read(own.at, start, length);
        this.telemetry.hydrationRead({ source: 'own', bytes: length });
        return bytes;
      } catch (error) {
        // Removed since it was checked (its job failed or was cancelled): forget it. Whatever the
        // error, the snapshot's object holds the same bytes and serves the read.
        if (error instanceof ChunkGoneError) this.remember(own.key, { checkedAt: Date.now() });
      }
    }
    const bytes = await this.deps.chunks.read(ref, start, length);
    this.telemetry.hydrationRead({ source: 'snapshot', bytes: length });
    return bytes;
  }

  /** The target's own verified copy of the borrowed chunk `ref`, if it is in place; undefined otherwise. */
  private async ownCopy(volumeId: string, partition: number, ref: ChunkRef): Promise<{ at: ChunkLocation; key: string } | undefined> {
    const target = await this.target(volumeId);
    if (!target?.job) return undefined;
    const chunk = Number(ref.key.slice(ref.key.lastIndexOf('/') + 1));
    const task = target.tasks.get(`${partition}/${chunk}`);
    // Only the snapshot's own object of this very chunk (never a ref some other way).
    if (!task || ref.key !== snapshotChunkKey(target.snapshotId, partition, chunk)) return undefined;
    const index = task.chunks.indexOf(chunk);
    if (index < 0) return undefined;
    const key = `${volumeId}/${partition}/${chunk}`;
    const state = this.states.get(key);
    if (state && 'verified' in state) return { at: state.verified, key };
    const now = Date.now();
    if (state && now - state.checkedAt < RECHECK_MS) return undefined;
    // A job that is not running copies nothing more, and its catch removed the copies no map names.
    if (target.job.state !== 'running') return undefined;
    const done = target.job.taskChunksDone;
    // Chunks are copied in the task's order; what the job has not counted yet is not worth asking about.
    if (done && (done[task.id] ?? 0) <= index) return undefined;
    const at = chunkLocation(target.job, task.to, partition, chunk);
    // A copy not there (or a sled that will not say) is asked about again later; the read goes on meanwhile.
    const stored = await this.deps.chunks.sha256(at).catch(() => undefined);
    if (stored !== ref.sha256) {
      this.remember(key, { checkedAt: now });
      return undefined;
    }
    this.remember(key, { verified: at });
    return { at, key };
  }

  private remember(key: string, state: ChunkState): void {
    if (this.states.size >= MAX_CHUNKS) this.states.clear();
    this.states.set(key, state);
  }

  /** The copy target behind `volumeId`: its source (read once), its job (shared by its targets, at most JOB_REFRESH_MS old), its tasks. */
  private async target(volumeId: string): Promise<Target | undefined> {
    const source = await this.source(volumeId);
    if (!source) return undefined;
    const job = await this.job(source.jobId);
    const index = job?.volumeIds.indexOf(volumeId) ?? -1;
    if (!job || index < 0 || job.plan === undefined) return { snapshotId: source.snapshotId, job: undefined, tasks: new Map() };
    return { snapshotId: source.snapshotId, job, tasks: await this.tasksOf(job.jobId, index) };
  }

  private tasksOf(jobId: string, target: number): Promise<ReadonlyMap<string, CopyTask>> {
    const key = `${jobId}/${target}`;
    let tasks = this.taskMaps.get(key);
    if (!tasks) {
      if (this.taskMaps.size >= MAX_TARGETS) this.taskMaps.clear();
      tasks = this.plan(jobId).then((plan) => {
        const byChunk = new Map<string, CopyTask>();
        for (const task of plan.tasks) {
          if (task.to.kind !== 'target' || task.to.target !== target) continue;
          for (const chunk of task.chunks) byChunk.set(`${task.partition}/${chunk}`, task);
        }
        return byChunk;
      });
      this.taskMaps.set(key, tasks);
      tasks.catch(() => this.taskMaps.delete(key));
    }
    return tasks;
  }

  private source(volumeId: string): Promise<VolumeSource | null> {
    let source = this.sources.get(volumeId);
    if (!source) {
      if (this.sources.size >= MAX_TARGETS) this.sources.clear();
      source = this.deps.volumes.get(volumeId).then((volume) => volume?.source ?? null);
      this.sources.set(volumeId, source);
      source.catch(() => this.sources.delete(volumeId));
    }
    return source;
  }

  /** The job as read at most JOB_REFRESH_MS ago: its targets' first reads after a copy request share one GetItem. */
  private job(jobId: string): Promise<CopyJob | undefined> {
    const cached = this.jobs.get(jobId);
    if (cached && Date.now() - cached.at < JOB_REFRESH_MS) return cached.job;
    if (this.jobs.size >= MAX_PLANS) this.jobs.clear();
    const job = this.deps.jobs.get(jobId);
    this.jobs.set(jobId, { job, at: Date.now() });
    job.catch(() => this.jobs.delete(jobId));
    return job;
  }

  /** A job's plan never changes once stored: read once per process. */
  private plan(jobId: string): Promise<CopyPlan> {
    let plan = this.plans.get(jobId);
    if (!plan) {
      if (this.plans.size >= MAX_PLANS) this.plans.delete(this.plans.keys().next().value as string);
      plan = this.deps.plans.get(jobId);
      this.plans.set(jobId, plan);
      plan.catch(() => this.plans.delete(jobId));
    }
    return plan;
  }
}
