/**
 * NBD BlockDevices over Sleds: a volume (writable) and a completed snapshot (read-only).
 *
 * Durability: a write is acknowledged only once both head-node replicas hold it, so FLUSH is a
 * barrier with nothing to do and FUA is implied on every write. Discard (TRIM) zeroes: a volume
 * reads zeros where it was trimmed (docs/write-path.md, "FLUSH and FUA over NBD").
 */
import { SledsError } from '../errors.js';
import { AllocationFlag, Errno } from '../nbd/constants.js';
import { NbdIoError } from '../nbd/errors.js';
import type { BlockDevice, BlockSizes, Extent, WriteOptions, ZeroOptions } from '../nbd/ports.js';
import type { Snapshot } from '../snapshots/snapshot.js';
import type { Volume } from '../volumes/volume.js';
import { SECTOR, readWidened } from './alignment.js';
import type { SnapshotDisk, VolumeDisk } from './ports.js';

/**
 * The smallest NBD I/O: a 512-byte sector, not the data path's 4 KiB block, because nbdfuse
 * passes file writes through unaligned and libnbd refuses I/O below the advertised minimum.
 * Sub-block I/O is widened and read-modify-written (alignment.ts); 4 KiB-aligned I/O is not.
 */
export const DISK_MIN_BLOCK = SECTOR;
/** The largest NBD read or write payload a disk accepts (split into data-path pieces). */
export const DISK_MAX_PAYLOAD = 32 * 1024 * 1024;

/** Block sizes of a disk whose chunks are `chunkSizeBytes`: a whole chunk is the efficient write. */
export function diskBlockSizes(chunkSizeBytes: number): BlockSizes {
  return { minimum: DISK_MIN_BLOCK, preferred: Math.min(chunkSizeBytes, DISK_MAX_PAYLOAD), maximum: DISK_MAX_PAYLOAD };
}

/**
 * The error a client sees when its volume went away under it: EIO with a message that says
 * so, instead of the data path's 404 or 409.
 */
function detached(volumeId: string, error: unknown): unknown {
  if (error instanceof SledsError && error.code === 'VolumeNotFound') {
    return new NbdIoError(Errno.EIO, `Volume ${volumeId} was deleted while attached; it is no longer served.`, { cause: error });
  }
  if (error instanceof SledsError && error.code === 'VolumeStateConflict') {
    return new NbdIoError(Errno.EIO, `Volume ${volumeId} is no longer available (${error.message}); it is no longer served.`, { cause: error });
  }
  return error;
}

/** A Sleds volume as a writable NBD disk. */
export class VolumeBlockDevice implements BlockDevice {
  readonly size: number;
  readonly readOnly = false;
  /**
   * Every connection to a volume in this process goes through the same VolumeDataService and
   * so the same cached head of each partition; other processes go through the note protocol.
   */
  readonly canMultiConn = true;
  readonly blockSizes: BlockSizes;
  private readonly volumeId: string;

  constructor(
    volume: Pick<Volume, 'volumeId' | 'sizeBytes' | 'chunkSizeBytes'>,
    private readonly disk: VolumeDisk,
  ) {
    this.volumeId = volume.volumeId;
    this.size = volume.sizeBytes;
    this.blockSizes = diskBlockSizes(volume.chunkSizeBytes);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.guard(() => this.disk.read(this.volumeId, offset, length));
  }

  /** FUA or not, the write is on both replicas once this resolves. */
  write(offset: number, data: Buffer, _options: WriteOptions): Promise<void> {
    return this.guard(() => this.disk.write(this.volumeId, offset, data));
  }

  /** NO_HOLE changes nothing (the range stays addressable either way); FAST_ZERO is refused unless zeroing is one op. */
  zero(offset: number, length: number, options: ZeroOptions): Promise<void> {
    if (options.fastZero && !this.disk.zeroIsFast) {
      return Promise.reject(new NbdIoError(Errno.ENOTSUP, 'Zeroing writes zero blocks on this volume (no zero notes yet), which is not fast; write zeros instead.'));
    }
    return this.guard(() => this.disk.zero(this.volumeId, offset, length));
  }

  /** Discard is zeroing on Sleds: the trimmed range reads zeros afterwards. */
  trim(offset: number, length: number): Promise<void> {
    return this.guard(() => this.disk.zero(this.volumeId, offset, length));
  }

  /** A barrier only: acknowledged writes are already on both replicas. */
  flush(): Promise<void> {
    return this.guard(() => this.disk.flush(this.volumeId));
  }

  /** No prefetch: the hint is accepted and ignored. */
  async cache(_offset: number, _length: number): Promise<void> {}

  async blockStatus(offset: number, length: number): Promise<readonly Extent[]> {
    const runs = await this.guard(() => this.disk.allocation(this.volumeId, offset, length));
    return runs.map((run) => ({ length: run.length, flags: (run.hole ? AllocationFlag.HOLE : 0) | (run.zero ? AllocationFlag.ZERO : 0) }));
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw detached(this.volumeId, error);
    }
  }
}

/** A completed snapshot as a read-only NBD disk. */
export class SnapshotBlockDevice implements BlockDevice {
  readonly size: number;
  readonly readOnly = true;
  /** A completed snapshot never changes: every connection sees the same bytes. */
  readonly canMultiConn = true;
  readonly blockSizes: BlockSizes;
  private readonly snapshotId: string;

  constructor(
    snapshot: Pick<Snapshot, 'snapshotId' | 'sizeBytes' | 'chunkSizeBytes'>,
    private readonly disk: SnapshotDisk,
  ) {
    this.snapshotId = snapshot.snapshotId;
    this.size = snapshot.sizeBytes;
    this.blockSizes = diskBlockSizes(snapshot.chunkSizeBytes);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return readWidened((at, bytes) => this.disk.read(this.snapshotId, at, bytes), offset, length);
  }

  write(): Promise<void> {
    return Promise.reject(this.readOnlyError());
  }

  zero(): Promise<void> {
    return Promise.reject(this.readOnlyError());
  }

  trim(): Promise<void> {
    return Promise.reject(this.readOnlyError());
  }

  /** Nothing is ever written. */
  async flush(): Promise<void> {}

  async cache(_offset: number, _length: number): Promise<void> {}

  async blockStatus(_offset: number, length: number): Promise<readonly Extent[]> {
    return [{ length, flags: 0 }];
  }

  private readOnlyError(): NbdIoError {
    return new NbdIoError(Errno.EPERM, `Snapshot ${this.snapshotId} is read-only.`);
  }
}
