import { PartitionNotFoundError, VolumeNotFoundError, VolumeStateError } from '../errors.js';
import { logRef, type ChunkMap, type LogRef, type PartitionMeta } from '../notes/ports.js';
import { servesData, type Volume } from '../volumes/volume.js';
import type { FlushMessage } from './messages.js';
import type { FlushableHead, FlushDeps, PartitionView } from './ports.js';

/** The log of one of the partition's replicas, as its metadata places it. */
export function replicaLog(meta: PartitionMeta, role: 'primary' | 'secondary'): LogRef {
  return logRef(meta.volumeId, meta.partition, meta[role].replicaId);
}

/** Whether what a flush started from still holds, asked while its chunks go out. */
export interface Confirmation {
  /** The view was the partition's state. */
  readonly current: boolean;
  /**
   * When the volume was read as available (ms since the epoch, taken before the read). A
   * delete waits `volumeCacheMs` after marking the volume deleting before it removes its
   * objects, so chunks put within that time of this read are removed with the rest.
   */
  readonly availableAt: number;
}

/** What a flush starts from: decided before any chunk goes out. */
export interface FlushOrigin {
  readonly meta: PartitionMeta;
  readonly head: FlushableHead;
  /** The primary's chunk map as the flush found it. */
  readonly before: ChunkMap | undefined;
  readonly view: PartitionView | undefined;
  readonly target: number;
  /**
   * Whether the origin still holds, asked while its chunks go out; nothing names them before
   * it answers. An origin from the lease holder's view reads then whether the metadata, the
   * primary's map and the snapshot holds are as the view has them, and the volume available.
   * An origin from the log read all that before it was taken.
   */
  readonly confirm: () => Promise<Confirmation>;
}

type OriginDeps = Pick<FlushDeps, 'volumes' | 'heads' | 'snapshots' | 'metas' | 'logs' | 'chunkMaps' | 'volumeCacheMs'>;

/**
 * Where a flush gets its view, and the reads that decide how far it may go: the lease
 * holder's own view when this process has it, else the log. Also the checks every entry point
 * of lib/flush makes on the volume and partition it is asked about.
 */
export class FlushOrigins {
  constructor(
    private readonly deps: OriginDeps,
    private readonly now: () => number,
  ) {}

  /** The volume and the partition's metadata; throws for an unknown volume or partition. */
  async partition(volumeId: string, partition: number): Promise<{ volume: Volume; meta: PartitionMeta | undefined }> {
    const valid = Number.isInteger(partition) && partition >= 0;
    const [volume, meta] = await Promise.all([this.deps.volumes.get(volumeId), valid ? this.deps.metas.get(volumeId, partition) : undefined]);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (!valid || partition >= volume.partitionCount) throw new PartitionNotFoundError(volumeId, partition, volume.partitionCount);
    return { volume, meta };
  }

  /**
   * The op a flush may reach: no further than any snapshot still being materialized. Read
   * after the flush picked `wanted`: a snapshot that holds the volume later captures an op at
   * or past it.
   */
  async heldAt(volumeId: string, partition: number, wanted: number, holds?: readonly string[]): Promise<number> {
    let limit = wanted;
    for (const snapshotId of holds ?? (await this.deps.volumes.holds(volumeId))) {
      const snapshot = await this.deps.snapshots.get(snapshotId);
      // A hold whose snapshot is not recorded yet is being taken right now: flush nothing.
      if (!snapshot) return 0;
      if (snapshot.state !== 'creating') continue;
      limit = Math.min(limit, snapshot.ops[String(partition)] ?? limit);
    }
    return limit;
  }

  /**
   * The origin when this process's head holds the partition's lease: its view is the log, so
   * the flush takes it as it is, up to the head's newest op (if the message lets it go that
   * far), on the chunk map the view is built on. Its confirmation reads the volume, the metadata
   * and the map in one round trip while the chunks go out, after the view was taken.
   * Undefined when the head holds no lease.
   */
  async fromHead({ volumeId, partition, uptoOp, orNewer = false }: FlushMessage): Promise<FlushOrigin | undefined> {
    const head = this.deps.heads.existingHead(volumeId, partition);
    const view = await head?.trustedView();
    if (!head || !view?.meta) return undefined;
    const target = view.index.lastOp;
    if (target > uptoOp && !orNewer) return undefined;
    const { meta: viewMeta, base: before } = view;
    if ((before?.baseOp ?? 0) !== view.index.afterOp) return undefined;
    const confirm = async (): Promise<Confirmation> => {
      const availableAt = this.now();
      const [found, meta, stored] = await Promise.all([
        this.deps.volumes.getWithHolds(volumeId),
        this.deps.metas.get(volumeId, partition),
        this.deps.chunkMaps.get(replicaLog(viewMeta, 'primary')),
      ]);
      if (!found) throw new VolumeNotFoundError(volumeId);
      if (!servesData(found.volume.state)) throw new VolumeStateError(volumeId, found.volume.state, 'flush it');
      const current = meta?.primary.replicaId === viewMeta.primary.replicaId && meta.epoch === viewMeta.epoch;
      if (!current || stored?.version !== before?.version) return { current: false, availableAt };
      // A snapshot that holds the flush below the head's newest op needs the log up to its op.
      return { current: (await this.heldAt(volumeId, partition, target, found.holds)) === target, availableAt };
    };
    await head.replicateThrough(target);
    return { meta: viewMeta, head, before, view, target, confirm };
  }

  /**
   * The origin from the log, when no head here holds the lease: up to `uptoOp`, but never past
   * an op the secondary does not hold yet. A failover keeps only the secondary's ops, and the
   * new primary's next op must come after its base.
   */
  async fromLog({ volumeId, partition, uptoOp }: FlushMessage): Promise<FlushOrigin | undefined> {
    const availableAt = this.now();
    const { volume, meta } = await this.partition(volumeId, partition);
    if (!servesData(volume.state)) throw new VolumeStateError(volumeId, volume.state, 'flush it');
    if (!meta) return undefined;
    const head = this.deps.heads.head(volume, partition);
    const [before, primaryTail, secondaryTail] = await Promise.all([
      this.deps.chunkMaps.get(replicaLog(meta, 'primary')),
      this.deps.logs.tail(replicaLog(meta, 'primary')),
      this.deps.logs.tail(replicaLog(meta, 'secondary')),
    ]);
    const newest = Math.min(primaryTail?.op ?? 0, secondaryTail?.op ?? 0);
    const target = await this.heldAt(volumeId, partition, Math.min(uptoOp, newest));
    const view = target > (before?.baseOp ?? 0) ? await head.viewAsOf(target, { meta, base: before }) : undefined;
    return { meta, head, before, view, target, confirm: () => Promise.resolve({ current: true, availableAt }) };
  }

  /**
   * Throws unless the volume is still available: as read at `availableAt`, if that was less
   * than `volumeCacheMs` ago (a delete that began since then has not removed anything yet,
   * and will remove what this flush put), else as read now.
   */
  async stillAvailable(volumeId: string, availableAt: number): Promise<void> {
    if (this.now() - availableAt < this.deps.volumeCacheMs) return;
    const volume = await this.deps.volumes.get(volumeId);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (!servesData(volume.state)) throw new VolumeStateError(volumeId, volume.state, 'flush it');
  }
}
