import { describe, expect, it } from 'vitest';
import { SnapshotBlockDevice, VolumeBlockDevice } from '../../lib/disks/block-devices.js';
import { DiskExportResolver, type DiskCatalog } from '../../lib/disks/disk-resolver.js';
import type { VolumeDisk } from '../../lib/disks/ports.js';
import { VolumeDataDisk, type VolumeData } from '../../lib/disks/volume-data-disk.js';
import { VolumeNotFoundError, VolumeStateError } from '../../lib/errors.js';
import { Errno } from '../../lib/nbd/constants.js';
import { nbdErrnoOf } from '../../lib/nbd/errors.js';
import type { Snapshot } from '../../lib/snapshots/snapshot.js';
import type { WritePolicy } from '../../lib/notes/volume-data-service.js';
import type { Volume } from '../../lib/volumes/volume.js';

const MiB = 1024 * 1024;

/** The data path's rules (4 KiB-aligned, at most 4 MiB), in memory, with a delay per call. */
class FakeVolumeData implements VolumeData {
  readonly bytes: Buffer;
  readonly writes: Array<{ offset: number; length: number }> = [];
  /** The retry policy of every write and zero, as the disk passed it. */
  readonly policies: Array<WritePolicy | undefined> = [];

  constructor(size: number) {
    this.bytes = Buffer.alloc(size);
  }

  private check(offset: number, length: number): void {
    if (offset % 4096 !== 0 || length % 4096 !== 0 || length === 0 || length > 4 * MiB) throw new Error(`bad I/O ${offset}+${length}`);
  }

  async read(_volumeId: string, offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    return Buffer.from(this.bytes.subarray(offset, offset + length));
  }

  async write(_volumeId: string, offset: number, data: Buffer, _key?: undefined, policy?: WritePolicy): Promise<unknown> {
    this.check(offset, data.length);
    this.policies.push(policy);
    this.writes.push({ offset, length: data.length });
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    data.copy(this.bytes, offset);
    for (let block = offset / 4096; block < (offset + data.length) / 4096; block++) this.zeroed.delete(block);
    return {};
  }

  readonly zeros: Array<{ offset: number; length: number }> = [];
  /** Blocks a zero made zeros (the allocation map's zero runs); every other block is data. */
  private readonly zeroed = new Set<number>();

  /** Like VolumeDataService.zero: whole 4 KiB blocks, any length, one call. */
  async zero(_volumeId: string, offset: number, length: number, _key?: undefined, policy?: WritePolicy): Promise<unknown> {
    if (offset % 4096 !== 0 || length % 4096 !== 0 || length === 0) throw new Error(`bad zero ${offset}+${length}`);
    this.policies.push(policy);
    this.zeros.push({ offset, length });
    this.bytes.fill(0, offset, offset + length);
    for (let block = offset / 4096; block < (offset + length) / 4096; block++) this.zeroed.add(block);
    return {};
  }

  async allocation(_volumeId: string, offset: number, length: number): Promise<Array<{ offset: number; length: number; type: 'data' | 'zero' }>> {
    if (offset % 4096 !== 0 || length % 4096 !== 0) throw new Error(`bad allocation ${offset}+${length}`);
    const runs: Array<{ offset: number; length: number; type: 'data' | 'zero' }> = [];
    for (let at = offset; at < offset + length; at += 4096) {
      const type = this.zeroed.has(at / 4096) ? 'zero' : 'data';
      const last = runs.at(-1);
      if (last && last.type === type) last.length += 4096;
      else runs.push({ offset: at, length: 4096, type });
    }
    return runs;
  }
}

const CHUNK = 64 * 1024;
const diskOver = (data: VolumeData) => new VolumeDataDisk(data, async () => ({ chunkSizeBytes: CHUNK }));

describe('VolumeDataDisk', () => {
  it('read-modify-writes sector-sized writes, keeping the rest of the block, even when many race on one block', async () => {
    const data = new FakeVolumeData(MiB);
    data.bytes.fill(0xaa);
    const disk = diskOver(data);
    // 8 sectors of one block and whole-block writes next to them, all at once.
    await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => disk.write('vol', 8192 + i * 512, Buffer.alloc(512, i + 1))),
      disk.write('vol', 4096, Buffer.alloc(4096, 0x55)),
      disk.write('vol', 12288, Buffer.alloc(4096, 0x66)),
    ]);
    for (let i = 0; i < 8; i++) expect(data.bytes.subarray(8192 + i * 512, 8192 + (i + 1) * 512).every((b) => b === i + 1)).toBe(true);
    expect(data.bytes.subarray(4096, 8192).every((b) => b === 0x55)).toBe(true);
    expect(data.bytes.subarray(12288, 16384).every((b) => b === 0x66)).toBe(true);
    expect(data.bytes.subarray(0, 4096).every((b) => b === 0xaa)).toBe(true);
    expect((await disk.read('vol', 8192 + 512, 1024)).equals(Buffer.concat([Buffer.alloc(512, 2), Buffer.alloc(512, 3)]))).toBe(true);
  });

  it('splits reads and writes of over 4 MiB into data-path pieces', async () => {
    const data = new FakeVolumeData(32 * MiB);
    const disk = diskOver(data);
    const payload = Buffer.alloc(10 * MiB, 7);
    await disk.write('vol', MiB, payload);
    expect(data.writes.map((w) => w.length)).toEqual([4 * MiB, 4 * MiB, 2 * MiB]);
    expect((await disk.read('vol', MiB, 10 * MiB)).equals(payload)).toBe(true);
  });

  it('asks the data path to send again writes and zeros a failover fenced before their commit (an NBD client cannot retry)', async () => {
    const data = new FakeVolumeData(MiB);
    const disk = diskOver(data);
    await disk.write('vol', 0, Buffer.alloc(8192, 5));
    await disk.zero('vol', 8192, 8192);
    expect(data.policies).toHaveLength(2);
    for (const policy of data.policies) expect(policy?.retryUncommittedMs).toBeGreaterThanOrEqual(30_000);
  });

  it('zeroes whole blocks with one zero of any length (a zero note), and sector edges by read-modify-write', async () => {
    const data = new FakeVolumeData(MiB);
    data.bytes.fill(0xff);
    const disk = diskOver(data);
    expect(disk.zeroIsFast).toBe(true);
    await disk.zero('vol', 512, 3 * CHUNK);
    expect(data.bytes.subarray(512, 512 + 3 * CHUNK).every((b) => b === 0)).toBe(true);
    expect(data.bytes.subarray(0, 512).every((b) => b === 0xff)).toBe(true);
    expect(data.bytes.subarray(512 + 3 * CHUNK, 4 * CHUNK).every((b) => b === 0xff)).toBe(true);
    // One zero for the whole blocks inside; the two partial blocks at the ends are written.
    expect(data.zeros).toEqual([{ offset: 4096, length: 3 * CHUNK - 4096 }]);
    expect(data.writes.map((w) => w.offset).sort((a, b) => a - b)).toEqual([0, 3 * CHUNK]);
    // Inside one block: a single read-modify-write, no zero.
    await disk.zero('vol', 4 * CHUNK + 1024, 1024);
    expect(data.bytes.subarray(4 * CHUNK + 1024, 4 * CHUNK + 2048).every((b) => b === 0)).toBe(true);
    expect(data.bytes.subarray(4 * CHUNK, 4 * CHUNK + 1024).every((b) => b === 0xff)).toBe(true);
    expect(data.zeros).toHaveLength(1);
  });

  it('answers the allocation map of any sector range: zero runs as holes that read zeros, clipped and merged', async () => {
    const data = new FakeVolumeData(MiB);
    const disk = diskOver(data);
    await disk.zero('vol', 8192, 16384);
    expect(await disk.allocation('vol', 0, MiB)).toEqual([
      { length: 8192, zero: false, hole: false },
      { length: 16384, zero: true, hole: true },
      { length: MiB - 24576, zero: false, hole: false },
    ]);
    // A range that starts and ends inside blocks is clipped to exactly its bytes.
    expect(await disk.allocation('vol', 8192 - 512, 1024)).toEqual([
      { length: 512, zero: false, hole: false },
      { length: 512, zero: true, hole: true },
    ]);
    expect(await disk.allocation('vol', 9216, 512)).toEqual([{ length: 512, zero: true, hole: true }]);
  });
});

const volume: Volume = {
  volumeId: 'vol-0123456789abcdef0',
  sizeBytes: 64 * MiB,
  chunkSizeBytes: MiB,
  partitionChunks: 16,
  partitionCount: 4,
  state: 'available',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

function failingDisk(error: Error): VolumeDisk {
  const fail = () => Promise.reject(error);
  return { zeroIsFast: false, read: fail, write: fail, zero: fail, allocation: fail, flush: fail };
}

describe('VolumeBlockDevice and SnapshotBlockDevice', () => {
  it('advertise a 512-byte minimum, the chunk size as preferred and 32 MiB maximum', () => {
    const device = new VolumeBlockDevice(volume, diskOver(new FakeVolumeData(MiB)));
    expect(device).toMatchObject({ size: 64 * MiB, readOnly: false, canMultiConn: true, blockSizes: { minimum: 512, preferred: MiB, maximum: 32 * MiB } });
  });

  it('refuse a fast zero from a disk whose zeroing writes blocks (ENOTSUP), and change nothing', async () => {
    const data = new FakeVolumeData(MiB);
    const slow: VolumeDisk = Object.assign(Object.create(diskOver(data)) as VolumeDisk, { zeroIsFast: false });
    const device = new VolumeBlockDevice({ ...volume, sizeBytes: MiB }, slow);
    const error = await device.zero(0, 4096, { fua: false, noHole: false, fastZero: true }).catch((e: unknown) => e);
    expect(nbdErrnoOf(error)).toBe(Errno.ENOTSUP);
    expect(data.writes).toEqual([]);
    expect(data.zeros).toEqual([]);
  });

  it('honour a fast zero on a volume: one zero note, no block written', async () => {
    const data = new FakeVolumeData(MiB);
    data.bytes.fill(1);
    const device = new VolumeBlockDevice({ ...volume, sizeBytes: MiB }, diskOver(data));
    await device.zero(0, MiB, { fua: false, noHole: false, fastZero: true });
    expect(data.zeros).toEqual([{ offset: 0, length: MiB }]);
    expect(data.writes).toEqual([]);
    expect(data.bytes.every((b) => b === 0)).toBe(true);
  });

  it('answer EIO with a clear message once the volume is deleted or no longer available', async () => {
    for (const cause of [new VolumeNotFoundError(volume.volumeId), new VolumeStateError(volume.volumeId, 'deleting', 'read from it')]) {
      const device = new VolumeBlockDevice(volume, failingDisk(cause));
      const error = await device.read(0, 4096).catch((e: unknown) => e);
      expect(nbdErrnoOf(error)).toBe(Errno.EIO);
      expect((error as Error).message).toMatch(new RegExp(`^Volume ${volume.volumeId} (was deleted while attached|is no longer available)`));
    }
  });

  it('a snapshot device is read-only (EPERM) and widens sector reads to whole blocks', async () => {
    const bytes = Buffer.alloc(MiB);
    bytes.write('hello', 1536);
    const device = new SnapshotBlockDevice({ snapshotId: 'snap-0123456789abcdef0', sizeBytes: MiB, chunkSizeBytes: MiB }, {
      read: async (_id, offset, length) => {
        if (offset % 4096 !== 0 || length % 4096 !== 0) throw new Error('unaligned snapshot read');
        return bytes.subarray(offset, offset + length);
      },
    });
    expect(device.readOnly).toBe(true);
    expect((await device.read(1536, 512)).toString('utf8', 0, 5)).toBe('hello');
    expect(nbdErrnoOf(await device.write().catch((e: unknown) => e))).toBe(Errno.EPERM);
  });
});

describe('DiskExportResolver', () => {
  const snapshot = (id: string, state: Snapshot['state']): Snapshot => ({
    snapshotId: id,
    volumeId: volume.volumeId,
    state,
    sizeBytes: volume.sizeBytes,
    chunkSizeBytes: MiB,
    partitionChunks: 16,
    partitionCount: 4,
    ops: {},
    sleds: {},
    progress: { partitionsDone: 0, partitionsTotal: 0, chunksStored: 0, bytesStored: 0 },
    createdAt: '2026-01-01T00:00:00.000Z',
  });
  const volumes = Array.from({ length: 2500 }, (_, i): Volume => ({ ...volume, volumeId: `vol-${i.toString(16).padStart(17, '0')}`, state: i % 10 === 0 ? 'creating' : i % 10 === 5 ? 'hydrating' : 'available' }));
  const snapshots = [snapshot('snap-00000000000000001', 'completed'), snapshot('snap-00000000000000002', 'creating')];
  const page = <T>(items: readonly T[], limit: number, cursor?: string) => {
    const start = cursor === undefined ? 0 : Number(cursor);
    const next = start + limit < items.length ? String(start + limit) : undefined;
    return { items: items.slice(start, start + limit), ...(next === undefined ? {} : { nextCursor: next }) };
  };
  const catalog: DiskCatalog = {
    volume: async (id) => volumes.find((v) => v.volumeId === id),
    volumes: async (limit, cursor) => {
      const { items, ...rest } = page(volumes, limit, cursor);
      return { volumes: items, ...rest };
    },
    snapshot: async (id) => snapshots.find((s) => s.snapshotId === id),
    snapshots: async (limit, cursor) => {
      const { items, ...rest } = page(snapshots, limit, cursor);
      return { snapshots: items, ...rest };
    },
  };
  const resolver = new DiskExportResolver(catalog, diskOver(new FakeVolumeData(MiB)), { read: async () => Buffer.alloc(0) });

  it('lists every available or hydrating volume across pages, then the completed snapshots', async () => {
    const listed = await resolver.list();
    const names = listed.map((e) => e.name);
    expect(names).toHaveLength(2250 + 1);
    expect(listed.find((e) => e.name === 'vol-00000000000000005')?.description).toMatch(/\(hydrating\)$/); // hydrating
    expect(names).toContain('vol-000000000000009c3');
    expect(names).not.toContain('vol-00000000000000000'); // creating
    expect(names.at(-1)).toBe('snap-00000000000000001');
  });

  it('opens volumes writable and completed snapshots read-only, and refuses the rest with a reason', async () => {
    const opened = await resolver.open('vol-00000000000000001');
    expect(opened.kind === 'opened' && opened.device.readOnly).toBe(false);
    const hydrating = await resolver.open('vol-00000000000000005');
    expect(hydrating.kind === 'opened' && hydrating.device.readOnly).toBe(false);
    const snap = await resolver.open('snap-00000000000000001');
    expect(snap.kind === 'opened' && snap.device.readOnly).toBe(true);
    expect(await resolver.open('vol-00000000000000000')).toEqual({
      kind: 'refused',
      reason: 'unavailable',
      message: 'volume vol-00000000000000000 is creating; it can be attached once available',
    });
    expect(await resolver.open('snap-00000000000000002')).toMatchObject({ kind: 'refused', reason: 'unavailable' });
    expect(await resolver.open('vol-fffffffffffffffff')).toMatchObject({ kind: 'refused', reason: 'unknown' });
    expect(await resolver.open('')).toMatchObject({ kind: 'refused', reason: 'unknown' });
  });
});
