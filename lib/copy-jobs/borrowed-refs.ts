import type { BorrowedRefs, ResolvedChunks } from '../checkpoints/rebuild-service.js';
import type { ChunkRef } from '../notes/ports.js';
import { mapLimit } from '../shared/concurrency.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { SnapshotRepository } from '../snapshots/ports.js';
import type { VolumeRepository } from '../volumes/ports.js';
import { chunkLocation } from './chunk-locations.js';
import type { CopyPlan } from './copy-plan.js';
import type { CopyJobRepository, PlanStore } from './ports.js';

export interface BorrowedRefDeps {
  readonly volumes: VolumeRepository;
  readonly jobs: CopyJobRepository;
  readonly plans: PlanStore;
  readonly snapshots: SnapshotRepository;
  readonly chunks: ChunkStore;
}

/**
 * What a replica rebuild of a copy target puts where a checkpoint (or the target's state at op 0)
 * names a borrowed ref, a chunk of the snapshot it was copied from: the target's own verified
 * copy of that chunk when it is in place, so a rebuilt replica is as flat as its survivor and
 * never needs the snapshot again. A borrowed ref stays only while the target is still hydrating
 * (the snapshot is retained then, and finalize swaps it); for a target that is not, a checkpoint
 * whose borrowed chunk has no own copy is unusable (never a guess).
 */
export class CopyTargetRefs implements BorrowedRefs {
  constructor(private readonly deps: BorrowedRefDeps) {}

  async resolve(volumeId: string, partition: number, chunks: Readonly<Record<string, ChunkRef>>): Promise<ResolvedChunks> {
    const target = await this.target(volumeId, partition);
    if (!target) return { chunks };
    const prefix = `snapshots/${target.snapshotId}/`;
    const resolved: Record<string, ChunkRef> = { ...chunks };
    const borrowed = Object.entries(chunks).filter(([, ref]) => ref.key.startsWith(prefix));
    const unresolved: string[] = [];
    await mapLimit(borrowed, 16, async ([chunk, ref]) => {
      const own = await target.own(Number(chunk), ref.sha256);
      if (own) resolved[chunk] = own;
      else unresolved.push(chunk);
    });
    if (unresolved.length > 0 && !target.hydrating) {
      return { unusable: `chunk ${unresolved.sort((a, b) => Number(a) - Number(b))[0]} names snapshot ${target.snapshotId}'s object and the target's own copy is not in place` };
    }
    return { chunks: resolved };
  }

  async initial(volumeId: string, partition: number): Promise<ResolvedChunks> {
    const target = await this.target(volumeId, partition);
    if (!target) return { chunks: {} };
    const stored = await this.deps.snapshots.getPartition(target.snapshotId, partition);
    if (stored) return this.resolve(volumeId, partition, stored.chunks);
    // The snapshot is gone (so the target is available): its own copies are the chunks at op 0.
    const chunks: Record<string, ChunkRef> = {};
    const missing: number[] = [];
    await mapLimit(target.planned, 16, async (chunk) => {
      const own = await target.own(chunk, undefined);
      if (own) chunks[String(chunk)] = own;
      else missing.push(chunk);
    });
    if (missing.length > 0 || !target.planned.length) {
      return { unusable: `snapshot ${target.snapshotId} is deleted and the target's own copy of ${missing.length > 0 ? `chunk ${Math.min(...missing)}` : 'its chunks'} is not in place` };
    }
    return { chunks };
  }

  /** The copy target behind `volumeId`, with where its own copy of each chunk of `partition` lives; undefined for any other volume. */
  private async target(volumeId: string, partition: number) {
    const volume = await this.deps.volumes.get(volumeId);
    const source = volume?.source;
    if (!volume || !source) return undefined;
    const job = await this.deps.jobs.get(source.jobId);
    const index = job?.volumeIds.indexOf(volumeId) ?? -1;
    const plan: CopyPlan | undefined = job && job.plan !== undefined && index >= 0 ? await this.deps.plans.get(job.jobId).catch(() => undefined) : undefined;
    // One task per partition in a tree plan, one per chunk in a swarm.
    const tasks = plan?.tasks.filter((t) => t.to.kind === 'target' && t.to.target === index && t.partition === partition) ?? [];
    const chunks = this.deps.chunks;
    return {
      snapshotId: source.snapshotId,
      hydrating: volume.state === 'hydrating' || volume.state === 'creating',
      planned: tasks.flatMap((task) => task.chunks),
      /** The target's own copy of `chunk` if it is in place (with `sha256`, when given). */
      async own(chunk: number, sha256: string | undefined): Promise<ChunkRef | undefined> {
        const task = tasks.find((t) => t.chunks.includes(chunk));
        if (!job || !task) return undefined;
        const at = chunkLocation(job, task.to, partition, chunk);
        const stored = await chunks.sha256(at);
        if (stored === undefined || (sha256 !== undefined && stored !== '' && stored !== sha256)) return undefined;
        return { ...at, sha256: sha256 ?? stored };
      },
    };
  }
}
