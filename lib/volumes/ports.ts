import type { Volume, VolumeState } from './volume.js';

export interface VolumePage {
  readonly volumes: readonly Volume[];
  /** Opaque; absent on the last page. */
  readonly nextCursor?: string;
}

/** Where volume metadata lives (DynamoDB in every deployment). */
export interface VolumeRepository {
  /** Stores a new volume; fails with ConcurrentModificationError if the id is taken. */
  create(volume: Volume): Promise<void>;
  /**
   * Stores volumes no other request can know of yet (the targets of a copy job this very request
   * created: their ids derive from the new job's), unconditionally, 25 per BatchWriteItem. Also
   * moves such volumes on before the request answers, with no one else to race.
   */
  putFresh(volumes: readonly Volume[]): Promise<void>;
  get(volumeId: string): Promise<Volume | undefined>;
  /** Several volumes in a few reads (100 per BatchGetItem): by id; an unknown id has no entry. */
  getMany(volumeIds: readonly string[]): Promise<Map<string, Volume>>;
  /** Throws ValidationError for a cursor it did not issue. */
  list(limit: number, cursor?: string): Promise<VolumePage>;
  /**
   * Moves a volume to `to` if its state is one of `from`, and returns the updated volume.
   * Throws VolumeNotFoundError or VolumeStateError otherwise.
   */
  transition(volumeId: string, from: readonly VolumeState[], to: VolumeState, now: Date): Promise<Volume>;
  /**
   * Holds and releases a snapshot on the volume: while a snapshot is materialized, flush does
   * not move a partition's base past the snapshot's op.
   */
  addHold(volumeId: string, snapshotId: string): Promise<void>;
  removeHold(volumeId: string, snapshotId: string): Promise<void>;
  /** The snapshots held on the volume. */
  holds(volumeId: string): Promise<string[]>;
  /** The volume and its snapshot holds, in one read. */
  getWithHolds(volumeId: string): Promise<{ volume: Volume; holds: string[] } | undefined>;
  /** Removes the item; a no-op if it is already gone. */
  remove(volumeId: string): Promise<void>;
}

/** Where volume data lives (the sled buckets). */
export interface VolumeDataStore {
  /** Removes every object of the volume on every sled; returns how many were removed. */
  removeVolumeData(volumeId: string): Promise<number>;
}

/** A backing service that can say whether it answers. */
export interface HealthProbe {
  readonly name: string;
  check(): Promise<void>;
}
