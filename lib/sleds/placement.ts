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
 * The sleds that hold a snapshot's partitions. Each partition goes, whole, to the sled that
 * holds the fewest of this snapshot's partitions so far, among the sleds that do not hold the
 * partition's write replicas; ties go round-robin from a start picked by a hash of the
 * snapshot id. A snapshot is thus a highly distributed replica: each partition on one sled,
 * the partitions spread evenly over every sled, and none on a sled that takes its writes.
 */
export function snapshotSleds(
  snapshotId: string,
  partitions: ReadonlyArray<{ readonly partition: number; readonly avoid: readonly number[] }>,
  sledCount: number,
): Record<string, number> {
  const start = hash32(`${snapshotId}/start`) % sledCount;
  const load = new Array<number>(sledCount).fill(0);
  const placed: Record<string, number> = {};
  for (const { partition, avoid } of [...partitions].sort((a, b) => a.partition - b.partition)) {
    const allowed = Array.from({ length: sledCount }, (_, sled) => sled).filter((sled) => !avoid.includes(sled));
    const candidates = allowed.length > 0 ? allowed : Array.from({ length: sledCount }, (_, sled) => sled);
    const preferred = (start + partition) % sledCount;
    const distance = (sled: number) => (sled - preferred + sledCount) % sledCount;
    const sled = candidates.reduce((best, next) =>
      (load[next] ?? 0) < (load[best] ?? 0) || ((load[next] ?? 0) === (load[best] ?? 0) && distance(next) < distance(best)) ? next : best,
    );
    load[sled] = (load[sled] ?? 0) + 1;
    placed[String(partition)] = sled;
  }
  return placed;
}

/**
 * The sled of a flushed chunk: a hash of (volume, partition, chunk), so one partition's
 * chunks spread over the sleds and a hot partition does not sit on one link.
 */
export function chunkSled(volumeId: string, partition: number, chunk: number, sledCount: number): number {
  return hash32(`${volumeId}/${partition}/${chunk}/chunk`) % sledCount;
}
