import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ChunkRef } from '../notes/ports.js';

/** `creating` while partitions are materialized onto the sleds; then `completed`; `deleting` once a delete has begun. */
export type SnapshotState = 'creating' | 'completed' | 'failed' | 'deleting';

export interface Snapshot {
  readonly snapshotId: string;
  readonly volumeId: string;
  readonly state: SnapshotState;
  readonly sizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly partitionChunks: number;
  readonly partitionCount: number;
  /** Partition → the op it is taken at; partitions never written are absent (all zeros). */
  readonly ops: Readonly<Record<string, number>>;
  /** Partition → the sled its snapshot chunks go to (lib/sleds/placement.ts). */
  readonly sleds: Readonly<Record<string, number>>;
  readonly progress: {
    readonly partitionsDone: number;
    readonly partitionsTotal: number;
    readonly chunksStored: number;
    readonly bytesStored: number;
  };
  readonly createdAt: string;
  readonly completedAt?: string;
}

/** One partition of a snapshot: its chunks, all on one sled. */
export interface SnapshotPartition {
  readonly snapshotId: string;
  readonly partition: number;
  readonly sled: number;
  readonly chunks: Readonly<Record<string, ChunkRef>>;
}

const SNAPSHOT_ID = /^snap-[0-9a-f]{17}$/;

/** A new snapshot id: `snap-` and 17 lowercase hex digits. */
export function newSnapshotId(): string {
  return `snap-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

export const snapshotIdSchema = z.string().regex(SNAPSHOT_ID, 'snapshotId must be "snap-" followed by 17 lowercase hex digits');

/** Key of chunk `chunk` of partition `partition` of a snapshot. */
export function snapshotChunkKey(snapshotId: string, partition: number, chunk: number): string {
  return `snapshots/${snapshotId}/${partition}/${chunk}`;
}
