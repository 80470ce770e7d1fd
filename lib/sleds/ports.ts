/** A chunk object on a sled. */
export interface ChunkLocation {
  readonly sled: number;
  readonly key: string;
}

/** An object as a listing shows it: where it is, and when it was last written (ms since the epoch, by the store's clock). */
export interface ListedChunk extends ChunkLocation {
  readonly modifiedAt: number;
}

/** Chunk objects on the sleds (S3): immutable, one key per version. */
export interface ChunkStore {
  put(at: ChunkLocation, data: Buffer, sha256: string): Promise<void>;
  /** Reads `length` bytes from `start` within the chunk. */
  read(at: ChunkLocation, start: number, length: number): Promise<Buffer>;
  /**
   * Server-side copy (no bytes through this process); the checksum travels with the object.
   * Resolves to the SHA-256 (hex) the store reports for the new object, when its answer
   * carries one (S3 does; some emulators do not), else undefined.
   */
  copy(from: ChunkLocation, to: ChunkLocation, bytes: number): Promise<string | undefined>;
  /** The stored SHA-256 (hex) of a chunk, or undefined when it does not exist. */
  sha256(at: ChunkLocation): Promise<string | undefined>;
  /** Removes one chunk object; a no-op if it is gone. */
  remove(at: ChunkLocation): Promise<void>;
  /** Removes these chunk objects (those already gone are no error), in as few requests as the sleds allow; returns how many were asked for. */
  removeAll(locations: readonly ChunkLocation[]): Promise<number>;
  /** Every object under `prefix` on every sled. */
  list(prefix: string): Promise<ListedChunk[]>;
  /** Removes every object under `prefix` on every sled; returns how many. */
  removePrefix(prefix: string): Promise<number>;
}
