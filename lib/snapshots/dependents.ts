import { SledsError } from '../errors.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { VolumeRepository } from '../volumes/ports.js';
import type { SnapshotRepository } from './ports.js';
import { SnapshotNotFoundError } from './snapshot-service.js';

/** Volumes still read through to the snapshot (409). */
export class SnapshotInUseError extends SledsError {
  constructor(snapshotId: string, volumeIds: readonly string[]) {
    const shown = volumeIds.slice(0, 20).join(', ') + (volumeIds.length > 20 ? ` and ${volumeIds.length - 20} more` : '');
    super(
      'SnapshotInUse',
      409,
      `Snapshot ${snapshotId} is still needed by ${volumeIds.length} hydrating volume${volumeIds.length === 1 ? '' : 's'} that read through to it: ${shown}. ` +
        'Wait for their copy job to finish (or retry it: POST /copy-jobs/{jobId}/retry), or delete those volumes.',
    );
  }
}

/** The snapshot is being taken: it cannot be deleted yet (409). */
export class SnapshotBusyError extends SledsError {
  constructor(snapshotId: string, state: string) {
    super('SnapshotStateConflict', 409, `Snapshot ${snapshotId} is ${state}; it can be deleted once it is completed.`);
  }
}

export interface SnapshotDeletionDeps {
  readonly snapshots: SnapshotRepository;
  readonly volumes: VolumeRepository;
  readonly chunks: ChunkStore;
}

const PAGE = 1000;

/**
 * Which volumes depend on a snapshot, and deleting one that nothing needs. A copy target
 * depends on its snapshot while it is `creating` or `hydrating`: its chunk maps may name the
 * snapshot's objects (borrowed refs). Once `available`, every chunk it names is its own.
 */
export class SnapshotDeletion {
  constructor(private readonly deps: SnapshotDeletionDeps) {}

  /** The volumes that still read through to the snapshot (a scan of the volumes: volumes do not index their source). */
  async dependents(snapshotId: string): Promise<string[]> {
    const found: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.volumes.list(PAGE, cursor);
      for (const volume of page.volumes) {
        if (volume.source?.snapshotId === snapshotId && (volume.state === 'hydrating' || volume.state === 'creating')) found.push(volume.volumeId);
      }
      cursor = page.nextCursor;
    } while (cursor);
    return found;
  }

  /**
   * DELETE /snapshots/{id}: marks the snapshot `deleting` (so no new copy borrows from it), then
   * looks for dependents; with any, it goes back to `completed` and the answer is 409 naming
   * them. Otherwise its objects on every sled go, then its records. A delete that stopped part-way
   * is finished by repeating it.
   */
  async delete(snapshotId: string): Promise<{ snapshotId: string; deleted: true; objectsRemoved: number }> {
    const snapshot = await this.deps.snapshots.get(snapshotId);
    if (!snapshot) throw new SnapshotNotFoundError(snapshotId);
    if (!(await this.deps.snapshots.transition(snapshotId, ['completed', 'failed', 'deleting'], 'deleting'))) {
      const now = await this.deps.snapshots.get(snapshotId);
      if (!now) throw new SnapshotNotFoundError(snapshotId);
      throw new SnapshotBusyError(snapshotId, now.state);
    }
    // Marked first, then read: a copy request that checked the snapshot before the mark has
    // created its targets by now (we see them), or checks again after creating them (it sees the mark).
    const dependents = await this.dependents(snapshotId);
    if (dependents.length > 0) {
      await this.deps.snapshots.transition(snapshotId, ['deleting'], snapshot.state === 'deleting' ? 'completed' : snapshot.state);
      throw new SnapshotInUseError(snapshotId, dependents);
    }
    const objectsRemoved = await this.deps.chunks.removePrefix(`snapshots/${snapshotId}/`);
    await this.deps.snapshots.remove(snapshotId);
    return { snapshotId, deleted: true, objectsRemoved };
  }
}
