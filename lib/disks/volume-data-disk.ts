/**
 * VolumeDisk over the volume data service: reads and writes go through VolumeDataService's
 * public methods (so through this process's cached heads), split into pieces the data path
 * accepts (at most 4 MiB each). Zero and allocation are interim (volume-disk-interim.ts).
 */
import { MAX_IO_BYTES } from '../notes/geometry.js';
import type { Volume } from '../volumes/volume.js';
import type { DiskExtent, VolumeDisk } from './ports.js';
import { InterimZeroAndAllocation } from './volume-disk-interim.js';

/** The data path a VolumeDataDisk drives; VolumeDataService satisfies it. */
export interface VolumeData {
  read(volumeId: string, offset: number, length: number): Promise<Buffer>;
  write(volumeId: string, offset: number, data: Buffer): Promise<unknown>;
}

/** Looks up a volume's geometry (VolumeService.get satisfies it; throws for an unknown volume). */
export type VolumeLookup = (volumeId: string) => Promise<Pick<Volume, 'chunkSizeBytes'>>;

/** The volume data service as a disk. */
export class VolumeDataDisk implements VolumeDisk {
  /** False while zeroing writes zero blocks (see volume-disk-interim.ts). */
  readonly zeroIsFast = false;
  private readonly interim: InterimZeroAndAllocation;

  constructor(
    private readonly data: VolumeData,
    private readonly lookup: VolumeLookup,
  ) {
    this.interim = new InterimZeroAndAllocation(data);
  }

  async read(volumeId: string, offset: number, length: number): Promise<Buffer> {
    if (length <= MAX_IO_BYTES) return this.data.read(volumeId, offset, length);
    const out = Buffer.alloc(length);
    await Promise.all(
      pieces(offset, length).map(async (piece) => {
        (await this.data.read(volumeId, piece.at, piece.length)).copy(out, piece.at - offset);
      }),
    );
    return out;
  }

  /**
   * Resolves once every piece is acknowledged, i.e. held by both replicas (VolumeDataService.write
   * answers only then). Pieces commit independently, as an NBD write of over 4 MiB may.
   */
  async write(volumeId: string, offset: number, data: Buffer): Promise<void> {
    await Promise.all(
      pieces(offset, data.length).map((piece) => this.data.write(volumeId, piece.at, data.subarray(piece.at - offset, piece.at - offset + piece.length))),
    );
  }

  async zero(volumeId: string, offset: number, length: number): Promise<void> {
    const { chunkSizeBytes } = await this.lookup(volumeId);
    await this.interim.zeroByWriting(volumeId, chunkSizeBytes, offset, length);
  }

  async allocation(_volumeId: string, _offset: number, length: number): Promise<readonly DiskExtent[]> {
    return this.interim.allocationAllData(length);
  }

  /**
   * Nothing to do: a write is acknowledged only once both head-node replicas committed it, so
   * every acknowledged write is already as durable as it will get. FLUSH is a barrier only.
   */
  async flush(_volumeId: string): Promise<void> {}
}

function pieces(offset: number, length: number): Array<{ at: number; length: number }> {
  const out: Array<{ at: number; length: number }> = [];
  for (let at = offset; at < offset + length; at += MAX_IO_BYTES) out.push({ at, length: Math.min(MAX_IO_BYTES, offset + length - at) });
  return out;
}
