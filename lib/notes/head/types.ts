import type { FrozenImages } from '../chunk-images.js';
import type { ExtentIndex } from '../extent-index.js';
import type { ChunkMap, NoteExtent, PartitionMeta } from '../ports.js';

/**
 * Points in the write protocol where a test can make the process "crash": the `step` of the
 * FAILPOINTS.write failpoint (lib/faults.ts), armed with armFailpoint.
 */
export type CrashPoint = 'after-payload' | 'after-pending-note' | 'after-primary-commit' | 'after-secondary-commit';

/** Where a partition sits in its volume. */
export interface PartitionGeometry {
  /** Volume offset of the partition's first byte. */
  readonly start: number;
  readonly chunkSizeBytes: number;
  readonly partitionChunks: number;
  /** The volume's size: the last partition's last chunk may end before a whole chunk. */
  readonly volumeBytes: number;
}

/** What a partition holds as of some op: its chunk map and an index of the notes after it. */
export interface PartitionView {
  readonly meta: PartitionMeta | undefined;
  readonly base: ChunkMap | undefined;
  readonly index: ExtentIndex;
  /** The head's chunk images as of the index's newest op, when it has them. */
  readonly images?: FrozenImages;
}

/** The metadata, chunk map and extent index this process reads through. */
export interface HeadView {
  readonly meta: PartitionMeta;
  readonly base: ChunkMap | undefined;
  readonly index: ExtentIndex;
}

/**
 * A note to commit: its payload and where it goes in the volume. Without `extents`, the
 * payload is written at `offset`; with them, they say where each part of the payload goes and
 * which ranges become zeros, in order (see WriteEntry), and `offset` is their span's start.
 */
export interface Note {
  readonly noteId: string;
  readonly offset: number;
  readonly payload: Buffer;
  readonly sha256: string;
  readonly extents?: readonly NoteExtent[];
}
