import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HydrationReads } from '../../lib/copy-jobs/hydration-reads.js';
import type { CopyJob } from '../../lib/copy-jobs/copy-job.js';
import type { CopyPlan } from '../../lib/copy-jobs/copy-plan.js';
import type { ChunkRef } from '../../lib/notes/ports.js';
import { sha256Hex } from '../../lib/shared/hashing.js';
import type { ChunkLocation } from '../../lib/sleds/ports.js';
import { snapshotChunkKey } from '../../lib/snapshots/snapshot.js';
import type { Volume } from '../../lib/volumes/volume.js';
import { FakeChunkStore } from '../support/fakes/in-memory-stores.js';

/** A chunk store that answers HeadObject with the SHA-256 of what it holds, and counts the asks. */
class CheckedChunkStore extends FakeChunkStore {
  heads = 0;
  checksum(at: ChunkLocation): Promise<string | undefined> {
    this.heads++;
    const bytes = this.objects.get(`${at.sled}/${at.key}`);
    return Promise.resolve(bytes && sha256Hex(bytes));
  }
}

const SNAPSHOT = 'snap-0123456789abcdef0';
const JOB = 'copy-0123456789abcdef0';
const VOLUME = 'vol-0123456789abcdef0';
const bytes = (seed: number) => Buffer.alloc(64, seed);
// Target 0's copy of partition 0 lives on sled 2; chunks 4 then 7, in that order.
const PLAN = {
  mode: 'pipelined',
  rounds: 1,
  tasks: [{ id: 'p0-t0', partition: 0, chunks: [4, 7], from: { kind: 'snapshot', sled: 1 }, to: { kind: 'target', target: 0, sled: 2 }, round: 1, depth: 1 }],
  intermediaries: [],
  targetSleds: [[2]],
  fanoutTree: '',
} as unknown as CopyPlan;
const own = (chunk: number) => ({ sled: 2, key: `volumes/${VOLUME}/chunks/0/${chunk}-${JOB}` });
const borrowed = (chunk: number): ChunkRef => ({ sled: 1, key: snapshotChunkKey(SNAPSHOT, 0, chunk), sha256: sha256Hex(bytes(chunk)) });

describe('HydrationReads: which object serves a borrowed chunk', () => {
  let chunks: CheckedChunkStore;
  let job: CopyJob;
  let reads: HydrationReads;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    chunks = new CheckedChunkStore();
    for (const chunk of [4, 7]) await chunks.put(borrowed(chunk), bytes(chunk));
    job = { jobId: JOB, snapshotId: SNAPSHOT, volumeIds: [VOLUME], state: 'running', plan: 'tree', taskChunksDone: { 'p0-t0': 0 } } as unknown as CopyJob;
    const volume = { volumeId: VOLUME, source: { snapshotId: SNAPSHOT, jobId: JOB } } as Volume;
    reads = new HydrationReads({
      volumes: { get: async (id) => (id === VOLUME ? volume : undefined) },
      jobs: { get: async () => job },
      plans: { get: async () => PLAN },
      chunks: { read: (at, start, length) => chunks.read(at, start, length), sha256: (at) => chunks.checksum(at) },
    });
  });
  afterEach(() => vi.useRealTimers());

  const read = (chunk: number) => reads.read(VOLUME, 0, borrowed(chunk), 0, 64);
  const servedBy = () => chunks.reads.at(-1)!.key;
  /** The job's progress as a later read sees it (it is read again after a second). */
  const progress = (fields: Partial<CopyJob>) => {
    job = { ...job, ...fields };
    vi.advanceTimersByTime(1001);
  };

  it('asks nothing about a chunk the job has not counted, and reads the snapshot', async () => {
    await chunks.put(own(4), bytes(4)); // on the sled, but not counted yet
    expect((await read(4)).equals(bytes(4))).toBe(true);
    expect([servedBy(), chunks.heads]).toEqual([borrowed(4).key, 0]);
  });

  it('reads a counted copy with the snapshot SHA-256 from the target, checking it once', async () => {
    await chunks.put(own(4), bytes(4));
    progress({ taskChunksDone: { 'p0-t0': 1 } });
    expect((await read(4)).equals(bytes(4))).toBe(true);
    expect([servedBy(), chunks.heads]).toEqual([own(4).key, 1]);
    expect((await read(4)).equals(bytes(4))).toBe(true);
    expect([servedBy(), chunks.heads]).toEqual([own(4).key, 1]);
    // Chunk 7 comes after 4 in the task: not counted yet, not asked about.
    await read(7);
    expect([servedBy(), chunks.heads]).toEqual([borrowed(7).key, 1]);
  });

  it('never serves a copy whose SHA-256 is not the snapshot one', async () => {
    await chunks.put(own(4), bytes(99));
    progress({ taskChunksDone: { 'p0-t0': 2 } });
    expect((await read(4)).equals(bytes(4))).toBe(true);
    expect(servedBy()).toBe(borrowed(4).key);
  });

  it('falls back to the snapshot when a verified copy is gone, and asks no more once the job has ended', async () => {
    await chunks.put(own(4), bytes(4));
    progress({ taskChunksDone: { 'p0-t0': 1 } });
    await read(4);
    expect(servedBy()).toBe(own(4).key);
    // The job fails; its catch removes the copy.
    await chunks.remove(own(4));
    progress({ state: 'failed' });
    expect((await read(4)).equals(bytes(4))).toBe(true);
    expect(servedBy()).toBe(borrowed(4).key);
    vi.advanceTimersByTime(5000);
    const heads = chunks.heads;
    expect((await read(4)).equals(bytes(4))).toBe(true);
    expect([servedBy(), chunks.heads]).toEqual([borrowed(4).key, heads]);
  });

  it('leaves a ref that is not this snapshot chunk alone', async () => {
    progress({ taskChunksDone: { 'p0-t0': 2 } });
    const other: ChunkRef = { sled: 1, key: snapshotChunkKey('snap-fffffffffffffffff', 0, 4), sha256: borrowed(4).sha256 };
    await chunks.put(other, bytes(4));
    await chunks.put(own(4), bytes(4));
    await reads.read(VOLUME, 0, other, 0, 64);
    expect([servedBy(), chunks.heads]).toEqual([other.key, 0]);
  });
});
