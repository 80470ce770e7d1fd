import { VolumeStateError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import { logRef, type ChunkMap, type ChunkRef, type LogRef, type PartitionMeta } from '../notes/ports.js';
import { mapLimit } from '../shared/concurrency.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { SnapshotPartition } from '../snapshots/snapshot.js';
import type { VolumeRepository } from '../volumes/ports.js';
import type { Volume } from '../volumes/volume.js';
import { adoptOwnChunks, borrowedPartition, writeBorrowed, type BorrowDeps, type ChunkSwap } from './borrowed-chunks.js';
import type { CopyJob, CopyJobStatus } from './copy-job.js';
import type { CopyPlan } from './copy-plan.js';

export interface HydrationDeps extends BorrowDeps {
  readonly volumes: VolumeRepository;
  readonly chunks: ChunkStore;
  readonly sledCount: number;
  readonly clock: () => Date;
}

/** Partition metadata and chunk maps read ahead for Hydration.complete; anything missing is read when needed. */
export interface HydrationReadAhead {
  /** `volumeId#partition` -> its metadata. */
  readonly metas: ReadonlyMap<string, PartitionMeta>;
  /** logKey -> that replica's chunk map. */
  readonly maps: ReadonlyMap<string, ChunkMap>;
}

const EMPTY_READ_AHEAD: HydrationReadAhead = { metas: new Map(), maps: new Map() };

const logKey = (log: LogRef): string => `${log.volumeId}#${log.partition}#${log.replicaId}`;

/** A target's hydration, as `GET /volumes/{id}` and `GET /copy-jobs/{id}` show it. */
export interface HydrationProgress {
  readonly jobId: string;
  readonly snapshotId: string;
  /** Chunks the job has copied to the target so far (verified at the end), out of all it will. */
  readonly chunksInPlace: number;
  readonly chunksTotal: number;
  readonly percent: number;
  /** Null while the job has no rate yet, or has ended without finishing (retry it). */
  readonly etaSeconds: number | null;
  /** `running`, or `failed` (the target keeps reading through to the snapshot: retry the job). */
  readonly jobState: CopyJob['state'];
}

/** The chunks per partition of one target, from the plan. */
function targetTasks(plan: CopyPlan, target: number) {
  return plan.tasks.filter((task) => task.to.kind === 'target' && task.to.target === target);
}

/**
 * Hydration progress of target `target` of a job: chunks copied to it (per task, when the job
 * tracks tasks; otherwise the job's own fraction), and the job's ETA.
 */
export function targetHydration(job: CopyJobStatus, plan: CopyPlan, target: number, available: boolean): HydrationProgress {
  const tasks = targetTasks(plan, target);
  const chunksTotal = tasks.reduce((sum, task) => sum + task.chunks.length, 0);
  const done = job.taskChunksDone;
  let chunksInPlace: number;
  if (available || job.state === 'succeeded') chunksInPlace = chunksTotal;
  else if (done) chunksInPlace = tasks.reduce((sum, task) => sum + Math.min(task.chunks.length, done[task.id] ?? 0), 0);
  else chunksInPlace = Math.floor((chunksTotal * job.percent) / 100);
  return {
    jobId: job.jobId,
    snapshotId: job.snapshotId,
    chunksInPlace,
    chunksTotal,
    percent: chunksTotal === 0 ? 100 : Math.round((chunksInPlace / chunksTotal) * 1000) / 10,
    etaSeconds: available ? 0 : job.state === 'running' ? job.etaSeconds : null,
    jobState: job.state,
  };
}

/** A job's targets' hydration, summed (and listed for up to MAX_LISTED_TARGETS targets). */
export interface JobHydration {
  readonly chunksInPlace: number;
  readonly chunksTotal: number;
  readonly percent: number;
  /** Targets with every chunk copied (they become available once verified). */
  readonly targetsComplete: number;
  readonly etaSeconds: number | null;
  readonly targets?: ReadonlyArray<{ readonly volumeId: string; readonly chunksInPlace: number; readonly chunksTotal: number; readonly percent: number }>;
}

/** Every target's hydration and the sum of them, for `GET /copy-jobs/{id}`. */
export function jobHydration(job: CopyJobStatus, plan: CopyPlan): JobHydration {
  const targets = job.volumeIds.map((volumeId, i) => {
    const { chunksInPlace, chunksTotal, percent } = targetHydration(job, plan, i, false);
    return { volumeId, chunksInPlace, chunksTotal, percent };
  });
  const chunksInPlace = targets.reduce((sum, t) => sum + t.chunksInPlace, 0);
  const chunksTotal = targets.reduce((sum, t) => sum + t.chunksTotal, 0);
  return {
    chunksInPlace,
    chunksTotal,
    percent: chunksTotal === 0 ? 100 : Math.round((chunksInPlace / chunksTotal) * 1000) / 10,
    targetsComplete: targets.filter((t) => t.chunksInPlace >= t.chunksTotal).length,
    etaSeconds: job.state === 'running' ? job.etaSeconds : job.state === 'succeeded' ? 0 : null,
    ...(targets.length <= MAX_LISTED_TARGETS ? { targets } : {}),
  };
}

/** Jobs with more targets show only the sum in `GET /copy-jobs/{id}`. */
const MAX_LISTED_TARGETS = 100;

/**
 * Copy targets that are usable at once: borrowed chunk maps at the request, the target's own
 * verified chunks swapped in at the end (only where the map still names the borrowed ref), and
 * a failed job's targets left serving through the snapshot.
 */
export class Hydration {
  constructor(private readonly deps: HydrationDeps) {}

  /**
   * Gives each target still `creating` its borrowed chunk maps, then makes it `hydrating`
   * (usable). `fresh`: the targets this very request created (their items go out in batches).
   * `unseen`: the records of fresh targets of a job this request created, which nobody else can
   * know of yet: they become `hydrating` in batches too, not one conditional update each.
   */
  async borrow(
    partitions: readonly SnapshotPartition[],
    volumeIds: readonly string[],
    fresh: ReadonlySet<string>,
    unseen: readonly Volume[] = [],
  ): Promise<void> {
    const unknown = volumeIds.filter((volumeId) => !fresh.has(volumeId));
    const stored = unknown.length > 0 ? await this.deps.volumes.getMany(unknown) : new Map<string, { state: string }>();
    const creating = volumeIds.filter((volumeId) => fresh.has(volumeId) || stored.get(volumeId)?.state === 'creating');
    if (creating.length === 0) return;
    const batch = creating.filter((volumeId) => fresh.has(volumeId));
    const careful = creating.filter((volumeId) => !fresh.has(volumeId));
    const items = (ids: readonly string[]) => ids.flatMap((volumeId) => partitions.map((p) => borrowedPartition(volumeId, p, this.deps.sledCount)));
    if (batch.length > 0) await writeBorrowed(this.deps, items(batch), true);
    if (careful.length > 0) await writeBorrowed(this.deps, items(careful), false);
    const now = this.deps.clock();
    const unseenIds = new Set(unseen.map((volume) => volume.volumeId));
    if (unseen.length > 0) await this.deps.volumes.putFresh(unseen.map((volume) => ({ ...volume, state: 'hydrating', updatedAt: now.toISOString() })));
    await mapLimit(creating.filter((volumeId) => !unseenIds.has(volumeId)), 16, async (volumeId) => {
      await this.deps.volumes.transition(volumeId, ['creating', 'hydrating'], 'hydrating', now).catch((error: unknown) => {
        // Failed (its job's catch) or deleted meanwhile: nothing to serve.
        if (!(error instanceof VolumeStateError)) throw error;
      });
    });
  }

  /**
   * Reads, in batches, what complete() would read one item at a time for these targets'
   * partitions: their metadata and both replicas' chunk maps (finalize completes 64 targets of
   * 8 partitions with 17 BatchGetItems instead of 1,536 GetItems).
   */
  async readAhead(partitionsOf: ReadonlyMap<string, Iterable<number>>): Promise<HydrationReadAhead> {
    const keys = [...partitionsOf].flatMap(([volumeId, partitions]) => [...partitions].map((partition) => ({ volumeId, partition })));
    const metas = await this.deps.metas.getMany(keys);
    const logs = metas.flatMap((meta) => [meta.primary, meta.secondary].map((replica) => logRef(meta.volumeId, meta.partition, replica.replicaId)));
    const maps = await this.deps.chunkMaps.getMany(logs);
    return {
      metas: new Map(metas.map((meta) => [`${meta.volumeId}#${meta.partition}`, meta])),
      maps: new Map(maps.map((map) => [logKey(map), map])),
    };
  }

  /**
   * Finishes a hydrating target: in each partition, both replicas' maps take the target's own
   * copies where they still name the borrowed refs; own copies no map took (the target flushed
   * its own version first) are removed; then the target is `available`.
   */
  async complete(
    volumeId: string,
    swaps: ReadonlyMap<number, Readonly<Record<string, ChunkSwap>>>,
    ahead: HydrationReadAhead = EMPTY_READ_AHEAD,
  ): Promise<{ adopted: number; removed: number }> {
    let adopted = 0;
    const unused: ChunkRef[] = [];
    // A replica lost since the read ahead is rebuilt from its partner with borrowed refs resolved
    // to the target's own copies, all in place by now (borrowed-refs.ts): nothing here to redo.
    await failpoint(FAILPOINTS.targetSwapping, { volumeId });
    await mapLimit([...swaps], 8, async ([partition, partitionSwaps]) => {
      const meta = ahead.metas.get(`${volumeId}#${partition}`) ?? (await this.deps.metas.get(volumeId, partition));
      if (!meta) {
        unused.push(...Object.values(partitionSwaps).map((swap) => swap.own));
        return;
      }
      const result = await adoptOwnChunks(this.deps.chunkMaps, meta, partitionSwaps, (log) => ahead.maps.get(logKey(log)));
      adopted += result.adopted;
      unused.push(...result.unused);
    });
    const removed = unused.length > 0 ? await this.deps.chunks.removeAll(unused) : 0;
    await this.deps.volumes.transition(volumeId, ['hydrating'], 'available', this.deps.clock());
    return { adopted, removed };
  }

  /**
   * A failed or abandoned job's hydrating target keeps serving through the snapshot: only the
   * job's own copies that no map names (an earlier finalize may have swapped some in) go.
   */
  async abandon(volumeId: string, ownCopies: ReadonlyMap<number, readonly ChunkRef[]>): Promise<number> {
    const garbage: ChunkRef[] = [];
    await mapLimit([...ownCopies], 8, async ([partition, copies]) => {
      const meta = await this.deps.metas.get(volumeId, partition);
      const named = new Set<string>();
      if (meta) {
        for (const replica of [meta.primary, meta.secondary]) {
          const map = await this.deps.chunkMaps.get(logRef(volumeId, partition, replica.replicaId));
          for (const ref of Object.values(map?.chunks ?? {})) named.add(ref.key);
        }
      }
      garbage.push(...copies.filter((copy) => !named.has(copy.key)));
    });
    return garbage.length > 0 ? this.deps.chunks.removeAll(garbage) : 0;
  }
}
