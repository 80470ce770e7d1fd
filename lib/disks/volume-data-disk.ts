/**
 * VolumeDisk over the volume data service: reads and writes go through VolumeDataService's
 * public methods (so through this process's cached heads), split into pieces the data path
 * accepts (at most 4 MiB each), and widened to whole 4 KiB blocks (alignment.ts) when a
 * client sends sector-sized I/O. A zero is one zero note per partition (VolumeDataService.zero:
 * one op each, nothing stored), and the allocation map is the heads' (VolumeDataService.allocation).
 */
import { MAX_IO_BYTES } from '../notes/geometry.js';
import type { AllocationExtent } from '../notes/partition-head.js';
import { DATA_BLOCK, WriteGate, isBlockAligned, readWidened, widen } from './alignment.js';
import type { WritePolicy } from '../notes/volume-data-service.js';
import type { Volume } from '../volumes/volume.js';
import type { DiskExtent, VolumeDisk } from './ports.js';

/** The data path a VolumeDataDisk drives; VolumeDataService satisfies it. */
export interface VolumeData {
  read(volumeId: string, offset: number, length: number): Promise<Buffer>;
  write(volumeId: string, offset: number, data: Buffer, idempotencyKey?: undefined, policy?: WritePolicy): Promise<unknown>;
  /** Makes whole 4 KiB blocks read as zeros, of any length: one op per partition. */
  zero(volumeId: string, offset: number, length: number, idempotencyKey?: undefined, policy?: WritePolicy): Promise<unknown>;
  /** Merged runs of data and zeros covering whole 4 KiB blocks. */
  allocation(volumeId: string, offset: number, length: number): Promise<readonly AllocationExtent[]>;
}

/** Looks up a volume's geometry (VolumeService.get satisfies it; throws for an unknown volume). */
export type VolumeLookup = (volumeId: string) => Promise<Pick<Volume, 'chunkSizeBytes'>>;

/**
 * An NBD client has no way to retry a write and would pass EIO to its file system, so a write a
 * failover fenced before its commit is sent again, for this long (write-path.md, "Epochs and fencing").
 */
const DISK_WRITE_POLICY: WritePolicy = { retryUncommittedMs: 60_000 };

/** The volume data service as a disk. */
export class VolumeDataDisk implements VolumeDisk {
  /** A zero is one zero note per partition, whatever its length. */
  readonly zeroIsFast = true;
  private readonly gates = new Map<string, WriteGate>();

  constructor(
    private readonly data: VolumeData,
    private readonly lookup: VolumeLookup,
  ) {}

  read(volumeId: string, offset: number, length: number): Promise<Buffer> {
    return readWidened((at, bytes) => this.readBlocks(volumeId, at, bytes), offset, length);
  }

  private async readBlocks(volumeId: string, offset: number, length: number): Promise<Buffer> {
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
  write(volumeId: string, offset: number, data: Buffer): Promise<void> {
    if (isBlockAligned(offset, data.length)) return this.gated(volumeId, (gate) => gate.shared(() => this.writeBlocks(volumeId, offset, data)));
    // Read-modify-write of the blocks the write touches, alone on the volume in this process.
    return this.gated(volumeId, (gate) =>
      gate.exclusive(async () => {
        const { start, end } = widen(offset, data.length);
        const blocks = await this.readBlocks(volumeId, start, end - start);
        data.copy(blocks, offset - start);
        await this.writeBlocks(volumeId, start, blocks);
      }),
    );
  }

  private async gated<T>(volumeId: string, run: (gate: WriteGate) => Promise<T>): Promise<T> {
    let gate = this.gates.get(volumeId);
    if (!gate) {
      gate = new WriteGate();
      this.gates.set(volumeId, gate);
    }
    try {
      return await run(gate);
    } finally {
      if (gate.idle && this.gates.get(volumeId) === gate) this.gates.delete(volumeId);
    }
  }

  private async writeBlocks(volumeId: string, offset: number, data: Buffer): Promise<void> {
    await Promise.all(
      pieces(offset, data.length).map((piece) =>
        this.data.write(volumeId, piece.at, data.subarray(piece.at - offset, piece.at - offset + piece.length), undefined, DISK_WRITE_POLICY),
      ),
    );
  }

  async zero(volumeId: string, offset: number, length: number): Promise<void> {
    // Whole blocks as zero notes; partial blocks at either end as (read-modify-)writes of zeros.
    const end = offset + length;
    const innerStart = Math.ceil(offset / DATA_BLOCK) * DATA_BLOCK;
    const innerEnd = Math.floor(end / DATA_BLOCK) * DATA_BLOCK;
    if (innerStart > innerEnd) return this.write(volumeId, offset, Buffer.alloc(length));
    const parts: Promise<unknown>[] = [];
    if (innerStart > offset) parts.push(this.write(volumeId, offset, Buffer.alloc(innerStart - offset)));
    if (end > innerEnd) parts.push(this.write(volumeId, innerEnd, Buffer.alloc(end - innerEnd)));
    if (innerEnd > innerStart) parts.push(this.gated(volumeId, (gate) => gate.shared(() => this.data.zero(volumeId, innerStart, innerEnd - innerStart, undefined, DISK_WRITE_POLICY))));
    await Promise.all(parts);
  }

  /**
   * The heads' allocation map over the blocks the range touches, clipped to it: a zero run is a
   * hole (nothing stored for it, or nothing that is not zeros: a zero note or an absent chunk)
   * that reads as zeros; a data run is neither. Flushed chunks count whole: a chunk that holds
   * any data is data.
   */
  async allocation(volumeId: string, offset: number, length: number): Promise<readonly DiskExtent[]> {
    const { start, end } = widen(offset, length);
    const runs: DiskExtent[] = [];
    for (const run of await this.data.allocation(volumeId, start, end - start)) {
      const from = Math.max(run.offset, offset);
      const to = Math.min(run.offset + run.length, offset + length);
      if (to <= from) continue;
      const zero = run.type === 'zero';
      const last = runs.at(-1);
      if (last && last.zero === zero) runs[runs.length - 1] = { length: last.length + (to - from), zero, hole: zero };
      else runs.push({ length: to - from, zero, hole: zero });
    }
    return runs;
  }

  /**
   * Nothing to do: a write is acknowledged only once both head-node replicas committed it, so
   * every acknowledged write is already as durable as it will get. FLUSH is a barrier only.
   */
  async flush(_volumeId: string): Promise<void> {}
}

/** [offset, offset + length) in pieces the data path takes (at most MAX_IO_BYTES each). */
function pieces(offset: number, length: number): Array<{ at: number; length: number }> {
  const out: Array<{ at: number; length: number }> = [];
  for (let at = offset; at < offset + length; at += MAX_IO_BYTES) out.push({ at, length: Math.min(MAX_IO_BYTES, offset + length - at) });
  return out;
}
