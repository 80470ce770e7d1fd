import type { ListedChunk } from '../sleds/ports.js';
import { ORPHAN_GRACE_MS } from '../shared/orphan-limits.js';

/**
 * Orphans: objects that nothing names and nothing will. A flush that crashed between its
 * chunk PUTs and its map writes leaves chunk objects no map names; a write that stopped
 * before its commit, or whose op a failover discarded, leaves a note no log names. The flush's
 * garbage collection only sees what a map named before, so a sweep finds the rest: objects
 * under the partition's prefixes that no map, checkpoint or log names, and that are older
 * than ORPHAN_GRACE_MS.
 *
 * Why the age makes this safe: a flush names its chunks within MAX_UNNAMED_MS of its first
 * PUT, and a write commits its note within MAX_UNNAMED_MS of putting it, or they give up
 * (unacknowledged, to be retried under new names). The sweep lists first and reads what is
 * named after, so an object older than the grace that is still to be named would have been
 * named before the sweep read the names. No name is ever put twice: chunk keys carry the
 * flush attempt, and note ids the write attempt (see note-ids.ts).
 */
export { MAX_UNNAMED_MS, ORPHAN_GRACE_MS } from '../shared/orphan-limits.js';

/** A sweep runs this long after the checkpoint that asks for it (SQS's longest delay). */
export const SWEEP_DELAY_SECONDS = 15 * 60;

/** A note object in a replica's journal, as a listing shows it. */
export interface ListedNote {
  readonly replica: 'primary' | 'secondary';
  readonly noteId: string;
  readonly modifiedAt: number;
}

/** Chunk objects old enough to be orphans, before the names are read. */
export function oldChunks(listed: readonly ListedChunk[], listedAt: number): ListedChunk[] {
  return listed.filter((object) => object.modifiedAt < listedAt - ORPHAN_GRACE_MS);
}

/** Notes old enough to be orphans, before the logs are read. */
export function oldNotes(listed: readonly ListedNote[], listedAt: number): ListedNote[] {
  return listed.filter((note) => note.modifiedAt < listedAt - ORPHAN_GRACE_MS);
}

/** The candidates nothing names. */
export function unnamed<T>(candidates: readonly T[], nameOf: (candidate: T) => string, named: ReadonlySet<string>): T[] {
  return candidates.filter((candidate) => !named.has(nameOf(candidate)));
}
