import type { LogEntry, NoteExtent, WriteEntry, ZeroExtent } from './ports.js';

/** A note's extent with where its bytes lie in the payload worked out (data), or a zero range. */
export type ResolvedExtent =
  | { readonly offset: number; readonly length: number; readonly at: number; readonly zero?: undefined }
  | ZeroExtent;

/** True for an extent that makes its range zeros (it has no bytes in the payload). */
export const isZero = (extent: NoteExtent): extent is ZeroExtent => 'zero' in extent && extent.zero === true;

/**
 * A write entry's extents in the order they apply, each data extent with its payload offset:
 * an entry of the old shape (no `extents`) is one data extent over [offset, offset + length).
 */
export function extentsOf(entry: Pick<WriteEntry, 'offset' | 'length' | 'extents'>): ResolvedExtent[] {
  if (!entry.extents) return [{ offset: entry.offset, length: entry.length, at: 0 }];
  let next = 0;
  return entry.extents.map((extent) => {
    if (isZero(extent)) return { offset: extent.offset, length: extent.length, zero: true as const };
    const at = extent.at ?? next;
    next = at + extent.length;
    return { offset: extent.offset, length: extent.length, at };
  });
}

/** The bytes of payload a note carries: its data extents' (0 for a zero note). */
export function payloadBytes(extents: readonly NoteExtent[]): number {
  return extents.reduce((sum, extent) => sum + (isZero(extent) ? 0 : extent.length), 0);
}

/** True when the entry's note has a payload in a journal (a note of zero extents only has none). */
export function hasPayload(entry: LogEntry): entry is WriteEntry {
  return entry.kind === 'write' && (!entry.extents || payloadBytes(entry.extents) > 0);
}

/** The smallest range that holds every extent: [offset, offset + length). */
export function spanOf(extents: readonly NoteExtent[]): { offset: number; length: number } {
  if (extents.length === 0) return { offset: 0, length: 0 };
  const offset = Math.min(...extents.map((extent) => extent.offset));
  const end = Math.max(...extents.map((extent) => extent.offset + extent.length));
  return { offset, length: end - offset };
}

/** The entry's extents in the text form a digest or a comparison uses ('' for the old shape). */
export function extentsText(entry: WriteEntry): string {
  if (!entry.extents) return '';
  return entry.extents.map((extent) => (isZero(extent) ? `z${extent.offset}+${extent.length}` : `d${extent.offset}+${extent.length}@${extent.at ?? ''}`)).join(',');
}
