/**
 * Sleds volumes and snapshots as NBD disks, driven by real clients (libnbd's nbdinfo, nbdcopy
 * and nbdfuse, qemu-img, qemu-io, fio, e2fsprogs and fuse2fs) against the embedded cloud,
 * whose NBD server runs on the same services as its API handlers.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { DynamoDbVolumeRepository } from '../../lib/aws/dynamodb-volume-repository.js';
import { Command, Errno } from '../../lib/nbd/constants.js';
import { newVolume } from '../../lib/volumes/volume.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { CLIENTS, describeWithClients, run, runStatus } from '../support/nbd-clients.js';
import { RawNbdClient, chunkErrno, chunkMessage } from '../support/nbd-raw-client.js';
import { completedSnapshot, createVolume, exited, fuse2fs, nbdfuse, readHttp, writeHttp } from '../support/nbd-volumes.js';

const KiB = 1024;
const MiB = 1024 * 1024;

const NEEDED = [
  CLIENTS.nbdinfo,
  CLIENTS.nbdcopy,
  CLIENTS.qemuImg,
  CLIENTS.qemuIo,
  CLIENTS.fio,
  CLIENTS.nbdfuse,
  CLIENTS.fuse2fs,
  CLIENTS.fusermount3,
  CLIENTS.mkfsExt4,
  CLIENTS.e2fsck,
];

describeWithClients('Sleds volumes as NBD disks, with real clients', NEEDED, () => {
  const cloud = useLocalCloud({ nbdPort: 0 });
  const api = (): string => cloud().apiUrl;
  const server = (): string => {
    const url = cloud().nbdUrl;
    if (!url) throw new Error('the local cloud serves no NBD');
    return url;
  };
  const uri = (name: string): string => `${server()}/${name}`;
  const port = (): number => Number(new URL(server()).port);
  let dir = '';
  let copied = ''; // a volume filled by nbdcopy, and the image it holds
  let image = Buffer.alloc(0);
  let snapshotId = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleds-nbd-volumes-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('nbdinfo shows a volume: its size, a 512-byte minimum, the chunk size as preferred, 32 MiB maximum, truthful flags', async () => {
    const volumeId = await createVolume(api(), { sizeBytes: 64 * MiB, chunkSizeBytes: 256 * KiB, name: 'info' });
    const info = JSON.parse((await run('nbdinfo', ['--json', uri(volumeId)])).stdout);
    const [disk] = info.exports;
    expect(disk).toMatchObject({
      'export-name': volumeId,
      description: 'info: volume of 64 MiB',
      'export-size': 64 * MiB,
      block_size_minimum: 512,
      block_size_preferred: 256 * KiB,
      block_size_maximum: 32 * MiB,
      is_read_only: false,
      can_flush: true,
      can_fua: true,
      can_trim: true,
      can_zero: true,
      can_multi_conn: true,
    });
  });

  it('nbdcopy copies a random image into a volume and out again byte for byte; the HTTP API reads the same bytes', async () => {
    copied = await createVolume(api(), { sizeBytes: 32 * MiB });
    image = randomBytes(32 * MiB);
    image.fill(0, 8 * MiB, 10 * MiB); // a run of zeros for nbdcopy's sparse paths
    await writeFile(join(dir, 'in.img'), image);
    await run('nbdcopy', ['--connections=4', join(dir, 'in.img'), uri(copied)], 60_000);
    await run('nbdcopy', [uri(copied), join(dir, 'out.img')], 60_000);
    expect((await readFile(join(dir, 'out.img'))).equals(image)).toBe(true);
    expect((await readHttp(api(), copied, 0, 32 * MiB)).equals(image)).toBe(true);
  });

  it('qemu-img convert copies a random image into a volume and out again byte for byte, HTTP included', async () => {
    const volumeId = await createVolume(api(), { sizeBytes: 32 * MiB });
    const qemuImage = randomBytes(32 * MiB);
    await writeFile(join(dir, 'q-in.img'), qemuImage);
    await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', join(dir, 'q-in.img'), uri(volumeId)], 60_000);
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', uri(volumeId), join(dir, 'q-out.img')], 60_000);
    expect((await readFile(join(dir, 'q-out.img'))).equals(qemuImage)).toBe(true);
    expect((await readHttp(api(), volumeId, 0, 32 * MiB)).equals(qemuImage)).toBe(true);
  });

  it('a completed snapshot is a read-only export holding the volume as it was; --list shows volumes and completed snapshots', async () => {
    snapshotId = await completedSnapshot(api(), copied);
    // The volume moves on; the snapshot must not.
    await writeHttp(api(), copied, 0, Buffer.alloc(MiB, 0xee));
    const info = JSON.parse((await run('nbdinfo', ['--json', uri(snapshotId)])).stdout).exports[0];
    expect(info).toMatchObject({ 'export-size': 32 * MiB, is_read_only: true, can_trim: false, can_zero: false, can_multi_conn: true });
    await run('nbdcopy', [uri(snapshotId), join(dir, 'snap.img')], 60_000);
    expect((await readFile(join(dir, 'snap.img'))).equals(image)).toBe(true);

    const list = JSON.parse((await run('nbdinfo', ['--list', '--json', server()], 30_000)).stdout);
    const names: string[] = list.exports.map((e: { 'export-name': string }) => e['export-name']);
    expect(names).toContain(copied);
    expect(names).toContain(snapshotId);
    const listed = list.exports.find((e: { 'export-name': string }) => e['export-name'] === snapshotId);
    expect(listed.description).toContain(`read-only snapshot of ${copied}`);
    expect(listed.is_read_only).toBe(true);
    const volumes = (await call(api(), 'GET', '/volumes?limit=1000')).body.volumes.map((v: { volumeId: string }) => v.volumeId);
    for (const volumeId of volumes) expect(names).toContain(volumeId);
  });

  it('a write to a snapshot export is refused with EPERM and changes nothing', async () => {
    const client = await RawNbdClient.connect(port());
    try {
      const replies = await client.go(snapshotId, { structured: true });
      expect(replies.at(-1)?.type).toBe(1); // ACK
      client.send({ flags: 0, type: Command.WRITE, offset: 0, length: 4096, data: Buffer.alloc(4096, 1) });
      const answer = await client.reply();
      expect(chunkErrno(answer)).toBe(Errno.EPERM);
    } finally {
      client.destroy();
    }
    await run('nbdcopy', [uri(snapshotId), join(dir, 'snap-again.img')], 60_000);
    expect((await readFile(join(dir, 'snap-again.img'))).equals(image)).toBe(true);
  });

  it('fio (nbd engine) random 4K-64K writes from 4 connections at iodepth 16 all verify', async () => {
    const volumeId = await createVolume(api(), { sizeBytes: 64 * MiB });
    const jobs = 4;
    const { stdout } = await run(
      'fio',
      [
        '--name=sleds-verify',
        '--ioengine=nbd',
        `--uri=${uri(volumeId)}`,
        '--rw=randwrite',
        '--bsrange=4k-64k',
        `--numjobs=${jobs}`,
        '--iodepth=16',
        '--size=8M',
        '--offset_increment=16M', // each connection owns its region, so verification is exact
        '--verify=crc32c',
        '--verify_fatal=1',
        '--verify_state_save=0',
        '--do_verify=1',
        '--output-format=json',
      ],
      120_000,
    );
    const report = JSON.parse(stdout.slice(stdout.indexOf('{')));
    expect(report.jobs).toHaveLength(jobs);
    for (const job of report.jobs) {
      expect(job.error).toBe(0);
      expect(job.write.io_bytes).toBe(8 * MiB);
      expect(job.read.io_bytes).toBe(8 * MiB);
    }
    // fio's verify headers are in every region, through HTTP too.
    for (let j = 0; j < jobs; j++) expect((await readHttp(api(), volumeId, j * 16 * MiB, 4096)).some((b) => b !== 0)).toBe(true);
  }, 150_000);

  it('after qemu-io write -z and discard the ranges read zeros through NBD and HTTP; the rest keeps its data', async () => {
    const volumeId = await createVolume(api(), { sizeBytes: 16 * MiB });
    await run('qemu-io', ['-f', 'raw', uri(volumeId), '-c', 'write -P 0xcd 0 8M'], 30_000);
    expect((await readHttp(api(), volumeId, MiB, 4096))[0]).toBe(0xcd);
    await run('qemu-io', ['-f', 'raw', uri(volumeId), '-c', 'write -z 1M 1M', '-c', 'discard 3M 1M', '-c', 'write -z 5M 12k'], 30_000);
    const out = await run('qemu-io', ['-f', 'raw', uri(volumeId), '-c', 'read -P 0 1M 1M', '-c', 'read -P 0 3M 1M', '-c', 'read -P 0xcd 2M 1M', '-c', 'read -P 0 5M 12k'], 30_000);
    expect(out.stdout).not.toContain('Pattern verification failed');
    const http = await readHttp(api(), volumeId, 0, 8 * MiB);
    expect(http.subarray(MiB, 2 * MiB).equals(Buffer.alloc(MiB))).toBe(true);
    expect(http.subarray(3 * MiB, 4 * MiB).equals(Buffer.alloc(MiB))).toBe(true);
    expect(http.subarray(5 * MiB, 5 * MiB + 12 * KiB).equals(Buffer.alloc(12 * KiB))).toBe(true);
    expect(http.subarray(2 * MiB, 3 * MiB).every((b) => b === 0xcd)).toBe(true);
    expect(http.subarray(5 * MiB + 12 * KiB, 6 * MiB).every((b) => b === 0xcd)).toBe(true);
    // The check can fail: a range that holds data does not pass as zeros.
    const mismatch = await runStatus('qemu-io', ['-f', 'raw', uri(volumeId), '-c', 'read -P 0 2M 4k'], 30_000);
    expect(mismatch.stdout).toContain('Pattern verification failed');
  });

  it('ext4: mkfs.ext4 through nbdfuse, files written through fuse2fs, e2fsck -fn clean, files read back', async () => {
    const volumeId = await createVolume(api(), { sizeBytes: 64 * MiB });
    const fuseDir = join(dir, 'fuse');
    const mnt = join(dir, 'mnt');
    await mkdir(fuseDir);
    await mkdir(mnt);
    const mount = await nbdfuse(fuseDir, 'disk', uri(volumeId));
    try {
      // nbdfuse passes mkfs's sector writes (the superblock at byte 1024) through unaligned: the
      // disk read-modify-writes them. mkfs discards the whole disk first (zeroing on Sleds).
      await run('mkfs.ext4', ['-F', '-q', '-L', 'sleds', mount.file], 60_000);
      const files = Array.from({ length: 5 }, (_, i) => ({ name: `file-${i}.bin`, data: randomBytes(256 * KiB + i * 4096) }));
      const mounted = async (body: () => Promise<void>): Promise<void> => {
        const child = await fuse2fs(mount.file, mnt);
        try {
          await body();
        } finally {
          await run('fusermount3', ['-u', mnt], 30_000);
          await exited(child);
        }
      };
      await mounted(async () => {
        for (const file of files) await writeFile(join(mnt, file.name), file.data);
      });
      await run('e2fsck', ['-fn', mount.file], 60_000);
      await mounted(async () => {
        for (const file of files) expect((await readFile(join(mnt, file.name))).equals(file.data)).toBe(true);
      });
    } finally {
      await runStatus('fusermount3', ['-u', fuseDir], 30_000);
      await exited(mount.child);
    }
    // The file system is on the volume: its superblock magic (0xEF53 at 1080), read through HTTP.
    const superblock = await readHttp(api(), volumeId, 0, 4096);
    expect(superblock.readUInt16LE(1080)).toBe(0xef53);
    // And e2fsck does fail on a broken one: zero the superblock's group descriptors and check.
    const broken = join(dir, 'broken.img');
    await run('nbdcopy', [uri(volumeId), broken], 60_000);
    const bytes = await readFile(broken);
    bytes.fill(0, 4096, 8192);
    await writeFile(broken, bytes);
    expect((await runStatus('e2fsck', ['-fn', broken], 60_000)).code).not.toBe(0);
  }, 180_000);

  it('an unknown export is refused with NBD_REP_ERR_UNKNOWN and says what to name', async () => {
    const unknownVolume = await runStatus('nbdinfo', [uri('vol-00000000000000000')]);
    expect(unknownVolume.code).not.toBe(0);
    expect(unknownVolume.stderr).toContain('No such file or directory for export: vol-00000000000000000');
    const refusal = async (name: string): Promise<{ type: number; message: string }> => {
      const client = await RawNbdClient.connect(port());
      try {
        const last = (await client.go(name)).at(-1)!;
        return { type: last.type, message: last.data.toString() };
      } finally {
        client.destroy();
      }
    };
    const NBD_REP_ERR_UNKNOWN = 0x80000006;
    expect(await refusal('vol-00000000000000000')).toEqual({ type: NBD_REP_ERR_UNKNOWN, message: 'Volume vol-00000000000000000 does not exist.' });
    expect(await refusal('snap-00000000000000000')).toEqual({ type: NBD_REP_ERR_UNKNOWN, message: 'Snapshot snap-00000000000000000 does not exist.' });
    expect(await refusal('disk')).toEqual({
      type: NBD_REP_ERR_UNKNOWN,
      message: 'There is no export named "disk": name a volume (vol-…) or a completed snapshot (snap-…).',
    });
  });

  it('a volume that is not available is refused with NBD_REP_ERR_POLICY and a clear message', async () => {
    const clients = createAwsClients(cloud().config);
    try {
      const volume = newVolume({ sizeBytes: 8 * MiB, chunkSizeBytes: MiB, partitionChunks: 16 }, new Date(), 'creating');
      await new DynamoDbVolumeRepository(clients.documents, cloud().config.tables.volumes).create(volume);
      const client = await RawNbdClient.connect(port());
      try {
        const replies = await client.go(volume.volumeId);
        const last = replies.at(-1)!;
        expect(last.type).toBe(0x80000002); // NBD_REP_ERR_POLICY
        expect(last.data.toString()).toBe(`volume ${volume.volumeId} is creating; it can be attached once available`);
      } finally {
        client.destroy();
      }
      const listed = JSON.parse((await run('nbdinfo', ['--list', '--json', server()], 30_000)).stdout);
      expect(listed.exports.map((e: { 'export-name': string }) => e['export-name'])).not.toContain(volume.volumeId);
    } finally {
      clients.destroy();
    }
  });

  it('a volume deleted while attached fails further requests with EIO and a clean message; the server keeps serving', async () => {
    const volumeId = await createVolume(api(), { sizeBytes: 8 * MiB });
    const client = await RawNbdClient.connect(port());
    try {
      const replies = await client.go(volumeId, { structured: true });
      expect(replies.at(-1)?.type).toBe(1);
      client.send({ flags: 0, type: Command.WRITE, offset: 0, length: 4096, data: Buffer.alloc(4096, 7) });
      expect(chunkErrno(await client.reply())).toBe(0);
      expect((await call(api(), 'DELETE', `/volumes/${volumeId}`)).status).toBeLessThan(300);
      for (const type of [Command.READ, Command.WRITE]) {
        client.send({ flags: 0, type, offset: 0, length: 4096, ...(type === Command.WRITE ? { data: Buffer.alloc(4096, 8) } : {}) });
        const answer = await client.reply();
        expect(chunkErrno(answer)).toBe(Errno.EIO);
        expect(chunkMessage(answer)).toBe(`Volume ${volumeId} was deleted while attached; it is no longer served.`);
      }
    } finally {
      client.destroy();
    }
    const other = await createVolume(api(), { sizeBytes: 8 * MiB });
    const info = JSON.parse((await run('nbdinfo', ['--json', uri(other)])).stdout).exports[0];
    expect(info['export-size']).toBe(8 * MiB);
  });
});
