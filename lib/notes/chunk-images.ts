import { BLOCK_SIZE } from './geometry.js';

/** Where a head's chunk images take their memory from. */
export interface ImageBudget {
  /** False when there is no room. */
  reserve(bytes: number): boolean;
  release(bytes: number): void;
  /** The images were just written: they are the last whose memory goes to another head's. */
  touch(): void;
  /**
   * A buffer for an image (after `reserve`): one that dropped images gave back when there is
   * one, so that images coming and going do not churn memory for the garbage collector.
   * Zeroed only when asked: a copy that overwrites it all needs no zeros.
   */
  buffer(length: number, zeroed: boolean): Buffer;
  /** Takes back the buffer of a dropped image that nobody else holds. */
  recycle(buffer: Buffer): void;
}

/** The chunks of one partition, as a head needs them to place and size images. */
export interface ImageGeometry {
  /** The partition's first byte in the volume. */
  readonly start: number;
  readonly chunkSizeBytes: number;
  readonly partitionChunks: number;
  readonly volumeBytes: number;
}

interface Image {
  bytes: Buffer;
  /** One flag per block: written after `fromOp`. Undefined once the image is the whole chunk. */
  written: Uint8Array | undefined;
  unwrittenBlocks: number;
  /** A flush or the cache holds `bytes` and `written`: the next write copies them first. */
  shared: boolean;
}

/** One chunk's image as of the op the images were frozen at; nobody changes it after. */
export interface FrozenImage {
  readonly bytes: Buffer;
  /** Blocks written after the images' `fromOp`; undefined when `bytes` is the whole chunk. */
  readonly written: Uint8Array | undefined;
}

/** The images of a partition as of op `op`, holding every block written in (`fromOp`, `op`]. */
export interface FrozenImages {
  readonly op: number;
  readonly fromOp: number;
  readonly chunks: ReadonlyMap<number, FrozenImage>;
}

/**
 * A head's in-memory image of each chunk its own writes touched: the bytes of every block
 * written after `fromOp`, applied in op order as the head commits them. A flush in the same
 * process then puts an image (it only hashes it) instead of assembling the chunk from
 * thousands of notes. After a flush an image becomes the whole chunk, so later flushes need
 * no older chunk version either.
 *
 * Only a head that saw every op since `fromOp` may use them: an op out of order (another
 * writer's, or an epoch entry) makes `apply` refuse, and the head starts new images.
 */
export class ChunkImages {
  private readonly images = new Map<number, Image>();
  private reserved = 0;
  private op: number;

  constructor(
    private readonly geometry: ImageGeometry,
    private readonly budget: ImageBudget,
    /** The images hold every block written after this op. */
    readonly fromOp: number,
  ) {
    this.op = fromOp;
  }

  /** The newest op applied. */
  get throughOp(): number {
    return this.op;
  }

  /** Bytes of memory the images hold (for tests and status). */
  get size(): number {
    return this.reserved;
  }

  /** Applies write `op` of one payload at volume offset `offset` (see applyParts). */
  apply(op: number, offset: number, payload: Buffer): boolean {
    return this.applyParts(op, [{ offset, bytes: payload }]);
  }

  /**
   * Applies write `op`: each part's bytes at its volume offset, in order (a later part wins
   * where parts overlap). False, with nothing changed, when `op` does not follow the newest op
   * applied or there is no memory for a new image: these images are then of no more use, and
   * the caller drops them.
   */
  applyParts(op: number, parts: ReadonlyArray<{ readonly offset: number; readonly bytes: Buffer }>): boolean {
    if (op !== this.op + 1) return false;
    const { start, chunkSizeBytes } = this.geometry;
    const chunksOf = (part: { readonly offset: number; readonly bytes: Buffer }) => ({
      first: Math.floor((part.offset - start) / chunkSizeBytes),
      last: Math.floor((part.offset + part.bytes.length - 1 - start) / chunkSizeBytes),
    });
    for (const part of parts) {
      if (part.bytes.length === 0) continue;
      const { first, last } = chunksOf(part);
      for (let chunk = first; chunk <= last; chunk++) if (!this.images.get(chunk) && !this.create(chunk)) return false;
    }
    for (const { offset, bytes: payload } of parts) {
      if (payload.length === 0) continue;
      const end = offset + payload.length;
      const { first, last } = chunksOf({ offset, bytes: payload });
      for (let chunk = first; chunk <= last; chunk++) {
        const image = this.images.get(chunk)!;
        const chunkStart = start + chunk * chunkSizeBytes;
        const from = Math.max(offset, chunkStart);
        const to = Math.min(end, chunkStart + image.bytes.length);
        if (image.shared) this.unshare(image);
        payload.copy(image.bytes, from - chunkStart, from - offset, to - offset);
        markWritten(image, from - chunkStart, to - chunkStart);
      }
    }
    this.op = op;
    this.budget.touch();
    return true;
  }

  private create(chunk: number): Image | undefined {
    const { start, chunkSizeBytes, volumeBytes } = this.geometry;
    const length = Math.max(0, Math.min(chunkSizeBytes, volumeBytes - (start + chunk * chunkSizeBytes)));
    if (!this.budget.reserve(length)) return undefined;
    this.reserved += length;
    const blocks = Math.ceil(length / BLOCK_SIZE);
    const image: Image = { bytes: this.budget.buffer(length, true), written: new Uint8Array(blocks), unwrittenBlocks: blocks, shared: false };
    this.images.set(chunk, image);
    return image;
  }

  /** The images as they are now, for a flush; later writes copy an image before they change it. */
  freeze(): FrozenImages {
    const chunks = new Map<number, FrozenImage>();
    for (const [chunk, image] of this.images) {
      image.shared = true;
      chunks.set(chunk, { bytes: image.bytes, written: image.written });
    }
    return { op: this.op, fromOp: this.fromOp, chunks };
  }

  /**
   * A flush put `bytes` as the chunk's content at op `op`: the image fills the blocks no write
   * after `fromOp` reached with them and is the whole chunk from now on. A block no write
   * reached up to now was not written after `op` either, so its bytes at `op` are its bytes now.
   * `bytes` stays shared with the flush's caller.
   */
  settle(chunk: number, op: number, bytes: Buffer): void {
    if (op < this.fromOp || op > this.op) return;
    const image = this.images.get(chunk);
    if (!image) {
      // A chunk only older ops touched: the flush's bytes are it, unless it was written since.
      if (op === this.op && this.budget.reserve(bytes.length)) {
        this.reserved += bytes.length;
        this.images.set(chunk, { bytes, written: undefined, unwrittenBlocks: 0, shared: true });
      }
      return;
    }
    if (!image.written) return;
    if (image.shared) {
      // Frozen by a flush: no write came since, so the image is exactly the chunk at `op`.
      if (op === this.op) Object.assign(image, { bytes, written: undefined, unwrittenBlocks: 0 });
      return;
    }
    forEachRun(image.written, 0, (from, to) => bytes.copy(image.bytes, from, from, to));
    image.written = undefined;
    image.unwrittenBlocks = 0;
  }

  private unshare(image: Image): void {
    const bytes = this.budget.buffer(image.bytes.length, false);
    image.bytes.copy(bytes);
    image.bytes = bytes;
    image.written = image.written?.slice();
    image.shared = false;
  }

  /** Gives the images' memory back; the images are not used after. */
  dispose(): void {
    const unshared = [...this.images.values()].filter((image) => !image.shared);
    this.images.clear();
    this.budget.release(this.reserved);
    this.reserved = 0;
    for (const image of unshared) this.budget.recycle(image.bytes);
  }
}

/** Calls `copy(from, to)` for each run of blocks whose flag is `flag`, in byte offsets. */
export function forEachRun(written: Uint8Array, flag: 0 | 1, copy: (from: number, to: number) => void): void {
  let block = 0;
  while (block < written.length) {
    if (written[block] !== flag) {
      block++;
      continue;
    }
    const first = block;
    while (block < written.length && written[block] === flag) block++;
    copy(first * BLOCK_SIZE, block * BLOCK_SIZE);
  }
}

function markWritten(image: Image, from: number, to: number): void {
  const written = image.written;
  if (!written) return;
  const last = Math.ceil(to / BLOCK_SIZE);
  for (let block = Math.floor(from / BLOCK_SIZE); block < last; block++) {
    if (written[block]) continue;
    written[block] = 1;
    image.unwrittenBlocks--;
  }
  if (image.unwrittenBlocks === 0) image.written = undefined;
}
