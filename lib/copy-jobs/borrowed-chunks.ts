import { ConcurrentModificationError } from '../errors.js';
import { initialMeta } from '../notes/partition-head.js';
import {
  logRef,
  type ChunkMap,
  type ChunkMapStore,
  type ChunkRef,
  type LogRef,
  type NewPartition,
  type NewPartitionWriter,
  type PartitionMeta,
  type PartitionMetaStore,
} from '../notes/ports.js';
import { mapLimit } from '../shared/concurrency.js';
import type { SnapshotPartition } from '../snapshots/snapshot.js';

/** How often a conditional map update is tried again when a flush moved the map meanwhile. */
const SWAP_ATTEMPTS = 20;

/**
 * The head-node items of a copy target's partition before hydration: its metadata and both
 * replicas' chunk maps at op 0, each naming the snapshot's own chunk objects (borrowed refs).
 * Reads go through them to the snapshot's sleds; writes land as notes on top, and a flush puts
 * the target's own chunk versions over them, as for any volume.
 */
export function borrowedPartition(volumeId: string, source: SnapshotPartition, sledCount: number): NewPartition {
  const meta = initialMeta(volumeId, source.partition, sledCount);
  return {
    meta,
    chunkMaps: [meta.primary, meta.secondary].map((replica) => ({
      volumeId,
      partition: source.partition,
      replicaId: replica.replicaId,
      baseOp: 0,
      chunks: { ...source.chunks },
      version: 1,
    })),
  };
}

/** Where borrowed partitions are written. */
export interface BorrowDeps {
  readonly newPartitions: NewPartitionWriter;
  readonly metas: PartitionMetaStore;
  readonly chunkMaps: ChunkMapStore;
}

/**
 * Writes borrowed partitions. `fresh`: the volumes were created by this very request, so
 * nobody can have written them yet and the items go out in batches, unconditionally. Otherwise
 * (a retried request, the Plan state) each item is written only if absent: a target that is
 * already in use may have moved its maps on, and they must stay as they are.
 */
export async function writeBorrowed(deps: BorrowDeps, partitions: readonly NewPartition[], fresh: boolean): Promise<void> {
  if (fresh) {
    await deps.newPartitions.putNewPartitions(partitions);
    return;
  }
  // Metadata first, as in putNewPartitions: a chunk map never exists without the metadata that names its replica.
  await mapLimit(partitions, 16, (partition) => deps.metas.createIfAbsent(partition.meta));
  await mapLimit(
    partitions.flatMap((partition) => partition.chunkMaps),
    16,
    (map) => deps.chunkMaps.put(map, undefined),
  );
}

/** The borrowed ref and the target's own verified copy of one chunk. */
export interface ChunkSwap {
  readonly borrowed: ChunkRef;
  readonly own: ChunkRef;
}

/** What hydration did to one partition's maps. */
export interface Adopted {
  /** Own copies that a map names now (this time or an earlier attempt). */
  readonly adopted: number;
  /** Own copies no map names: the target flushed its own version of that chunk first. */
  readonly unused: ChunkRef[];
}

/**
 * Puts the target's own copy of each chunk into a replica's map, in place of the borrowed ref,
 * ONLY where the map still names the borrowed ref: a chunk the target has since flushed its own
 * version of keeps it (hydration fills the base; writes stay on top). One conditional write on
 * the map's version, read again and retried when a flush moved the map meanwhile.
 */
export async function adoptOwnChunks(
  chunkMaps: ChunkMapStore,
  meta: PartitionMeta,
  swaps: Readonly<Record<string, ChunkSwap>>,
  /** A map read ahead for the log (several targets' maps in one batch), tried first; a stale one fails its conditional put and is read again. */
  readAhead: (log: LogRef) => ChunkMap | undefined = () => undefined,
): Promise<Adopted> {
  const named = new Set<string>();
  for (const replica of [meta.primary, meta.secondary]) {
    const log = logRef(meta.volumeId, meta.partition, replica.replicaId);
    for (let attempt = 0; ; attempt++) {
      const map = (attempt === 0 ? readAhead(log) : undefined) ?? (await chunkMaps.get(log));
      if (!map) break;
      const next = swapped(map, swaps);
      for (const [chunk, swap] of Object.entries(swaps)) if (next.chunks[chunk]?.key === swap.own.key) named.add(swap.own.key);
      if (next === map || (await chunkMaps.put(next, map.version))) break;
      if (attempt >= SWAP_ATTEMPTS) {
        throw new ConcurrentModificationError(`partition ${meta.partition} of ${meta.volumeId}: its chunk map kept moving during hydration; retry`);
      }
    }
  }
  const unused = Object.values(swaps)
    .map((swap) => swap.own)
    .filter((own) => !named.has(own.key));
  return { adopted: Object.keys(swaps).length - unused.length, unused };
}

/** The map with each still-borrowed chunk replaced by the target's own copy; the same map if nothing changes. */
function swapped(map: ChunkMap, swaps: Readonly<Record<string, ChunkSwap>>): ChunkMap {
  const chunks: Record<string, ChunkRef> = { ...map.chunks };
  let changed = false;
  for (const [chunk, swap] of Object.entries(swaps)) {
    const current = chunks[chunk];
    if (current && current.key === swap.borrowed.key && current.sled === swap.borrowed.sled) {
      chunks[chunk] = swap.own;
      changed = true;
    }
  }
  return changed ? { ...map, chunks, version: map.version + 1 } : map;
}
