import type { Extent } from './extent-index.js';
import type { PartitionGeometry, PartitionView } from './head/types.js';
import type { ChunkMap, ChunkRef, LogRef, PartitionMeta, ReplicaPlacement } from './ports.js';
import type { Volume } from '../volumes/volume.js';

/**
 * The one narrow interface the flush (and the checkpoint writer) has to a partition's head:
 * what it reads through, what it tells the head after moving the chunk map, and the memory it
 * may borrow. Nothing else of the head is the flush's business.
 */
export interface FlushableHead {
  readonly geometry: PartitionGeometry;
  /** The log of a replica of this partition. */
  logOf(replica: ReplicaPlacement): LogRef;
  /** The head's own view when it holds the lease (no log read needed), else undefined. */
  trustedView(): Promise<PartitionView | undefined>;
  /** The partition as of op `uptoOp`, built from the log (optionally on a map already read). */
  viewAsOf(uptoOp: number, from?: { readonly meta: PartitionMeta; readonly base: ChunkMap | undefined }): Promise<PartitionView>;
  /** Starts a read through a view: copies what memory holds, returns the sled reads still to make. */
  startViewRead(view: PartitionView, offset: number, length: number, into: Buffer, at: number, known?: Extent[]): Promise<void> | undefined;
  /** A chunk version's bytes, from memory when the head has them. */
  chunkBytes(ref: ChunkRef, length: number): Buffer | Promise<Buffer>;
  /** Keeps a chunk version just put, so the next flush of that chunk reads nothing back. */
  rememberChunk(key: string, bytes: Buffer): void;
  /** Forgets chunk versions that were collected. */
  forgetChunks(keys: Iterable<string>): void;
  /** The flush moved the primary's chunk map from `before` to `after`, building `built`. */
  adoptFlushed(before: ChunkMap | undefined, after: ChunkMap, built?: ReadonlyMap<number, Buffer>): void;
  /** Makes sure the secondary holds every op through `op`. */
  replicateThrough(op: number): Promise<void>;
}

/** Where the flush finds heads: the serving process's own, or a fresh one for work elsewhere. */
export interface HeadDirectory {
  /** This process's head of the partition, if it has one (it may hold the lease). */
  existingHead(volumeId: string, partition: number): FlushableHead | undefined;
  /** A head of the partition, made if this process has none. */
  head(volume: Pick<Volume, 'volumeId' | 'sizeBytes' | 'chunkSizeBytes' | 'partitionChunks'>, partition: number): FlushableHead;
}
