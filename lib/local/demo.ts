import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProgressBar } from '../cli/progress.js';
import { mapLimit } from '../shared/concurrency.js';
import { MIB, formatSize, parseSize } from '../units/sizes.js';
import { startLocalCloud } from './local-cloud.js';
import { PRIVATE_UMASK } from './private-data-dir.js';

/**
 * `npm run demo`: the main job on the embedded cloud. A 256 MiB volume with a known pattern,
 * a snapshot, 32 copies made by intermediary duplication, every copy checked byte for byte.
 */
const args = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string]));
const SIZE = parseSize(args.get('size') ?? '256MiB');
const COUNT = Number(args.get('count') ?? 32);
const FANOUT = Number(args.get('fanout') ?? 4);
const IO = 4 * MIB;
const CONCURRENCY = 8;

/** The known pattern: each 4 KiB block carries its own offset, then noise seeded by it. */
function patternAt(offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let block = 0; block < length; block += 4096) {
    let state = ((offset + block) / 4096 + 1) >>> 0;
    for (let i = 0; i < 4096; i += 4) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      buffer.writeUInt32LE(state >>> 0, block + i);
    }
    buffer.writeBigUInt64BE(BigInt(offset + block), block);
  }
  return buffer;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the demo reads loosely shaped JSON answers
async function api(base: string, method: string, path: string, body?: unknown, binary?: Buffer): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(binary
      ? { body: binary, headers: { 'content-type': 'application/octet-stream' } }
      : body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  const type = response.headers.get('content-type') ?? '';
  return type.includes('json') ? response.json() : Buffer.from(await response.arrayBuffer());
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rate = (bytes: number, ms: number) => `${(bytes / MIB / (ms / 1000)).toFixed(0)} MiB/s`;

async function main(): Promise<void> {
  process.umask(PRIVATE_UMASK);
  const dataDir = await mkdtemp(join(tmpdir(), 'sleds-demo-'));
  const started = performance.now();
  const cloud = await startLocalCloud({ port: 0, dataDir, sledCount: 16, emulatorThreads: true });
  const base = cloud.apiUrl;
  cloud.runner.warm();
  try {
    console.log(`Sleds demo on the embedded cloud (${base}, 16 sleds, data in ${dataDir})\n`);
    const volume = await api(base, 'POST', '/volumes', { sizeBytes: SIZE, name: 'demo source' });
    console.log(`1. created ${volume.volumeId}: ${formatSize(SIZE)}, ${volume.partitionCount} partitions of ${formatSize(volume.chunkSizeBytes * volume.partitionChunks)}`);

    const offsets = Array.from({ length: Math.ceil(SIZE / IO) }, (_, i) => i * IO);
    const writeBar = new ProgressBar({ stream: process.stderr, total: SIZE, enabled: process.stderr.isTTY === true, label: 'write' });
    const writeStart = performance.now();
    await mapLimit(offsets, CONCURRENCY, async (offset) => {
      const length = Math.min(IO, SIZE - offset);
      await api(base, 'PUT', `/volumes/${volume.volumeId}/data?offset=${offset}`, undefined, patternAt(offset, length));
      writeBar.advance(length);
    });
    writeBar.finish();
    const writeMs = performance.now() - writeStart;
    console.log(`   wrote the pattern in ${seconds(writeMs)} (${rate(SIZE, writeMs)}), every write acknowledged by both head-node replicas`);

    const snapStart = performance.now();
    let snapshot = await api(base, 'POST', `/volumes/${volume.volumeId}/snapshots`);
    while (snapshot.state !== 'completed') {
      await new Promise((resolve) => setTimeout(resolve, 100));
      snapshot = await api(base, 'GET', `/snapshots/${snapshot.snapshotId}`);
    }
    console.log(`2. snapshot ${snapshot.snapshotId}: ${snapshot.progress.partitionsTotal} partitions spread over the sleds in ${seconds(performance.now() - snapStart)}`);

    const copyStart = performance.now();
    const job = await api(base, 'POST', `/snapshots/${snapshot.snapshotId}/copies`, { count: COUNT, maxSourceFanout: FANOUT });
    console.log(`3. copy job ${job.jobId}: ${COUNT} volumes, at most ${FANOUT} concurrent reads per source copy`);
    console.log(`   execution ${job.executionArn}`);
    // Usable at once: read the first and the last copy's first MiB right away, while they hydrate.
    const firstReadStart = performance.now();
    const firstLength = Math.min(IO, SIZE);
    for (const volumeId of [job.volumeIds[0], job.volumeIds[COUNT - 1]] as string[]) {
      const bytes: Buffer = await api(base, 'GET', `/volumes/${volumeId}/data?offset=0&length=${firstLength}`);
      if (!bytes.equals(patternAt(0, firstLength))) throw new Error(`${volumeId} read ${formatSize(firstLength)} that differ from the source while it hydrates`);
    }
    const firstReadMs = performance.now() - firstReadStart;
    const hydrating = await api(base, 'GET', `/volumes/${job.volumeIds[0]}`);
    console.log(
      `   usable at once: read ${formatSize(firstLength)} of copy 1 and of copy ${COUNT} ${seconds(performance.now() - copyStart)} after the request ` +
        `(the reads took ${seconds(firstReadMs)}; the copy is ${hydrating.state}, reading through to the snapshot)`,
    );
    let status = await api(base, 'GET', `/copy-jobs/${job.jobId}`);
    const copyBar = new ProgressBar({ stream: process.stderr, total: 1, enabled: process.stderr.isTTY === true, label: 'copy' });
    while (status.state === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = await api(base, 'GET', `/copy-jobs/${job.jobId}`);
      if (status.progress.bytesTotal > 0) copyBar.update(status.progress.bytesCopied / status.progress.bytesTotal);
    }
    copyBar.finish();
    const copyMs = performance.now() - copyStart;
    if (status.state !== 'succeeded') throw new Error(`the copy job ${status.state}: ${status.error}`);
    const copiedBytes = status.progress.bytesCopied;
    console.log(`   fan-out plan (${status.progress.roundsPlanned} levels, ${status.progress.intermediariesCreated} intermediaries, all removed):`);
    for (const line of String(status.plan ?? '').split('\n')) console.log(`     ${line}`);
    console.log(
      `   copied ${formatSize(copiedBytes)} (${status.progress.chunksCopied} chunks, server-side) in ${seconds(copyMs)}: ${rate(copiedBytes, copyMs)}; ` +
        `${rate(COUNT * SIZE, copyMs)} of finished volumes`,
    );

    const verifyStart = performance.now();
    const verifyBar = new ProgressBar({ stream: process.stderr, total: COUNT * SIZE, enabled: process.stderr.isTTY === true, label: 'verify' });
    let mismatches = 0;
    await mapLimit(job.volumeIds as string[], 4, async (volumeId) => {
      const shown = await api(base, 'GET', `/volumes/${volumeId}`);
      if (shown.state !== 'available') throw new Error(`${volumeId} is ${shown.state}`);
      for (const offset of offsets) {
        const length = Math.min(IO, SIZE - offset);
        const bytes: Buffer = await api(base, 'GET', `/volumes/${volumeId}/data?offset=${offset}&length=${length}`);
        if (!bytes.equals(patternAt(offset, length))) mismatches++;
        verifyBar.advance(length);
      }
    });
    verifyBar.finish();
    const verifyMs = performance.now() - verifyStart;
    if (mismatches > 0) throw new Error(`${mismatches} ranges of the copies differ from the source`);
    console.log(`4. read back all ${COUNT} copies (${formatSize(COUNT * SIZE)}) byte for byte in ${seconds(verifyMs)} (${rate(COUNT * SIZE, verifyMs)}): identical`);
    console.log(`\ndone in ${seconds(performance.now() - started)}`);
  } finally {
    await cloud.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error('demo failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
