/**
 * How long an object may exist before something names it. The write path (lib/notes) and the
 * flush (lib/flush) both give up past MAX_UNNAMED_MS, and the orphan sweep (lib/flush/orphans.ts,
 * which explains why the age makes the sweep safe) deletes unnamed objects older than
 * ORPHAN_GRACE_MS. They live here so that neither concept imports the other for them.
 */

/** An object nothing names and that is older than this is an orphan the sweep may delete. */
export const ORPHAN_GRACE_MS = 60 * 60 * 1000;

/** The longest a flush may take from its first chunk PUT to its map write, or a write from its note PUT to its commit. */
export const MAX_UNNAMED_MS = ORPHAN_GRACE_MS / 2;
