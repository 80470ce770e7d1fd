/**
 * What a disk needs from the volume data path: byte I/O on a volume by id. The volume data
 * service satisfies it through VolumeDataDisk (lib/disks/volume-data-disk.ts); the NBD
 * devices (lib/disks/block-devices.ts) are written against it alone, so neither the protocol
 * nor the devices know heads, notes or sleds.
 */

/** One run of a volume's allocation map, as a disk sees it. */
export interface DiskExtent {
  readonly length: number;
  /** The run reads as zeros. */
  readonly zero: boolean;
  /** Nothing is stored for the run (it costs no space). */
  readonly hole: boolean;
}

/**
 * A volume's bytes, by volume id. Offsets and lengths are multiples of 512 bytes inside the
 * volume; an implementation over 4 KiB blocks widens and read-modify-writes the rest.
 */
export interface VolumeDisk {
  /**
   * True when `zero` is one cheap operation whatever the length (a zero note). False while it
   * writes zero blocks: then a caller that asks for a fast zero (NBD_CMD_FLAG_FAST_ZERO) is told
   * it is not supported and writes zeros itself.
   */
  readonly zeroIsFast: boolean;
  /** The newest acknowledged bytes of the range; zeros where nothing was written. */
  read(volumeId: string, offset: number, length: number): Promise<Buffer>;
  /** Resolves once both head-node replicas of every partition touched hold the bytes. */
  write(volumeId: string, offset: number, data: Buffer): Promise<void>;
  /** Makes the range read as zeros; durable (both replicas) once it resolves, like a write. */
  zero(volumeId: string, offset: number, length: number): Promise<void>;
  /** The allocation map of the range: consecutive runs covering exactly `length` bytes. */
  allocation(volumeId: string, offset: number, length: number): Promise<readonly DiskExtent[]>;
  /** Makes every write acknowledged before the call durable. */
  flush(volumeId: string): Promise<void>;
}

/** A completed snapshot's bytes, by snapshot id; offsets and lengths are multiples of 4 KiB. */
export interface SnapshotDisk {
  read(snapshotId: string, offset: number, length: number): Promise<Buffer>;
}
