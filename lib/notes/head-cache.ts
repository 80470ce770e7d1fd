import type { ImageBudget } from './chunk-images.js';

/**
 * A head node's memory of its partitions: the payloads of the notes this process committed,
 * kept until they are flushed, and the chunk versions it flushed. A flush or a read in the
 * same process takes bytes from here instead of one GET per note or per old chunk. Notes and
 * chunk versions are immutable and their ids never reused, so a cached copy is always right;
 * a miss only costs the GET.
 *
 * Bounded in bytes: past the bound the oldest entries go first (the oldest notes are the next
 * to be flushed anyway, and a flush that misses them reads them from the journal).
 */
export class HeadCache {
  private readonly partitions = new Map<string, Entries>();
  /** Every entry put, oldest first; entries already forgotten are skipped when they come up. */
  private order: Array<{ readonly owner: Entries; readonly map: Map<string, Buffer>; readonly id: string }> = [];
  private oldest = 0;
  private bytes = 0;
  private count = 0;
  private imageBytes = 0;
  /** The heads that hold images, least recently written first. */
  private readonly imageHolders = new Set<ImageHolder>();
  /** Buffers of dropped images, by length, ready for new ones; counted in `bytes`. */
  private readonly spareBuffers = new Map<number, Buffer[]>();
  private spareBytes = 0;

  constructor(readonly maxBytes: number) {}

  /**
   * The memory of one head's chunk images (lib/notes/chunk-images.ts). All heads' images
   * together take at most half the cache: a head that needs room drops the images of the head
   * that wrote least recently (`drop` is how that head lets go), and cached entries make room
   * for images, oldest first.
   */
  imageBudget(drop: () => void): ImageBudget {
    const holder: ImageHolder = { drop, bytes: 0 };
    return {
      reserve: (bytes) => this.reserveImage(holder, bytes),
      release: (bytes) => this.releaseImage(holder, bytes),
      touch: () => {
        if (!this.imageHolders.delete(holder)) return;
        this.imageHolders.add(holder);
      },
      buffer: (length, zeroed) => this.imageBuffer(length, zeroed),
      recycle: (buffer) => this.recycleImageBuffer(buffer),
    };
  }

  private imageBuffer(length: number, zeroed: boolean): Buffer {
    const buffer = this.spareBuffers.get(length)?.pop();
    if (!buffer) return zeroed ? Buffer.alloc(length) : Buffer.allocUnsafeSlow(length);
    this.spareBytes -= length;
    this.bytes -= length;
    return zeroed ? buffer.fill(0) : buffer;
  }

  /** Kept while images and spares fit in the images' half, and everything in the cache's bound. */
  private recycleImageBuffer(buffer: Buffer): void {
    const { length } = buffer;
    if (this.imageBytes + this.spareBytes + length > this.maxBytes / 2 || this.bytes + length > this.maxBytes) return;
    const list = this.spareBuffers.get(length) ?? [];
    list.push(buffer);
    this.spareBuffers.set(length, list);
    this.spareBytes += length;
    this.bytes += length;
  }

  /** Frees spare buffers while `tooMuch` says so. */
  private trimSpares(tooMuch: () => boolean): void {
    for (const [length, list] of this.spareBuffers) {
      while (list.length > 0 && tooMuch()) {
        list.pop();
        this.spareBytes -= length;
        this.bytes -= length;
      }
    }
  }

  private reserveImage(holder: ImageHolder, bytes: number): boolean {
    const room = this.maxBytes / 2;
    for (const other of this.imageHolders) {
      if (this.imageBytes + bytes <= room) break;
      if (other !== holder) other.drop();
    }
    if (this.imageBytes + bytes > room) return false;
    holder.bytes += bytes;
    this.imageHolders.add(holder);
    this.imageBytes += bytes;
    this.bytes += bytes;
    // The buffer this reservation is for may come from the spares: keep one of its size.
    this.trimSpares(() => this.imageBytes + this.spareBytes > room + bytes);
    this.evictOverflow();
    return true;
  }

  private releaseImage(holder: ImageHolder, bytes: number): void {
    holder.bytes -= bytes;
    if (holder.bytes <= 0) this.imageHolders.delete(holder);
    this.imageBytes -= bytes;
    this.bytes -= bytes;
  }

  /** One partition's entries: the handle its head keeps. */
  partition(volumeId: string, partition: number): PartitionCache {
    const key = `${volumeId}#${partition}`;
    let entries = this.partitions.get(key);
    if (!entries) {
      entries = { notes: new Map(), chunks: new Map(), noteBytes: 0, slab: undefined, slabUsed: 0 };
      this.partitions.set(key, entries);
    }
    const owner = entries;
    return {
      note: (noteId) => owner.notes.get(noteId),
      // A private copy: the writer may reuse its buffer.
      putNote: (noteId, payload) => {
        if (payload.length <= this.maxBytes && !owner.notes.has(noteId)) this.put(owner, owner.notes, noteId, copyIn(owner, payload));
      },
      forgetNotes: (noteIds) => this.forget(owner, owner.notes, noteIds),
      forgetAllNotes: () => this.forgetAllNotes(owner),
      chunk: (key) => owner.chunks.get(key),
      putChunk: (key, bytes) => this.put(owner, owner.chunks, key, bytes),
      forgetChunks: (keys) => this.forget(owner, owner.chunks, keys),
    };
  }

  private put(owner: Entries, map: Map<string, Buffer>, id: string, bytes: Buffer): void {
    if (bytes.length > this.maxBytes || map.has(id)) return;
    map.set(id, bytes);
    if (map === owner.notes) owner.noteBytes += bytes.length;
    this.order.push({ owner, map, id });
    this.bytes += bytes.length;
    this.count++;
    this.evictOverflow();
    // Entries of forgotten ids pile up in the order: drop them once they are most of it.
    if (this.order.length - this.oldest > 2 * this.count + 1024) {
      this.order = this.order.slice(this.oldest).filter((entry) => entry.map.has(entry.id));
      this.oldest = 0;
    }
  }

  private evictOverflow(): void {
    this.trimSpares(() => this.bytes > this.maxBytes);
    while (this.bytes > this.maxBytes && this.oldest < this.order.length) {
      const entry = this.order[this.oldest++]!;
      this.drop(entry.owner, entry.map, entry.id);
    }
  }

  private drop(owner: Entries, map: Map<string, Buffer>, id: string): void {
    const bytes = map.get(id);
    if (!bytes) return;
    map.delete(id);
    if (map === owner.notes) owner.noteBytes -= bytes.length;
    this.bytes -= bytes.length;
    this.count--;
  }

  private forget(owner: Entries, map: Map<string, Buffer>, ids: Iterable<string>): void {
    for (const id of ids) this.drop(owner, map, id);
    this.reset();
  }

  private forgetAllNotes(owner: Entries): void {
    this.bytes -= owner.noteBytes;
    this.count -= owner.notes.size;
    owner.noteBytes = 0;
    owner.slab = undefined;
    // One clear instead of a delete per note: a flush of 20,000 notes would spend milliseconds.
    owner.notes.clear();
    this.reset();
  }

  /** The order keeps stale entries until they come up; once nothing is cached it starts afresh. */
  private reset(): void {
    if (this.count > 0) return;
    this.order = [];
    this.oldest = 0;
  }

  /** Bytes held, chunk images and spare image buffers included (for tests and status). */
  get size(): number {
    return this.bytes;
  }

  /** Bytes held by live chunk images and by spare buffers for new ones (for tests). */
  get imageSize(): { images: number; spares: number } {
    return { images: this.imageBytes, spares: this.spareBytes };
  }

  /** Entries the eviction order holds, forgotten ones included (for tests). */
  get orderLength(): number {
    return this.order.length - this.oldest;
  }
}

interface ImageHolder {
  readonly drop: () => void;
  bytes: number;
}

interface Entries {
  readonly notes: Map<string, Buffer>;
  /** Chunk versions by object key. */
  readonly chunks: Map<string, Buffer>;
  noteBytes: number;
  /** Where small notes are copied to, one after another. */
  slab: Buffer | undefined;
  slabUsed: number;
}

const SLAB_BYTES = 1 << 20;
const SLAB_MAX_NOTE = 64 << 10;

/**
 * A copy of a note's payload. Small notes share 1 MiB slabs: 20,000 notes of 4 KiB as as many
 * buffers of their own made every garbage collection of a head's process slow (each is an
 * ArrayBuffer the collector tracks). A slab is freed once no cached note points into it.
 */
function copyIn(owner: Entries, payload: Buffer): Buffer {
  if (payload.length > SLAB_MAX_NOTE) return Buffer.from(payload);
  if (!owner.slab || owner.slabUsed + payload.length > owner.slab.length) {
    owner.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    owner.slabUsed = 0;
  }
  const copy = owner.slab.subarray(owner.slabUsed, owner.slabUsed + payload.length);
  payload.copy(copy);
  owner.slabUsed += payload.length;
  return copy;
}

/** One partition's cached notes and chunk versions. Callers copy out of a buffer and never change it. */
export interface PartitionCache {
  note(noteId: string): Buffer | undefined;
  /** Keeps a copy of a committed note's payload. */
  putNote(noteId: string, payload: Buffer): void;
  /** Drops notes that were flushed into chunks. */
  forgetNotes(noteIds: Iterable<string>): void;
  /** Drops every note of the partition (a flush passed them all). */
  forgetAllNotes(): void;
  /** A chunk version this process flushed, by its object key. */
  chunk(key: string): Buffer | undefined;
  /** Keeps a chunk version the caller just put; the cache takes the buffer itself, which nobody may change after. */
  putChunk(key: string, bytes: Buffer): void;
  /** Drops chunk versions that were collected. */
  forgetChunks(keys: Iterable<string>): void;
}
