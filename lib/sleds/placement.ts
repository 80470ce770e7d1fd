import { createHash } from 'node:crypto';

function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/**
 * Picks the journal sleds of a partition's two head-node replicas: a hash of (volume,
 * partition) picks the primary's sled, a second hash picks a different sled for the
 * secondary. Partitions of one volume thus spread over every sled, and the two journals of
 * a partition never share one, so losing a sled never loses both copies of a note.
 */
export function journalSleds(volumeId: string, partition: number, sledCount: number): [number, number] {
  if (sledCount < 2) throw new Error('two head-node replicas need at least two sleds');
  const primary = hash32(`${volumeId}/${partition}/primary`) % sledCount;
  const step = 1 + (hash32(`${volumeId}/${partition}/secondary`) % (sledCount - 1));
  return [primary, (primary + step) % sledCount];
}

/**
 * The sled that holds partition `partition` of a snapshot: the partitions of a snapshot go
 * round-robin over all sleds from a start picked by a hash of the snapshot id, skipping the
 * sleds of the partition's write replicas. A snapshot is thus a highly distributed replica:
 * each partition on one sled, the partitions of one snapshot on every sled, and never on a
 * sled that takes the volume's writes for that partition.
 */
export function snapshotSled(snapshotId: string, partition: number, sledCount: number, avoid: readonly number[] = []): number {
  let sled = (hash32(`${snapshotId}/start`) + partition) % sledCount;
  for (let tries = 0; tries < sledCount && avoid.includes(sled); tries++) sled = (sled + 1) % sledCount;
  return sled;
}

/**
 * The sled of a flushed chunk: a hash of (volume, partition, chunk), so one partition's
 * chunks spread over the sleds and a hot partition does not sit on one link.
 */
export function chunkSled(volumeId: string, partition: number, chunk: number, sledCount: number): number {
  return hash32(`${volumeId}/${partition}/${chunk}/chunk`) % sledCount;
}
