import type { ChunkMapStore, NewPartitionWriter, PartitionMetaStore } from '../notes/ports.js';
import type { Telemetry } from '../observability/telemetry.js';
import { mapLimit } from '../shared/concurrency.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { SnapshotRepository } from '../snapshots/ports.js';
import { SnapshotNotFoundError } from '../snapshots/snapshot-service.js';
import type { Snapshot, SnapshotPartition } from '../snapshots/snapshot.js';
import type { VolumeDataStore, VolumeRepository } from '../volumes/ports.js';
import type { CopyJob } from './copy-job.js';
import type { CopyPlan, CopyTask } from './copy-plan.js';
import { CopyJobNotFoundError, SnapshotNotReadyError } from './errors.js';
import type { CopyJobRepository, PlanStore, VerifiedChunkRecords, WorkflowRunner } from './ports.js';
import { transient } from './transient.js';

/** The ports and settings copy jobs run on. */
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

/**
 * What every step of a copy job reads: the job record, its stored plan (cached for the life
 * of the process, since a plan never changes once stored), the completed snapshot it copies
 * and that snapshot's partitions. One per CopyJobService, shared by the steps' modules.
 */
export class CopyJobContext {
  private readonly planCache = new Map<string, CopyPlan>();

  constructor(readonly deps: CopyJobDeps) {}

  /** The deps' clock, or the wall clock. */
  now(): Date {
    return (this.deps.clock ?? (() => new Date()))();
  }

  /** The snapshot, which must exist and be completed. */
  async completedSnapshot(snapshotId: string): Promise<Snapshot> {
    const snapshot = await this.deps.snapshots.get(snapshotId);
    if (!snapshot) throw new SnapshotNotFoundError(snapshotId);
    if (snapshot.state !== 'completed') throw new SnapshotNotReadyError(snapshotId, snapshot.state);
    return snapshot;
  }

  /** The job record; CopyJobNotFoundError when there is none. */
  async job(jobId: string): Promise<CopyJob> {
    const job = await this.deps.jobs.get(jobId);
    if (!job) throw new CopyJobNotFoundError(jobId);
    return job;
  }

  /** The job's stored plan, read once per process. */
  async plan(jobId: string): Promise<CopyPlan> {
    let plan = this.planCache.get(jobId);
    if (!plan) {
      plan = await transient('load the plan', () => this.deps.plans.get(jobId));
      this.planCache.set(jobId, plan);
    }
    return plan;
  }

  /** The snapshot's stored partitions that hold chunks, in partition order. */
  async snapshotPartitions(snapshot: Snapshot): Promise<SnapshotPartition[]> {
    const partitions = Object.keys(snapshot.ops).map(Number).sort((a, b) => a - b);
    const stored = await mapLimit(partitions, 16, (partition) => this.deps.snapshots.getPartition(snapshot.snapshotId, partition));
    return stored.filter((p): p is NonNullable<typeof p> => p !== undefined && Object.keys(p.chunks).length > 0);
  }

  /** Remembers a plan just stored, so this process does not read it back. */
  cachePlan(jobId: string, plan: CopyPlan): void {
    this.planCache.set(jobId, plan);
  }

  /** The job's targets still to hydrate (`hydrating`, or `creating` before they borrowed). */
  async activeTargets(job: CopyJob): Promise<Set<string>> {
    // One BatchGetItem per 100 targets: every batch of a job asks at its start, all at once.
    const volumes = await this.deps.volumes.getMany(job.volumeIds);
    const active = new Set<string>();
    for (const [volumeId, volume] of volumes) if (volume.state === 'hydrating' || volume.state === 'creating') active.add(volumeId);
    return active;
  }
}

/** Whether a task copies anything this run: intermediaries always, a target only while it hydrates. */
export function copiesFor(job: CopyJob, task: CopyTask, active: ReadonlySet<string>): boolean {
  return task.to.kind !== 'target' || active.has(String(job.volumeIds[task.to.target]));
}
