import type { Extent } from '../extent-index.js';
import type { ChunkMap } from '../ports.js';
import type { ChunkGrid } from './read-plan.js';

/** A run of a volume that holds data, or reads as zeros (never written, zeroed, or flushed away as zeros). */
export interface AllocationExtent {
  readonly offset: number;
  readonly length: number;
  readonly type: 'data' | 'zero';
}

/** Appends [offset, offset + length) of `type`, merged with the run before it when they meet and agree. */
export function pushRun(runs: AllocationExtent[], offset: number, length: number, type: AllocationExtent['type']): void {
  if (length <= 0) return;
  const last = runs.at(-1);
  if (last && last.type === type && last.offset + last.length === offset) runs[runs.length - 1] = { offset: last.offset, length: last.length + length, type };
  else runs.push({ offset, length, type });
}

/**
 * The allocation map of [offset, offset + length) through a view: the notes after the base
 * first (a data extent is data, a zero extent is zero, to the 4 KiB block), then the base chunk
 * map under them at chunk precision (a chunk the map names is data, an absent one is zeros:
 * a flush drops chunks that became all zeros). Merged runs in offset order that cover the
 * range exactly. Pure: no I/O. `extents`: the view's index looked up over the range.
 */
export function allocationOf(extents: readonly Extent[], base: ChunkMap | undefined, grid: ChunkGrid, offset: number, length: number): AllocationExtent[] {
  const runs: AllocationExtent[] = [];
  const { start, chunkSizeBytes } = grid;
  const fromBase = (from: number, to: number) => {
    if (!base) {
      pushRun(runs, from, to - from, 'zero');
      return;
    }
    for (let chunk = Math.floor((from - start) / chunkSizeBytes); start + chunk * chunkSizeBytes < to; chunk++) {
      const chunkStart = start + chunk * chunkSizeBytes;
      const pieceFrom = Math.max(from, chunkStart);
      const pieceTo = Math.min(to, chunkStart + chunkSizeBytes);
      pushRun(runs, pieceFrom, pieceTo - pieceFrom, base.chunks[String(chunk)] ? 'data' : 'zero');
    }
  };
  let cursor = offset;
  for (const extent of extents) {
    if (extent.offset > cursor) fromBase(cursor, extent.offset);
    pushRun(runs, extent.offset, extent.length, extent.zero ? 'zero' : 'data');
    cursor = Math.max(cursor, extent.offset + extent.length);
  }
  if (cursor < offset + length) fromBase(cursor, offset + length);
  return runs;
}

/** Runs of consecutive ranges (partitions, in order) merged where they meet and agree. */
export function mergeRuns(parts: ReadonlyArray<readonly AllocationExtent[]>): AllocationExtent[] {
  const runs: AllocationExtent[] = [];
  for (const part of parts) for (const run of part) pushRun(runs, run.offset, run.length, run.type);
  return runs;
}
