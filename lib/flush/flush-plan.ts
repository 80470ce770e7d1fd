import type { FrozenImage } from '../notes/chunk-images.js';
import type { Extent } from '../notes/extent-index.js';
import { isTableNote } from '../notes/note-ids.js';
import { zerosSha256 } from '../shared/zeros.js';
import type { ChunkMap, ChunkRef, ReplicaPlacement } from '../notes/ports.js';
import { chunkSled } from '../sleds/placement.js';
import { chunkKeyPrefix } from '../volumes/volume.js';
import type { PartitionGeometry, PartitionView } from './ports.js';

/*
 * The flush plan, as pure functions of a view: which chunks the ops after the base touched,
 * where each chunk's new bytes come from, and what the chunk maps become. No I/O and no clock,
 * so every decision here is unit-tested on its own (test/unit/flush-plan.test.ts); the chunk
 * builder and the orchestration only carry it out.
 */

/** The view as far as the plan reads it. */
export type PlanView = Pick<PartitionView, 'meta' | 'base' | 'index' | 'images'>;

/** Where a chunk's new content comes from. */
export type ChunkSource =
  /** One sled note wrote the chunk whole, and nothing else did: the sled copies that note's object from the primary's journal. */
  | { readonly kind: 'note'; readonly noteId: string; readonly sha256: string; readonly from: ReplicaPlacement }
  /** The head's in-memory image of the chunk; laid over `base` (the old version) when it holds only the blocks written since. */
  | { readonly kind: 'image'; readonly image: FrozenImage; readonly base?: ChunkRef }
  /** Read through the view: the base's chunk overlaid with these extents (newest op wins per byte). */
  | { readonly kind: 'view'; readonly extents: Extent[] }
  /** Zero extents cover the whole chunk, or one note of zeros wrote it whole: no object, the map drops the chunk. */
  | { readonly kind: 'zeros' };

/** One chunk a flush writes: where it lies in the volume, and from what. */
export interface ChunkPlan {
  readonly chunk: number;
  /** Volume offset of its first byte. */
  readonly start: number;
  /** Its length: a whole chunk, except maybe the volume's last one. */
  readonly length: number;
  readonly source: ChunkSource;
}

/** The bytes of `chunk` (of the partition) that lie inside the volume: 0 past its end, less than a chunk for the last one. */
export function chunkLength(geometry: PartitionGeometry, chunk: number): number {
  return Math.max(0, Math.min(geometry.chunkSizeBytes, geometry.volumeBytes - (geometry.start + chunk * geometry.chunkSizeBytes)));
}

/** The chunks that the notes after the view's base wrote into (the index's segments cover exactly those). */
export function touchedChunks(geometry: PartitionGeometry, index: Pick<PlanView['index'], 'covers'>): number[] {
  const chunks = Array.from({ length: geometry.partitionChunks }, (_, chunk) => chunk);
  return chunks.filter((chunk) => chunkLength(geometry, chunk) > 0 && index.covers(geometry.start + chunk * geometry.chunkSizeBytes, chunkLength(geometry, chunk)));
}

/**
 * The head's image of the chunk, when it shows the chunk as of the view: a whole chunk, or
 * every block written after the view's base (the rest is as the base has it).
 */
function usableImage(view: PlanView, chunk: number): FrozenImage | undefined {
  const images = view.images;
  const image = images?.op === view.index.lastOp ? images.chunks.get(chunk) : undefined;
  return image && (!image.written || images!.fromOp <= view.index.afterOp) ? image : undefined;
}

/** Where one touched chunk's content comes from, as of the view. */
export function chunkSource(geometry: PartitionGeometry, view: PlanView, chunk: number): ChunkSource {
  const start = geometry.start + chunk * geometry.chunkSizeBytes;
  const length = chunkLength(geometry, chunk);
  // A chunk that one note wrote whole, and nothing else: that note's object is the chunk, so
  // the sled copies it and its digest is the note's. Sequential writers land here. (A note
  // in the table has no object: its chunk is read and put like any other.)
  const extents = view.index.lookup(start, length);
  if (extents.every((extent) => extent.zero) && extents.reduce((sum, extent) => sum + extent.length, 0) === length) return { kind: 'zeros' };
  const note = extents.length === 1 ? extents[0] : undefined;
  if (view.meta && note?.sha256 && !note.zero && !isTableNote(note.noteId) && note.noteOffset === start && note.noteLength === length && note.length === length) {
    // A note of written zeros is no object either (thin provisioning).
    if (note.sha256 === zerosSha256(length)) return { kind: 'zeros' };
    return { kind: 'note', noteId: note.noteId, sha256: note.sha256, from: view.meta.primary };
  }
  const image = usableImage(view, chunk);
  if (image) {
    // A chunk the base does not have was zeros, as an image is where no write reached: then,
    // or when the image is whole, it is the chunk as it is.
    const base = image.written ? view.base?.chunks[String(chunk)] : undefined;
    return { kind: 'image', image, ...(base ? { base } : {}) };
  }
  return { kind: 'view', extents };
}

/**
 * The chunks a flush to `target` writes, in chunk order; undefined when there is nothing to
 * flush (no view, or the base is at `target` already). An empty list still moves the maps:
 * the ops after the base wrote nothing (epoch entries only).
 */
export function planChunks(geometry: PartitionGeometry, view: PlanView | undefined, target: number, before: ChunkMap | undefined): ChunkPlan[] | undefined {
  if (view === undefined || target <= (before?.baseOp ?? 0)) return undefined;
  return touchedChunks(geometry, view.index).map((chunk) => ({
    chunk,
    start: geometry.start + chunk * geometry.chunkSizeBytes,
    length: chunkLength(geometry, chunk),
    source: chunkSource(geometry, view, chunk),
  }));
}

/**
 * Where a chunk version goes: a sled picked by a hash, and a key of its own per flush attempt,
 * so that no key is ever put twice (the orphan sweep relies on that).
 */
export function chunkLocation(volumeId: string, partition: number, chunk: number, target: number, attempt: string, sledCount: number): { sled: number; key: string } {
  return { sled: chunkSled(volumeId, partition, chunk, sledCount), key: `${chunkKeyPrefix(volumeId, partition)}${chunk}/op-${target}-${attempt}` };
}

/**
 * The primary's map after the flush: `before` with the chunks written replaced and the chunks
 * that became all zeros (`dropped`) removed (an absent chunk is zeros), at base `target`, one
 * version on.
 */
export function nextChunkMap(
  before: ChunkMap | undefined,
  replica: { readonly volumeId: string; readonly partition: number; readonly replicaId: string },
  target: number,
  written: Readonly<Record<string, ChunkRef>>,
  dropped: readonly number[] = [],
): ChunkMap {
  const chunks: Record<string, ChunkRef> = { ...(before?.chunks ?? {}), ...written };
  for (const chunk of dropped) delete chunks[String(chunk)];
  return {
    volumeId: replica.volumeId,
    partition: replica.partition,
    replicaId: replica.replicaId,
    baseOp: target,
    chunks,
    version: (before?.version ?? 0) + 1,
  };
}

/**
 * The secondary's next map: the primary's as it is, when the secondary's is behind it (the
 * secondary holds every op up to the primary's base, so that is a state the partition had);
 * undefined when it is not behind.
 */
export function followingMap(behind: ChunkMap | undefined, flushed: ChunkMap, replicaId: string): ChunkMap | undefined {
  return (behind?.baseOp ?? 0) < flushed.baseOp ? { ...flushed, replicaId, version: (behind?.version ?? 0) + 1 } : undefined;
}

/** The chunk versions `old` named that `next` no longer does: what a map move may free. */
export function replacedBy(old: ChunkMap | undefined, next: ChunkMap): ChunkRef[] {
  return Object.entries(old?.chunks ?? {}).flatMap(([chunk, ref]) => (next.chunks[chunk]?.key === ref.key ? [] : [ref]));
}
