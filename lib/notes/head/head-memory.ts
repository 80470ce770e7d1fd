import { ChunkImages, type FrozenImages, type ImageBudget, type ImageGeometry } from '../chunk-images.js';
import type { HeadCache, PartitionCache } from '../head-cache.js';
import { extentsOf } from '../note-extents.js';
import type { WriteEntry } from '../ports.js';

/**
 * One head's share of the process's memory (the head cache): the payloads of the notes it
 * committed until a flush passes them, the chunk versions it flushed, and its chunk images.
 * Without a cache every lookup misses and nothing is kept: memory only ever saves a sled read.
 */
export class HeadMemory {
  private readonly cache: PartitionCache | undefined;
  /** The notes this head put in the cache, in op order, until a flush passes them. */
  private cachedNotes: Array<{ readonly op: number; readonly noteId: string }> = [];
  /** The chunks as this head's own commits wrote them (with a lease and a cache only). */
  private images: ChunkImages | undefined;
  private readonly imageBudget: ImageBudget | undefined;
  /** The images ran out of room: none until this head's next flush. */
  private imagesPaused = false;
  private disposed = false;

  constructor(
    cache: HeadCache | undefined,
    volumeId: string,
    partition: number,
    private readonly geometry: ImageGeometry,
    /** Images are kept only by a head that can hold a lease: only then is its own view the log. */
    private readonly imagesWanted: boolean,
  ) {
    this.cache = cache?.partition(volumeId, partition);
    this.imageBudget = cache?.imageBudget(() => this.dropImages());
  }

  /** A committed note's payload, if this process holds it. */
  note(noteId: string): Buffer | undefined {
    return this.cache?.note(noteId);
  }

  /** A chunk version's bytes, if this process holds them. */
  chunk(key: string): Buffer | undefined {
    return this.cache?.chunk(key);
  }

  /** Keeps a committed note's payload in memory until a flush passes its op. */
  keepPayload(entry: WriteEntry, payload: Buffer): void {
    if (!this.cache || payload.length === 0) return;
    this.cache.putNote(entry.noteId, payload);
    this.cachedNotes.push({ op: entry.op, noteId: entry.noteId });
  }

  /** Drops the cached payloads of notes up to `op`: the chunks hold their bytes now. */
  forgetPayloadsThrough(op: number): void {
    if (!this.cache || this.cachedNotes.length === 0) return;
    let passed = 0;
    while (passed < this.cachedNotes.length && (this.cachedNotes[passed]?.op ?? Infinity) <= op) passed++;
    if (passed === 0) return;
    if (passed === this.cachedNotes.length) this.cache.forgetAllNotes();
    else this.cache.forgetNotes(this.cachedNotes.slice(0, passed).map((note) => note.noteId));
    this.cachedNotes = this.cachedNotes.slice(passed);
  }

  /** Keeps a chunk version this process just put, so the next flush of that chunk reads nothing back. */
  rememberChunk(key: string, bytes: Buffer): void {
    this.cache?.putChunk(key, bytes);
  }

  /** Forgets chunk versions that were collected. */
  forgetChunks(keys: Iterable<string>): void {
    this.cache?.forgetChunks(keys);
  }

  /**
   * Applies this head's own commit to its chunk images. Any op the head did not commit here
   * (another writer's, an epoch entry, an append whose outcome it never learned) leaves a gap:
   * the images start again from this op. `current`: the append went to the log the head still
   * takes for the primary's.
   */
  applyToImages(current: boolean, entry: WriteEntry, payload: Buffer): void {
    const budget = this.imageBudget;
    if (!budget || !this.imagesWanted || this.disposed || this.imagesPaused) return;
    if (!current) {
      this.dropImages();
      return;
    }
    const extents = extentsOf(entry);
    if (extents.some((extent) => extent.zero)) {
      // A zero extent may span the whole volume: images of its chunks would hold nothing but
      // zeros. The flush reads those chunks through the view instead; images start again after it.
      this.dropImages();
      return;
    }
    const parts = extents.map((extent) => ({ offset: extent.offset, bytes: payload.subarray(extent.zero ? 0 : extent.at, extent.zero ? 0 : extent.at + extent.length) }));
    if (this.images?.applyParts(entry.op, parts)) return;
    const outOfRoom = this.images !== undefined && this.images.throughOp === entry.op - 1;
    this.dropImages();
    const images = new ChunkImages(this.geometry, budget, entry.op - 1);
    if (!outOfRoom && images.applyParts(entry.op, parts)) {
      this.images = images;
      return;
    }
    // Not even the room other heads' images held is enough: no images until the next flush
    // here, rather than new ones that fill up and go again at every write.
    images.dispose();
    this.imagesPaused = true;
  }

  /** The images frozen, when they hold exactly the ops through `op`. */
  imagesThrough(op: number): FrozenImages | undefined {
    return this.images?.throughOp === op ? this.images.freeze() : undefined;
  }

  /** A flush put `built` (chunk number to bytes) as of `baseOp`: images become whole chunks, passed payloads go. */
  flushed(baseOp: number, built: ReadonlyMap<number, Buffer>): void {
    for (const [chunk, bytes] of built) this.images?.settle(chunk, baseOp, bytes);
    this.imagesPaused = false;
    this.forgetPayloadsThrough(baseOp);
  }

  /** Gives the images' memory back (their ops may not be the log's any more). */
  dropImages(): void {
    this.images?.dispose();
    this.images = undefined;
  }

  /** The process no longer keeps this head. */
  dispose(): void {
    this.disposed = true;
    this.dropImages();
  }
}
