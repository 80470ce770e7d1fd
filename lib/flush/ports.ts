import type { CheckpointRecord, CheckpointStore } from '../checkpoints/checkpoint.js';
import type { FlushableHead, HeadDirectory } from '../notes/flushable-head.js';
import type { ChunkMapStore, JournalStore, NoteLogStore, PartitionMetaStore } from '../notes/ports.js';
import type { WorkQueue } from '../queues/ports.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { SnapshotRepository } from '../snapshots/ports.js';
import type { VolumeRepository } from '../volumes/ports.js';
import type { FlushQueueMessage } from './messages.js';

/** The head's side of the flush: the only two interfaces through which lib/flush reaches a head. */
export type { FlushableHead, HeadDirectory } from '../notes/flushable-head.js';

/**
 * A partition's geometry as the flush sees it, taken from FlushableHead rather than from the
 * head's own module: the flush depends on the narrow interface alone, however the head is split.
 */
export type PartitionGeometry = FlushableHead['geometry'];

/** What a partition holds as of some op (its map, its index, its images), as FlushableHead hands it out. */
export type PartitionView = Awaited<ReturnType<FlushableHead['viewAsOf']>>;

/** Everything the flush, its checkpoints, its garbage collection and its sweep need from outside lib/flush. */
export interface FlushDeps {
  readonly volumes: VolumeRepository;
  /** Where the flush finds a partition's head: the narrow interface, never the data service itself. */
  readonly heads: HeadDirectory;
  readonly snapshots: SnapshotRepository;
  readonly metas: PartitionMetaStore;
  readonly logs: NoteLogStore;
  readonly journal: JournalStore;
  readonly chunkMaps: ChunkMapStore;
  readonly chunks: ChunkStore;
  readonly checkpoints: CheckpointStore;
  readonly queue: WorkQueue<FlushQueueMessage>;
  readonly sledCount: number;
  /** Write a checkpoint once this many ops have passed since the last one. */
  readonly checkpointEveryOps: number;
  /**
   * How long a volume read as `available` may be trusted. A volume delete waits this long
   * after marking the volume deleting before it removes its objects, so the wiring passes the
   * delete's own figure (VOLUME_CACHE_MS): injected, so that the flush does not import the data service.
   */
  readonly volumeCacheMs: number;
  readonly clock?: () => Date;
}

/** What a sweep removed, or why it looked at nothing. */
export interface SweepResult {
  /** Why nothing was looked at, when the partition was busy. */
  readonly skipped?: string;
  readonly chunksRemoved: number;
  readonly notesRemoved: number;
}

/** What a flush did: how far it got, what it wrote, and what it freed. */
export interface FlushResult {
  readonly flushedOp: number;
  readonly chunksWritten: number;
  readonly checkpoint?: CheckpointRecord;
  readonly notesTrimmed: number;
  readonly chunksCollected: number;
}

/** Both replicas, in the order the flush moves their maps. */
export const ROLES = ['primary', 'secondary'] as const;
