import type { Extent } from '../extent-index.js';
import type { ChunkMap, ChunkRef } from '../ports.js';

/** Which objects this process holds in memory (the plan only asks; it never reads them). */
export interface MemoryHolds {
  note(noteId: string): boolean;
  chunk(key: string): boolean;
}

/** Where chunks sit in the volume. */
export interface ChunkGrid {
  /** Volume offset of the partition's first byte. */
  readonly start: number;
  readonly chunkSizeBytes: number;
}

/** Bytes [start, start + length) of a note's payload, for bytes `at`… of the range read. */
export interface NoteRead {
  readonly noteId: string;
  readonly start: number;
  readonly length: number;
  /** Where the bytes go, relative to the range's first byte. */
  readonly at: number;
}

/** The parts of one chunk version a read needs: volume ranges [from, to) in `pieces`. */
export interface ChunkRead {
  readonly ref: ChunkRef;
  /** Volume offset of the chunk's first byte. */
  readonly chunkStart: number;
  readonly pieces: ReadonlyArray<readonly [number, number]>;
}

/** For each byte of a range, where it comes from: memory, the journal, the sleds, or nowhere (zeros). */
export interface ReadPlan {
  readonly notesInMemory: readonly NoteRead[];
  /** Read from the journal in one call, which batches what its store can. */
  readonly notesInJournal: readonly NoteRead[];
  readonly chunksInMemory: readonly ChunkRead[];
  /**
   * Read from the sleds, each chunk once from its first piece to its last (a flush over many
   * small notes would otherwise GET each gap).
   */
  readonly chunksOnSleds: readonly ChunkRead[];
  /** Volume ranges no note and no chunk covers: never written, so zeros. */
  readonly zeros: ReadonlyArray<readonly [number, number]>;
}

/**
 * The read plan of [offset, offset + length) through a view: the newest op's note wins each
 * byte (the extents, disjoint, newest already on top), the base chunk map supplies the bytes no
 * note covers, and what neither covers is zeros, as is what a zero extent covers (no I/O). Pure: the same view and range give the same plan.
 * `notes`: false when the view has no metadata (nothing was ever committed, nor can be read).
 */
export function planRead(
  extents: readonly Extent[],
  base: ChunkMap | undefined,
  grid: ChunkGrid,
  offset: number,
  length: number,
  holds: MemoryHolds,
  notes = true,
): ReadPlan {
  const notesInMemory: NoteRead[] = [];
  const notesInJournal: NoteRead[] = [];
  const zeros: Array<[number, number]> = [];
  const zero = (from: number, to: number) => {
    const last = zeros.at(-1);
    if (last && last[1] === from) last[1] = to;
    else zeros.push([from, to]);
  };
  // The extents and the gaps between them come in offset order, so `zeros` stays sorted.
  const ranges: Array<{ gap: [number, number] } | { extent: Extent }> = [];
  let cursor = offset;
  for (const extent of extents) {
    if (extent.offset > cursor) ranges.push({ gap: [cursor, extent.offset] });
    ranges.push({ extent });
    cursor = Math.max(cursor, extent.offset + extent.length);
  }
  if (cursor < offset + length) ranges.push({ gap: [cursor, offset + length] });
  const pieces = new Map<number, Array<[number, number]>>();
  const { chunkSizeBytes, start } = grid;
  for (const range of ranges) {
    if ('extent' in range) {
      const { extent } = range;
      // A zero extent's bytes come from nowhere: no read at all.
      if (extent.zero) zero(extent.offset, extent.offset + extent.length);
      else if (notes) {
        const read = { noteId: extent.noteId, start: extent.offset - extent.noteOffset, length: extent.length, at: extent.offset - offset };
        (holds.note(extent.noteId) ? notesInMemory : notesInJournal).push(read);
      }
      continue;
    }
    const [gapStart, gapEnd] = range.gap;
    if (!base) {
      zero(gapStart, gapEnd);
      continue;
    }
    for (let chunk = Math.floor((gapStart - start) / chunkSizeBytes); start + chunk * chunkSizeBytes < gapEnd; chunk++) {
      const chunkStart = start + chunk * chunkSizeBytes;
      const piece: [number, number] = [Math.max(gapStart, chunkStart), Math.min(gapEnd, chunkStart + chunkSizeBytes)];
      if (!base.chunks[String(chunk)]) {
        zero(piece[0], piece[1]);
        continue;
      }
      const list = pieces.get(chunk) ?? [];
      list.push(piece);
      pieces.set(chunk, list);
    }
  }
  const chunksInMemory: ChunkRead[] = [];
  const chunksOnSleds: ChunkRead[] = [];
  for (const [chunk, list] of pieces) {
    const ref = base?.chunks[String(chunk)] as ChunkRef;
    const read = { ref, chunkStart: start + chunk * chunkSizeBytes, pieces: list };
    (holds.chunk(ref.key) ? chunksInMemory : chunksOnSleds).push(read);
  }
  return { notesInMemory, notesInJournal, chunksInMemory, chunksOnSleds, zeros };
}

/** The one object that holds a whole range: a note, or a chunk version, from byte `start` of it. */
export type SingleSource =
  | { readonly kind: 'note'; readonly noteId: string; readonly start: number }
  | { readonly kind: 'chunk'; readonly ref: ChunkRef; readonly start: number };

/** The one object read that yields the whole range, if there is one (then it needs no copy). */
export function singleSource(extents: readonly Extent[], base: ChunkMap | undefined, grid: ChunkGrid, offset: number, length: number): SingleSource | undefined {
  const only = extents[0];
  if (extents.length === 1 && only && !only.zero && only.offset === offset && only.length === length) {
    return { kind: 'note', noteId: only.noteId, start: offset - only.noteOffset };
  }
  if (extents.length > 0 || !base) return undefined;
  const { chunkSizeBytes, start } = grid;
  const chunk = Math.floor((offset - start) / chunkSizeBytes);
  const chunkStart = start + chunk * chunkSizeBytes;
  const ref = base.chunks[String(chunk)];
  if (!ref || offset + length > chunkStart + chunkSizeBytes) return undefined;
  return { kind: 'chunk', ref, start: offset - chunkStart };
}

/** The parts of [start, end) that no extent covers. */
export function gaps(start: number, end: number, extents: ReadonlyArray<{ offset: number; length: number }>): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  let cursor = start;
  for (const extent of extents) {
    if (extent.offset > cursor) found.push([cursor, extent.offset]);
    cursor = Math.max(cursor, extent.offset + extent.length);
  }
  if (cursor < end) found.push([cursor, end]);
  return found;
}
