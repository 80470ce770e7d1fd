import type { Snapshot, SnapshotPartition, SnapshotState } from './snapshot.js';

/** One page of snapshot headers. */
export interface SnapshotPage {
  readonly snapshots: readonly Snapshot[];
  /** Opaque; absent on the last page. */
  readonly nextCursor?: string;
}

/** Snapshots and their partition chunk maps (DynamoDB). */
export interface SnapshotRepository {
  create(snapshot: Snapshot): Promise<void>;
  get(snapshotId: string): Promise<Snapshot | undefined>;
  /**
   * Snapshot headers a page at a time, in no particular order (a table scan: for listings
   * such as NBD_OPT_LIST, not for hot paths). Throws ValidationError for a cursor it did not issue.
   */
  list(limit: number, cursor?: string): Promise<SnapshotPage>;
  /** Stores a partition's chunk map unless one exists (a duplicate delivery); the first write wins. */
  putPartition(partition: SnapshotPartition): Promise<void>;
  getPartition(snapshotId: string, partition: number): Promise<(SnapshotPartition & { readonly counted: boolean }) | undefined>;
  /** Counts one more partition done; returns the snapshot as updated. */
  addProgress(snapshotId: string, chunks: number, bytes: number): Promise<Snapshot>;
  /** Records that a partition's progress was counted, so a redelivery does not count it again. */
  markCounted(snapshotId: string, partition: number): Promise<void>;
  /** How many partitions have a stored chunk map (the ground truth the counters approximate). */
  countPartitions(snapshotId: string): Promise<number>;
  /** Moves `creating` to `completed`; a no-op if it already moved. */
  complete(snapshotId: string, now: Date): Promise<void>;
  /** Moves the snapshot from one of `from` to `to`; false if it was in none of them (or is gone). */
  transition(snapshotId: string, from: readonly SnapshotState[], to: SnapshotState): Promise<boolean>;
  /** Removes the snapshot's header and partition items; a no-op once they are gone. */
  remove(snapshotId: string): Promise<void>;
}
