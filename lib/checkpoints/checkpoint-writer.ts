import type { ChunkMap, ChunkRef, PartitionMeta } from '../notes/ports.js';
import type { CheckpointRecord, CheckpointStore } from './checkpoint.js';

/**
 * Writes checkpoints: the partition's metadata as of a flushed op, on a sled, with its record.
 * The flush decides when (it sequences flush, checkpoint and collection); this decides whether
 * one is owed and what goes in it. It reads no head and no log: what it writes is what a
 * chunk map named, so lib/checkpoints needs nothing of lib/flush.
 */
export class CheckpointWriter {
  constructor(
    private readonly deps: { readonly checkpoints: CheckpointStore; readonly checkpointEveryOps: number },
    private readonly clock: () => Date,
  ) {}

  /** Whether a flush that reached `op` owes a checkpoint: `checkpointEveryOps` ops or more since the newest of `records`. */
  due(records: readonly CheckpointRecord[], op: number): boolean {
    return op - (records[0]?.op ?? 0) >= this.deps.checkpointEveryOps;
  }

  /** Writes the checkpoint of the partition at `op`, whose chunk map names `chunks`. */
  writeAt(meta: PartitionMeta, op: number, chunks: Readonly<Record<string, ChunkRef>>): Promise<CheckpointRecord> {
    // On the secondary's journal sled: a different link from the primary's, so losing one keeps the other.
    return this.deps.checkpoints.write(
      { volumeId: meta.volumeId, partition: meta.partition, op, epoch: meta.epoch, chunks, createdAt: this.clock().toISOString() },
      meta.secondary.sled,
    );
  }

  /**
   * The checkpoint of `map` as it stands (an on-demand checkpoint): the newest of `records`
   * when it is at the map's base already, else a new one (`written`: the caller collects then).
   */
  async ofMap(meta: PartitionMeta, map: ChunkMap | undefined, records: readonly CheckpointRecord[]): Promise<{ record: CheckpointRecord; written: boolean }> {
    const newest = records[0];
    if (newest && newest.op === (map?.baseOp ?? 0)) return { record: newest, written: false };
    return { record: await this.writeAt(meta, map?.baseOp ?? 0, map?.chunks ?? {}), written: true };
  }
}
