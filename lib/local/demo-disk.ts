import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProgressBar } from '../cli/progress.js';
import { mapLimit } from '../shared/concurrency.js';
import { MIB, formatSize, parseSize } from '../units/sizes.js';
import { startLocalCloud } from './local-cloud.js';
import { PRIVATE_UMASK } from './private-data-dir.js';

/**
 * `npm run demo:disk`: the golden-image story copy jobs exist for. A volume attached as a disk
 * (nbdfuse), formatted ext4 (mkfs.ext4) and given files (fuse2fs); a snapshot; 16 copies by a
 * copy job; every copy checked with e2fsck -fn and by reading the files back through fuse2fs.
 * The steps are exported for test/integration/demo-disk.test.ts; main() runs only as the entry.
 */

/** A client binary the demo drives and the Debian package that ships it. */
export const DISK_CLIENTS = [
  { binary: 'nbdfuse', debianPackage: 'libnbd-bin' },
  { binary: 'fusermount3', debianPackage: 'fuse3' },
  { binary: 'fuse2fs', debianPackage: 'fuse2fs' },
  { binary: 'mkfs.ext4', debianPackage: 'e2fsprogs' },
  { binary: 'e2fsck', debianPackage: 'e2fsprogs' },
] as const;

/** The apt-get line for the clients missing from PATH; undefined when none is. */
export function missingDiskClients(): string | undefined {
  const onPath = (binary: string) =>
    (process.env.PATH ?? '').split(delimiter).some((dir) => {
      try {
        accessSync(join(dir, binary), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const missing = DISK_CLIENTS.filter((c) => !onPath(c.binary));
  if (missing.length === 0) return undefined;
  return `${missing.map((c) => c.binary).join(', ')} not found on PATH; install them with: apt-get install -y ${[...new Set(missing.map((c) => c.debianPackage))].join(' ')}`;
}

/** A file of the golden image: its path inside the file system and its content. */
export interface GoldenFile {
  readonly path: string;
  readonly data: Buffer;
}

/** Deterministic noise (xorshift32) seeded by `seed`. */
function noise(seed: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= length; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    buffer.writeUInt32LE(state >>> 0, i);
  }
  return buffer;
}

/** The golden image's files: text, a config, binaries of a few sizes, one in a subdirectory. */
export function goldenFiles(scale = 1): GoldenFile[] {
  return [
    { path: 'README.txt', data: Buffer.from('Golden image made by npm run demo:disk.\nEvery copy must hold these exact bytes.\n') },
    { path: 'etc/app.conf', data: Buffer.from('listen = 0.0.0.0:8080\nworkers = 4\nvolume = sleds\n') },
    { path: 'bin/app', data: noise(1, Math.round(3 * MIB * scale)) },
    { path: 'data/table-0001.db', data: noise(2, Math.round(1 * MIB * scale) + 12_345) },
    { path: 'data/empty', data: Buffer.alloc(0) },
  ];
}

function run(binary: string, argv: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(binary, argv, { timeout: timeoutMs, maxBuffer: 64 * MIB, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${binary} ${argv.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolvePromise(stdout);
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((done) => child.once('exit', () => done()));
}

async function isMounted(mountPoint: string): Promise<boolean> {
  return (await readFile('/proc/mounts', 'utf8')).split('\n').some((line) => line.split(' ')[1] === mountPoint);
}

async function until(what: string, ready: () => Promise<boolean> | boolean, child: ChildProcess, output: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`${what} exited early (${child.exitCode}): ${output()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} not ready in ${timeoutMs} ms: ${output()}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}

function spawnWithOutput(binary: string, argv: readonly string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

/** Runs `body` with the NBD export `uri` attached as the file `dir/disk` by nbdfuse. */
export async function withDisk<T>(dir: string, uri: string, body: (disk: string) => Promise<T>): Promise<T> {
  const fuseDir = join(dir, 'nbd');
  await mkdir(fuseDir, { recursive: true });
  const disk = join(fuseDir, 'disk');
  const { child, output } = spawnWithOutput('nbdfuse', [disk, uri]);
  try {
    await until('nbdfuse', () => existsSync(disk), child, output);
    return await body(disk);
  } finally {
    await run('fusermount3', ['-u', fuseDir], 30_000).catch(() => child.kill('SIGTERM'));
    await exited(child);
  }
}

/** Runs `body` with the ext4 file system on `disk` mounted by fuse2fs at `dir/mnt`. */
export async function withFileSystem<T>(dir: string, disk: string, body: (mnt: string) => Promise<T>, readOnly = false): Promise<T> {
  const mnt = join(dir, 'mnt');
  await mkdir(mnt, { recursive: true });
  // -f: a daemonized fuse2fs would keep our pipes open; fakeroot: files are ours to write.
  const { child, output } = spawnWithOutput('fuse2fs', [disk, mnt, '-f', '-o', readOnly ? 'fakeroot,ro' : 'fakeroot']);
  try {
    await until('fuse2fs', () => isMounted(mnt), child, output);
    return await body(mnt);
  } finally {
    await run('fusermount3', ['-u', mnt], 60_000).catch(() => child.kill('SIGTERM'));
    await exited(child);
  }
}

/** Timings of making the golden image, in milliseconds. */
export interface MakeTimings {
  readonly mkfsMs: number;
  readonly writeMs: number;
}

/** mkfs.ext4 on the volume behind `uri` (through nbdfuse), then the files written through fuse2fs. */
export async function makeGoldenImage(dir: string, uri: string, files: readonly GoldenFile[]): Promise<MakeTimings> {
  return withDisk(dir, uri, async (disk) => {
    const mkfsStart = performance.now();
    await run('mkfs.ext4', ['-F', '-q', '-L', 'golden', disk], 300_000);
    const mkfsMs = performance.now() - mkfsStart;
    const writeStart = performance.now();
    await withFileSystem(dir, disk, async (mnt) => {
      for (const file of files) {
        await mkdir(join(mnt, file.path, '..'), { recursive: true });
        await writeFile(join(mnt, file.path), file.data);
      }
    });
    return { mkfsMs, writeMs: performance.now() - writeStart };
  });
}

/** What checking one copy found and how long it took. */
export interface CopyCheck {
  readonly fsckClean: boolean;
  readonly fsckOutput: string;
  /** Paths whose content differs from the golden file (or that are missing). */
  readonly mismatches: string[];
  readonly fsckMs: number;
  readonly readMs: number;
}

/** e2fsck -fn on the copy behind `uri` (through nbdfuse), then every golden file read back through fuse2fs and compared. */
export async function checkCopy(dir: string, uri: string, files: readonly GoldenFile[]): Promise<CopyCheck> {
  return withDisk(dir, uri, async (disk) => {
    const fsckStart = performance.now();
    const fsck = await new Promise<{ code: number; output: string }>((done) => {
      execFile('e2fsck', ['-fn', disk], { timeout: 300_000, encoding: 'utf8' }, (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    const fsckMs = performance.now() - fsckStart;
    const readStart = performance.now();
    const mismatches: string[] = [];
    await withFileSystem(
      dir,
      disk,
      async (mnt) => {
        for (const file of files) {
          const data = await readFile(join(mnt, file.path)).catch(() => undefined);
          if (!data?.equals(file.data)) mismatches.push(file.path);
        }
      },
      true,
    );
    return { fsckClean: fsck.code === 0, fsckOutput: fsck.output, mismatches, fsckMs, readMs: performance.now() - readStart };
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the demo reads loosely shaped JSON answers
export async function api(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Creates a volume and returns its id. */
export async function createVolume(base: string, sizeBytes: number, name: string): Promise<string> {
  return ((await api(base, 'POST', '/volumes', { sizeBytes, name })) as { volumeId: string }).volumeId;
}

/** Snapshots the volume and waits until the snapshot is completed; returns its id. */
export async function completedSnapshot(base: string, volumeId: string): Promise<string> {
  let snapshot = await api(base, 'POST', `/volumes/${volumeId}/snapshots`);
  while (snapshot.state !== 'completed') {
    await new Promise((done) => setTimeout(done, 100));
    snapshot = await api(base, 'GET', `/snapshots/${snapshot.snapshotId}`);
  }
  return snapshot.snapshotId as string;
}

/** What a finished copy job reports. */
export interface CopiesDone {
  readonly jobId: string;
  readonly volumeIds: string[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the copy job's status as the API answers it
  readonly status: any;
}

/** Asks for `count` copies of the snapshot; they are usable (hydrating) when this returns. */
export async function startCopies(base: string, snapshotId: string, count: number): Promise<{ jobId: string; volumeIds: string[] }> {
  const job = await api(base, 'POST', `/snapshots/${snapshotId}/copies`, { count });
  return { jobId: job.jobId as string, volumeIds: job.volumeIds as string[] };
}

/** Waits for a copy job to end, reporting progress (0..1); throws unless it succeeds. */
export async function copiesDone(base: string, job: { jobId: string; volumeIds: string[] }, onProgress: (fraction: number) => void = () => {}): Promise<CopiesDone> {
  let status = await api(base, 'GET', `/copy-jobs/${job.jobId}`);
  while (status.state === 'running') {
    await new Promise((done) => setTimeout(done, 200));
    status = await api(base, 'GET', `/copy-jobs/${job.jobId}`);
    if (status.progress.bytesTotal > 0) onProgress(status.progress.bytesCopied / status.progress.bytesTotal);
  }
  if (status.state !== 'succeeded') throw new Error(`the copy job ${status.state}: ${status.error}`);
  return { ...job, status };
}

// ---------------------------------------------------------------- the demo

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const args = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string]));
  const size = parseSize(args.get('size') ?? '256MiB');
  const count = Number(args.get('count') ?? 16);
  const missing = missingDiskClients();
  if (missing) {
    console.error(`demo:disk needs nbdfuse (libnbd-bin), fusermount3 (fuse3), fuse2fs (fuse2fs) and mkfs.ext4/e2fsck (e2fsprogs), and FUSE (/dev/fuse).\n${missing}`);
    process.exit(1);
  }
  process.umask(PRIVATE_UMASK);
  const dataDir = await mkdtemp(join(tmpdir(), 'sleds-demo-disk-'));
  const work = await mkdtemp(join(tmpdir(), 'sleds-demo-disk-mnt-'));
  const started = performance.now();
  const cloud = await startLocalCloud({ port: 0, dataDir, sledCount: 16, emulatorThreads: true, nbdPort: 0 });
  cloud.runner.warm();
  const base = cloud.apiUrl;
  const nbd = cloud.nbdUrl ?? '';
  const files = goldenFiles();
  try {
    console.log(`Sleds golden-image demo on the embedded cloud (${base}, NBD ${nbd}, 16 sleds, data in ${dataDir})\n`);
    const volumeId = await createVolume(base, size, 'golden image');
    console.log(`1. created ${volumeId} (${formatSize(size)}), attached with nbdfuse ${work}/nbd/disk ${nbd}/${volumeId}`);
    const made = await makeGoldenImage(join(work, 'golden'), `${nbd}/${volumeId}`, files);
    const bytes = files.reduce((sum, f) => sum + f.data.length, 0);
    console.log(`   mkfs.ext4 in ${seconds(made.mkfsMs)}; ${files.length} files (${formatSize(bytes)}) written through fuse2fs in ${seconds(made.writeMs)}`);

    const snapStart = performance.now();
    const snapshotId = await completedSnapshot(base, volumeId);
    console.log(`2. snapshot ${snapshotId} in ${seconds(performance.now() - snapStart)}`);

    const copyStart = performance.now();
    const bar = new ProgressBar({ stream: process.stderr, total: 1, enabled: process.stderr.isTTY === true, label: 'copy' });
    const requested = await startCopies(base, snapshotId, count);
    // Usable at once: e2fsck copy 1 (and read its files back) while the job still hydrates it.
    const early = await checkCopy(join(work, 'early'), `${nbd}/${requested.volumeIds[0]}`, files);
    const stateAfter = (await api(base, 'GET', `/volumes/${requested.volumeIds[0]}`)).state;
    if (!early.fsckClean || early.mismatches.length > 0) throw new Error(`copy 1 is not the golden image while it hydrates:\n${early.fsckOutput}${early.mismatches.join(', ')}`);
    console.log(
      `   copy 1 checked right after the request, ${stateAfter === 'hydrating' ? 'still hydrating' : `already ${stateAfter}`} when done: ` +
        `e2fsck -fn clean in ${seconds(early.fsckMs)}, files identical, ${seconds(performance.now() - copyStart)} after the request`,
    );
    const copies = await copiesDone(base, requested, (fraction) => bar.update(fraction));
    bar.finish();
    const copyMs = performance.now() - copyStart;
    const progress = copies.status.progress;
    console.log(`3. copy job ${copies.jobId}: ${count} volumes in ${seconds(copyMs)} (${progress.roundsPlanned} levels, ${progress.intermediariesCreated} intermediaries, all removed)`);
    for (const line of String(copies.status.plan ?? '').split('\n')) console.log(`     ${line}`);
    console.log(`   copied ${formatSize(progress.bytesCopied)} (${progress.chunksCopied} chunks, server-side); ${((count * size) / MIB / (copyMs / 1000)).toFixed(0)} MiB/s of finished volumes`);

    const checkStart = performance.now();
    const checkBar = new ProgressBar({ stream: process.stderr, total: count, enabled: process.stderr.isTTY === true, label: 'check' });
    let fsckMs = 0;
    let readMs = 0;
    const bad: string[] = [];
    await mapLimit(copies.volumeIds, 2, async (copyId) => {
      const check = await checkCopy(join(work, copyId), `${nbd}/${copyId}`, files);
      fsckMs += check.fsckMs;
      readMs += check.readMs;
      if (!check.fsckClean) bad.push(`${copyId}: e2fsck -fn is not clean:\n${check.fsckOutput}`);
      if (check.mismatches.length > 0) bad.push(`${copyId}: ${check.mismatches.join(', ')} differ`);
      checkBar.advance(1);
    });
    checkBar.finish();
    if (bad.length > 0) throw new Error(`copies differ from the golden image:\n${bad.join('\n')}`);
    console.log(
      `4. checked all ${count} copies in ${seconds(performance.now() - checkStart)} (2 at a time): e2fsck -fn clean (${seconds(fsckMs / count)} each), ` +
        `${files.length} files read back through fuse2fs identical (${seconds(readMs / count)} each)`,
    );
    console.log(`\ndone in ${seconds(performance.now() - started)}`);
  } finally {
    await cloud.stop();
    await rm(work, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error('demo:disk failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
