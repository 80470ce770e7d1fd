/**
 * The core steps of `npm run demo:disk` (lib/local/demo-disk.ts) end to end with 2 copies
 * instead of 16: an ext4 golden image made through nbdfuse and fuse2fs, a snapshot, a copy job,
 * each copy checked with e2fsck -fn and its files read back (the first one also while it still
 * hydrates). Under CI=true a missing client
 * fails the suite (describeWithClients); elsewhere it is skipped with the apt-get line.
 */
import { writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { api, checkCopy, completedSnapshot, copiesDone, createVolume, startCopies, goldenFiles, makeGoldenImage, withDisk, withFileSystem } from '../../lib/local/demo-disk.js';
import { CLIENTS, describeWithClients } from '../support/nbd-clients.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { FAILPOINTS, armFailpoint } from '../../lib/faults.js';

const MiB = 1024 * 1024;

describeWithClients('demo:disk steps: golden ext4 image, snapshot, copies checked by e2fsck and fuse2fs', [CLIENTS.nbdfuse, CLIENTS.fuse2fs, CLIENTS.fusermount3, CLIENTS.mkfsExt4, CLIENTS.e2fsck], () => {
  const cloud = useLocalCloud({ nbdPort: 0, retryIntervalMs: 0 });
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleds-demo-disk-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes the golden image, copies its snapshot to 2 volumes, and both check clean with identical files', { timeout: 240_000 }, async () => {
    const base = cloud().apiUrl;
    const nbd = cloud().nbdUrl ?? '';
    const files = goldenFiles(0.25);
    const volumeId = await createVolume(base, 64 * MiB, 'golden');
    const made = await makeGoldenImage(join(dir, 'golden'), `${nbd}/${volumeId}`, files);
    expect(made.mkfsMs).toBeGreaterThan(0);

    const snapshotId = await completedSnapshot(base, volumeId);
    // Hydration is held before its end (finalize), so the first check surely runs on a hydrating copy.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const disarm = armFailpoint(FAILPOINTS.finalize, () => held);
    let copies;
    try {
      const started = await startCopies(base, snapshotId, 2);
      const [early] = started.volumeIds as [string];
      expect((await api(base, 'GET', `/volumes/${early}`)).state).toBe('hydrating');
      const check = await checkCopy(join(dir, 'early'), `${nbd}/${early}`, files);
      expect(check.fsckClean, check.fsckOutput).toBe(true);
      expect(check.mismatches).toEqual([]);
      expect((await api(base, 'GET', `/volumes/${early}`)).state).toBe('hydrating');
      release();
      copies = await copiesDone(base, started);
    } finally {
      release();
      disarm();
    }
    expect(copies.volumeIds).toHaveLength(2);
    for (const copyId of copies.volumeIds) expect((await api(base, 'GET', `/volumes/${copyId}`)).state).toBe('available');

    for (const copyId of copies.volumeIds) {
      const check = await checkCopy(join(dir, copyId), `${nbd}/${copyId}`, files);
      expect(check.fsckClean, check.fsckOutput).toBe(true);
      expect(check.mismatches).toEqual([]);
    }

    // The check does catch a difference: change one file on the first copy, and it is named.
    const [first] = copies.volumeIds as [string];
    await withDisk(join(dir, 'edit'), `${nbd}/${first}`, (disk) =>
      withFileSystem(join(dir, 'edit'), disk, (mnt) => writeFile(join(mnt, 'README.txt'), 'changed\n')),
    );
    const changed = await checkCopy(join(dir, 'recheck'), `${nbd}/${first}`, files);
    expect(changed.fsckClean, changed.fsckOutput).toBe(true);
    expect(changed.mismatches).toEqual(['README.txt']);
  });
});
