import { sha256Hex } from '../../shared/hashing.js';
import { extentsOf } from '../note-extents.js';
import { randomNoteId } from '../note-ids.js';
import type { NoteExtent } from '../ports.js';
import type { Note } from './types.js';

/** How large a group may grow. */
export interface GroupBounds {
  /** Writes in one group (1: no grouping). */
  readonly maxWrites: number;
  /** Payload bytes in one group; a single write larger than this still commits, alone. */
  readonly maxBytes: number;
  /** A grouped note of at most this many payload bytes is a table note (0: never). */
  readonly tableNoteBytes: number;
}

/** What a committed group was: its op, how many writes it held and their payload bytes (for the GroupSize metric). */
export interface GroupCommitted {
  readonly op: number;
  readonly writes: number;
  readonly bytes: number;
}

/** What one write learns: its group, and whether it leads it (one write per group does: metrics count each op once). */
export interface CommitResult extends GroupCommitted {
  readonly leadsOp: boolean;
}

/**
 * Commits one note through the replica protocol; calls `appended` once the primary's append
 * is over (done or failed), when the next group may start.
 */
export type CommitNote = (note: Note, appended: () => void) => Promise<number>;

interface Waiting {
  readonly note: Note;
  resolve(committed: CommitResult): void;
  reject(error: unknown): void;
}

/**
 * The notes of a group as one note: payloads concatenated in arrival order, and their extents
 * in that order too, each data extent pointing at its bytes in the new payload, so that where
 * two writes overlap the later one wins (the extent index applies a note's extents in order).
 */
export function combineNotes(notes: readonly Note[], noteId: (payloadBytes: number) => string): Note {
  const extents: NoteExtent[] = [];
  const payloads: Buffer[] = [];
  let base = 0;
  for (const note of notes) {
    const own = note.extents ? extentsOf({ offset: note.offset, length: 0, extents: note.extents }) : [{ offset: note.offset, length: note.payload.length, at: 0 }];
    for (const extent of own) {
      extents.push(extent.zero ? { offset: extent.offset, length: extent.length, zero: true } : { offset: extent.offset, length: extent.length, at: base + extent.at });
    }
    if (note.payload.length > 0) payloads.push(note.payload);
    base += note.payload.length;
  }
  const payload = payloads.length === 1 ? payloads[0]! : Buffer.concat(payloads, base);
  const offset = Math.min(...extents.map((extent) => extent.offset));
  return { noteId: noteId(payload.length), offset, payload, sha256: sha256Hex(payload), extents };
}

/**
 * Group commit for one partition: a write that arrives while a group's append is in flight
 * queues; when the append is over, everything queued (within the bounds) commits as one
 * multi-extent note under one op, and every write in it is acknowledged with that op once both
 * replicas hold it. A group is one op, so it is all or nothing, and the ordering and crash
 * invariants are those of a single write. A write with an Idempotency-Key commits alone, never
 * grouped: a retry looks its op up by the key in its note's id.
 */
export class GroupCommitter {
  private readonly queue: Waiting[] = [];
  private inFlight = false;

  constructor(
    private readonly commit: CommitNote,
    private readonly bounds: GroupBounds,
    private readonly onGroup?: (group: GroupCommitted) => void,
  ) {}

  /** Writes waiting for the next group (for tests and status). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Commits `note`, grouped with others unless `alone`; resolves with its group's op once both replicas hold it. */
  submit(note: Note, alone = false): Promise<CommitResult> {
    if (alone) return this.commit(note, () => undefined).then((op) => ({ ...this.announce({ op, writes: 1, bytes: note.payload.length }), leadsOp: true }));
    return new Promise<CommitResult>((resolve, reject) => {
      this.queue.push({ note, resolve, reject });
      this.next();
    });
  }

  private announce(group: GroupCommitted): GroupCommitted {
    this.onGroup?.(group);
    return group;
  }

  /** Takes the next group off the queue: at least one write, then as many as the bounds allow, in arrival order. */
  private take(): Waiting[] {
    const group: Waiting[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && group.length < this.bounds.maxWrites) {
      const size = this.queue[0]!.note.payload.length;
      if (group.length > 0 && bytes + size > this.bounds.maxBytes) break;
      group.push(this.queue.shift()!);
      bytes += size;
    }
    return group;
  }

  private next(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const group = this.take();
    this.inFlight = true;
    const notes = group.map((waiting) => waiting.note);
    // A group of one is that note as it is (the old entry shape for a plain write).
    const note = notes.length === 1 ? notes[0]! : combineNotes(notes, (bytes) => randomNoteId(bytes > 0 && bytes <= this.bounds.tableNoteBytes ? 'table' : 'sled'));
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.inFlight = false;
      this.next();
    };
    this.commit(note, release).then(
      (op) => {
        const committed = this.announce({ op, writes: group.length, bytes: note.payload.length });
        group.forEach((waiting, i) => waiting.resolve({ ...committed, leadsOp: i === 0 }));
      },
      (error: unknown) => {
        for (const waiting of group) waiting.reject(error);
      },
    ).finally(release);
  }
}
