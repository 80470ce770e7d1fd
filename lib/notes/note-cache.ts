/**
 * The payloads of notes this process committed, kept in memory until they are flushed: the
 * head node's write-back memory. A flush or a read that runs in the same process takes the
 * bytes from here instead of one GET per note. Notes are immutable and their ids are never
 * reused, so a cached payload is always right; a miss only costs the GET.
 *
 * Bounded in bytes: past the bound the oldest notes go first (they are the next to be flushed
 * anyway, and a flush that misses them reads them from the journal).
 */
export class NotePayloadCache {
  private readonly partitions = new Map<string, Notes>();
  /** Every note put, oldest first; entries already forgotten are skipped when they come up. */
  private order: Array<{ readonly notes: Notes; readonly noteId: string }> = [];
  private oldest = 0;
  private bytes = 0;
  private count = 0;

  constructor(readonly maxBytes: number) {}

  /** The payloads of one partition's notes: the handle its head keeps. */
  partition(volumeId: string, partition: number): PartitionPayloads {
    const key = `${volumeId}#${partition}`;
    let notes = this.partitions.get(key);
    if (!notes) {
      notes = { payloads: new Map(), bytes: 0 };
      this.partitions.set(key, notes);
    }
    const owned = notes;
    return {
      get: (noteId) => owned.payloads.get(noteId),
      put: (noteId, payload) => this.put(owned, noteId, payload),
      forget: (noteIds) => this.forget(owned, noteIds),
      forgetAll: () => this.forgetAll(owned),
    };
  }

  private put(notes: Notes, noteId: string, payload: Buffer): void {
    if (payload.length > this.maxBytes || notes.payloads.has(noteId)) return;
    // A private copy: the writer may reuse its buffer.
    notes.payloads.set(noteId, Buffer.from(payload));
    notes.bytes += payload.length;
    this.order.push({ notes, noteId });
    this.bytes += payload.length;
    this.count++;
    while (this.bytes > this.maxBytes && this.oldest < this.order.length) {
      const { notes: owner, noteId: id } = this.order[this.oldest++]!;
      this.drop(owner, id);
    }
    // Entries of forgotten notes pile up in the order: drop them once they are most of it.
    if (this.order.length - this.oldest > 2 * this.count + 1024) {
      this.order = this.order.slice(this.oldest).filter((entry) => entry.notes.payloads.has(entry.noteId));
      this.oldest = 0;
    }
  }

  private drop(notes: Notes, noteId: string): void {
    const payload = notes.payloads.get(noteId);
    if (!payload) return;
    notes.payloads.delete(noteId);
    notes.bytes -= payload.length;
    this.bytes -= payload.length;
    this.count--;
  }

  private forget(notes: Notes, noteIds: Iterable<string>): void {
    for (const noteId of noteIds) this.drop(notes, noteId);
    this.reset();
  }

  private forgetAll(notes: Notes): void {
    this.bytes -= notes.bytes;
    this.count -= notes.payloads.size;
    notes.bytes = 0;
    // One clear instead of a delete per note: a flush of 20,000 notes would spend milliseconds.
    notes.payloads.clear();
    this.reset();
  }

  /** The order keeps stale entries until they come up; once nothing is cached it starts afresh. */
  private reset(): void {
    if (this.count > 0) return;
    this.order = [];
    this.oldest = 0;
  }

  /** Bytes held (for tests and status). */
  get size(): number {
    return this.bytes;
  }

  /** Entries the eviction order holds, forgotten ones included (for tests). */
  get orderLength(): number {
    return this.order.length - this.oldest;
  }
}

interface Notes {
  readonly payloads: Map<string, Buffer>;
  bytes: number;
}

/** One partition's cached note payloads. Callers copy out of a payload and never change it. */
export interface PartitionPayloads {
  get(noteId: string): Buffer | undefined;
  /** Keeps a copy of a committed note's payload. */
  put(noteId: string, payload: Buffer): void;
  /** Drops notes that were flushed into chunks. */
  forget(noteIds: Iterable<string>): void;
  /** Drops every note of the partition (a flush passed them all). */
  forgetAll(): void;
}
