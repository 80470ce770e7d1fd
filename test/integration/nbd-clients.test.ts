import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AllocationFlag } from '../../lib/nbd/constants.js';
import { CLIENTS, describeWithClients, memoryDevice, run, useNbdServer } from '../support/nbd-clients.js';

const MiB = 1024 * 1024;

describeWithClients('NBD server with real clients (libnbd, qemu)', [CLIENTS.nbdinfo, CLIENTS.nbdcopy, CLIENTS.qemuImg, CLIENTS.qemuIo], () => {
  const disk = memoryDevice(64 * MiB);
  const mapped = memoryDevice(16 * MiB);
  const copyTarget = memoryDevice(16 * MiB);
  const qemuTarget = memoryDevice(16 * MiB);
  const zeroes = memoryDevice(16 * MiB);
  const readOnly = memoryDevice(8 * MiB, { readOnly: true });
  const single = memoryDevice(8 * MiB, { canMultiConn: false });
  const { uri } = useNbdServer(() => [
    { name: 'disk', description: 'a 64 MiB scratch disk', device: disk },
    { name: 'mapped', device: mapped },
    { name: 'copy', device: copyTarget },
    { name: 'qemu', device: qemuTarget },
    { name: 'zeroes', device: zeroes },
    { name: 'ro', description: 'read-only', device: readOnly },
    { name: 'single', device: single },
  ]);
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleds-nbd-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('nbdinfo --json shows the size, block sizes and truthful flags', async () => {
    const info = JSON.parse((await run('nbdinfo', ['--json', uri('disk')])).stdout);
    expect(info.protocol).toBe('newstyle-fixed');
    expect(info.structured).toBe(true);
    const [disk0] = info.exports;
    expect(disk0).toMatchObject({
      'export-name': 'disk',
      description: 'a 64 MiB scratch disk',
      'export-size': 64 * MiB,
      block_size_minimum: 4096,
      block_size_preferred: MiB,
      block_size_maximum: 32 * MiB,
      is_read_only: false,
      can_flush: true,
      can_fua: true,
      can_trim: true,
      can_zero: true,
      can_fast_zero: true,
      can_cache: true,
      can_df: true,
      can_multi_conn: true,
    });
    expect(disk0.contexts).toContain('base:allocation');

    const ro = JSON.parse((await run('nbdinfo', ['--json', uri('ro')])).stdout).exports[0];
    expect(ro).toMatchObject({ 'export-size': 8 * MiB, is_read_only: true, can_trim: false, can_zero: false, can_fua: false });
    const single0 = JSON.parse((await run('nbdinfo', ['--json', uri('single')])).stdout).exports[0];
    expect(single0.can_multi_conn).toBe(false);
  });

  it('nbdinfo --list lists every export with its description', async () => {
    const list = JSON.parse((await run('nbdinfo', ['--list', '--json', `nbd://127.0.0.1:${new URL(uri('disk')).port}`])).stdout);
    const names = list.exports.map((e: any) => e['export-name']);
    expect(names).toEqual(['disk', 'mapped', 'copy', 'qemu', 'zeroes', 'ro', 'single']);
    expect(list.exports.find((e: any) => e['export-name'] === 'ro').description).toBe('read-only');
  });

  it('nbdinfo --map shows never-written ranges as holes, written ones as data and zeroed ones as zero', async () => {
    await mapped.write(2 * MiB, randomBytes(MiB), { fua: false });
    await mapped.zero(4 * MiB, MiB, { fua: false, noHole: true, fastZero: false });
    const map = JSON.parse((await run('nbdinfo', ['--map', '--json', uri('mapped')])).stdout);
    const view = map.map((e: any) => [e.offset, e.length, e.type]);
    const { HOLE, ZERO } = AllocationFlag;
    expect(view).toEqual([
      [0, 2 * MiB, HOLE | ZERO],
      [2 * MiB, MiB, 0],
      [3 * MiB, MiB, HOLE | ZERO],
      [4 * MiB, MiB, ZERO],
      [5 * MiB, 11 * MiB, HOLE | ZERO],
    ]);
  });

  it('nbdcopy copies a random image in and out byte for byte', async () => {
    const image = randomBytes(16 * MiB);
    image.fill(0, 4 * MiB, 6 * MiB); // a hole for the sparse paths
    await writeFile(join(dir, 'in.img'), image);
    await run('nbdcopy', [join(dir, 'in.img'), uri('copy')]);
    expect(copyTarget.readSync(0, 16 * MiB).equals(image)).toBe(true);
    await run('nbdcopy', [uri('copy'), join(dir, 'out.img')]);
    expect((await readFile(join(dir, 'out.img'))).equals(image)).toBe(true);
  });

  it('qemu-img convert copies a random image in and out byte for byte', async () => {
    const image = randomBytes(16 * MiB);
    image.fill(0, 8 * MiB, 9 * MiB);
    await writeFile(join(dir, 'q-in.img'), image);
    await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', join(dir, 'q-in.img'), uri('qemu')]);
    expect(qemuTarget.readSync(0, 16 * MiB).equals(image)).toBe(true);
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', uri('qemu'), join(dir, 'q-out.img')]);
    expect((await readFile(join(dir, 'q-out.img'))).equals(image)).toBe(true);
  });

  it('qemu-io write -z and discard leave ranges that read back as zeroes', async () => {
    await run('qemu-io', ['-f', 'raw', uri('zeroes'), '-c', 'write -P 0xcd 0 8M']);
    expect(zeroes.readSync(MiB, 4096)[0]).toBe(0xcd);
    await run('qemu-io', ['-f', 'raw', uri('zeroes'), '-c', 'write -z 1M 1M', '-c', 'discard 3M 1M']);
    const out = await run('qemu-io', ['-f', 'raw', uri('zeroes'), '-c', 'read -P 0 1M 1M', '-c', 'read -P 0 3M 1M', '-c', 'read -P 0xcd 2M 1M']);
    expect(out.stdout).not.toContain('Pattern verification failed');
    expect(zeroes.readSync(MiB, MiB).equals(Buffer.alloc(MiB))).toBe(true);
    expect(zeroes.readSync(3 * MiB, MiB).equals(Buffer.alloc(MiB))).toBe(true);
    expect(zeroes.readSync(2 * MiB, MiB).every((b) => b === 0xcd)).toBe(true);
    const map = JSON.parse((await run('nbdinfo', ['--map', '--json', uri('zeroes')])).stdout);
    const at = (offset: number): number => map.find((e: any) => e.offset <= offset && offset < e.offset + e.length).type;
    expect(at(MiB) & AllocationFlag.ZERO).toBe(AllocationFlag.ZERO);
    expect(at(3 * MiB)).toBe(AllocationFlag.HOLE | AllocationFlag.ZERO);
    expect(at(2 * MiB)).toBe(0);
  });

  it('qemu-io sees a pattern mismatch when there is one (the check above can fail)', async () => {
    const out = await run('qemu-io', ['-f', 'raw', uri('zeroes'), '-c', 'read -P 0 2M 4k']).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
    expect(out.stdout).toContain('Pattern verification failed');
  });
});
