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
  private readonly payloads = new Map<string, Buffer>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  private static key(volumeId: string, partition: number, noteId: string): string {
    return `${volumeId}#${partition}#${noteId}`;
  }

  /** Keeps a private copy of a committed note's payload (the caller may reuse its buffer). */
  put(volumeId: string, partition: number, noteId: string, payload: Buffer): void {
    if (payload.length > this.maxBytes) return;
    const key = NotePayloadCache.key(volumeId, partition, noteId);
    if (this.payloads.has(key)) return;
    this.payloads.set(key, Buffer.from(payload));
    this.bytes += payload.length;
    for (const [oldest, bytes] of this.payloads) {
      if (this.bytes <= this.maxBytes) break;
      this.payloads.delete(oldest);
      this.bytes -= bytes.length;
    }
  }

  /** The cached payload, if any. Callers copy out of it and never change it. */
  get(volumeId: string, partition: number, noteId: string): Buffer | undefined {
    return this.payloads.get(NotePayloadCache.key(volumeId, partition, noteId));
  }

  /** Drops notes that were flushed into chunks. */
  forget(volumeId: string, partition: number, noteIds: Iterable<string>): void {
    for (const noteId of noteIds) {
      const key = NotePayloadCache.key(volumeId, partition, noteId);
      const payload = this.payloads.get(key);
      if (!payload) continue;
      this.payloads.delete(key);
      this.bytes -= payload.length;
    }
  }

  /** Bytes held (for tests and status). */
  get size(): number {
    return this.bytes;
  }
}
