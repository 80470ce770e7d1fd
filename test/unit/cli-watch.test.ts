import { describe, expect, it } from 'vitest';
import type { CopyJobStatus } from '../../lib/copy-jobs/copy-job.js';
import type { Snapshot } from '../../lib/snapshots/snapshot.js';
import { ApiError } from '../../lib/cli/api-errors.js';
import { ProgressBar } from '../../lib/cli/progress.js';
import { CopyJobFailedError, SnapshotFailedError, waitForSnapshot, watchCopyJob, type WatchOptions } from '../../lib/cli/watch.js';
import { MIB } from '../../lib/units/sizes.js';

/** Answers with each value in turn (an Error is thrown), repeating the last one. */
function script<T>(answers: Array<T | Error>): () => Promise<T> {
  let next = 0;
  return async () => {
    const answer = answers[Math.min(next++, answers.length - 1)] as T | Error;
    if (answer instanceof Error) throw answer;
    return answer;
  };
}

const setup = () => {
  const writes: string[] = [];
  const sleeps: number[] = [];
  const bar = new ProgressBar({ stream: { write: (text) => void writes.push(String(text)), columns: 140 }, total: 0, enabled: true, label: 'copy', minIntervalMs: 0 });
  const options: WatchOptions = {
    sleep: async (ms) => void sleeps.push(ms),
    retry: { sleep: async () => undefined, random: () => 0 },
  };
  // Each frame as it was drawn, without the carriage return and the padding over the last one.
  const frames = () => writes.filter((w) => w !== '\n').map((w) => w.replace('\r', '').trimEnd());
  return { bar, writes, sleeps, options, frames };
};

const job = (state: CopyJobStatus['state'], progress: Partial<CopyJobStatus['progress']>, extra: Partial<CopyJobStatus> = {}): CopyJobStatus => ({
  jobId: 'copy-0123456789abcdef0',
  snapshotId: 'snap-0123456789abcdef0',
  volumeIds: ['vol-00000000000000000', 'vol-00000000000000001', 'vol-00000000000000002'],
  maxSourceFanout: 2,
  mode: 'pipelined',
  state,
  executionArn: 'arn:x',
  progress: {
    roundsPlanned: 0,
    roundsDone: 0,
    intermediariesCreated: 0,
    intermediariesRemoved: 0,
    chunksCopied: 0,
    chunksTotal: 0,
    bytesCopied: 0,
    bytesTotal: 0,
    targetsVerified: 0,
    ...progress,
  },
  createdAt: '2025-06-01T12:00:00.000Z',
  percent: 0,
  throughputBytesPerSecond: 0,
  etaSeconds: null,
  ...extra,
});

const planned = { roundsPlanned: 2, intermediariesCreated: 2, chunksTotal: 80, bytesTotal: 5 * MIB };
const copying = { startedCopyingAt: '2025-06-01T12:00:01.000Z', throughputBytesPerSecond: 2 * MIB };

describe('watchCopyJob', () => {
  it('waits for the plan, draws bytes, rounds and clean-up, and returns the finished job', async () => {
    const { bar, writes, sleeps, options, frames } = setup();
    const finished = job('succeeded', { ...planned, roundsDone: 2, intermediariesRemoved: 2, chunksCopied: 80, bytesCopied: 5 * MIB, targetsVerified: 3 }, copying);
    const getCopyJob = script<CopyJobStatus>([
      job('running', {}),
      job('running', planned),
      job('running', { ...planned, roundsDone: 1, chunksCopied: 32, bytesCopied: 2 * MIB }, { ...copying, etaSeconds: 1.5 }),
      // A lost answer in the middle costs a retry, not the watch.
      new ApiError('BackendUnavailable', 503, 'retry later'),
      job('running', { ...planned, roundsDone: 2, chunksCopied: 80, bytesCopied: 5 * MIB, targetsVerified: 1 }, copying),
      finished,
    ]);
    const result = await watchCopyJob({ getCopyJob }, 'copy-0123456789abcdef0', bar, options);
    expect(result).toEqual(finished);
    expect(sleeps).toEqual([250, 250, 250, 250]);
    expect(frames()).toEqual([
      'copy  planning 3 volumes',
      // Planned, nothing copied yet: no rate to show, and no ETA.
      expect.stringMatching(/^copy {3}0% \[-+\] +0 B \/ 5 MiB {3}-- MiB\/s {2}ETA -- +round 1\/2, 2 intermediaries$/),
      expect.stringMatching(/^copy {2}40% \[#+-+\] +2 MiB \/ 5 MiB {2}2\.0 MiB\/s {2}ETA 2s +round 2\/2, 2 intermediaries$/),
      expect.stringMatching(/^copy 100% \[#+\] +5 MiB \/ 5 MiB {2}2\.0 MiB\/s {2}ETA 0s +verifying targets 1\/3$/),
      expect.stringMatching(/^copy 100% \[#+\] .* done, 3 targets verified, 2 intermediaries removed$/),
      // finish() draws the last frame again before it ends the line.
      expect.stringMatching(/done, 3 targets verified, 2 intermediaries removed$/),
    ]);
    expect(writes.at(-1)).toBe('\n');
  });

  it('returns a failed job without drawing a final frame; the caller turns it into exit status 1', async () => {
    const { bar, writes, options } = setup();
    const failed = job('failed', planned, { ...copying, error: 'Sleds.ChecksumMismatch: chunk 3', etaSeconds: 0 });
    const result = await watchCopyJob({ getCopyJob: script([job('running', {}), failed]) }, failed.jobId, bar, options);
    expect(result.state).toBe('failed');
    expect(writes.at(-2)).toMatch(/^\rcopy {3}0% \[-+\] +0 B \/ 5 MiB {2}2\.0 MiB\/s {2}ETA -- +failed$/);
    expect(writes.at(-1)).toBe('\n');
    const error = new CopyJobFailedError(result);
    expect(error).toMatchObject({ code: 'CopyJobFailed', message: 'Copy job copy-0123456789abcdef0 failed: Sleds.ChecksumMismatch: chunk 3' });
  });

  it('ends the bar line and throws when the API keeps failing or says no', async () => {
    const { bar, writes, options } = setup();
    const down = script<CopyJobStatus>([job('running', {}), new ApiError('BackendUnavailable', 503, 'down')]);
    await expect(watchCopyJob({ getCopyJob: down }, 'copy-0123456789abcdef0', bar, options)).rejects.toThrow('down');
    expect(writes.at(-1)).toBe('\n');

    const missing = setup();
    const notFound = script<CopyJobStatus>([new ApiError('CopyJobNotFound', 404, 'Copy job copy-0123456789abcdef0 does not exist.')]);
    await expect(watchCopyJob({ getCopyJob: notFound }, 'copy-0123456789abcdef0', missing.bar, missing.options)).rejects.toMatchObject({
      code: 'CopyJobNotFound',
    });
    expect(missing.writes).toEqual([]);
  });
});

describe('waitForSnapshot', () => {
  const snapshot = (state: Snapshot['state'], partitionsDone: number): Snapshot => ({
    snapshotId: 'snap-0123456789abcdef0',
    volumeId: 'vol-0123456789abcdef0',
    state,
    sizeBytes: 4 * MIB,
    chunkSizeBytes: MIB,
    partitionChunks: 1,
    partitionCount: 4,
    ops: { '0': 1, '1': 1, '2': 1, '3': 1 },
    sleds: { '0': 0, '1': 1, '2': 2, '3': 3 },
    progress: { partitionsDone, partitionsTotal: 4, chunksStored: partitionsDone, bytesStored: partitionsDone * MIB },
    createdAt: '2025-06-01T12:00:00.000Z',
  });

  it('counts partitions until the snapshot is completed', async () => {
    const { options } = setup();
    const writes: string[] = [];
    const bar = new ProgressBar({ stream: { write: (t) => void writes.push(String(t)), columns: 100 }, total: 4, enabled: true, label: 'snapshot', unit: 'partitions', minIntervalMs: 0 });
    const getSnapshot = script([snapshot('creating', 2), snapshot('completed', 4)]);
    const result = await waitForSnapshot({ getSnapshot }, snapshot('creating', 0), bar, options);
    expect(result.state).toBe('completed');
    const frames = writes.filter((w) => w !== '\n').map((w) => w.replace('\r', '').trimEnd());
    expect(frames[0]).toMatch(/^snapshot {3}0% \[-+\] {2}0\/4 partitions {2}ETA -- +0 chunks, 0 B stored$/);
    expect(frames[1]).toMatch(/^snapshot {2}50% \[#+-+\] {2}2\/4 partitions .* 2 chunks, 2 MiB stored$/);
    expect(frames.at(-1)).toMatch(/^snapshot 100% \[#+\] {2}4\/4 partitions {2}ETA 0s +4 chunks, 4 MiB stored$/);
    expect(writes.at(-1)).toBe('\n');
  });

  it('returns a failed snapshot for the caller to report', async () => {
    const { bar, options } = setup();
    const result = await waitForSnapshot({ getSnapshot: script([snapshot('failed', 1)]) }, snapshot('creating', 0), bar, options);
    expect(result.state).toBe('failed');
    expect(new SnapshotFailedError(result).message).toBe(
      'Snapshot snap-0123456789abcdef0 of vol-0123456789abcdef0 failed after storing 1 of 4 partitions; take a new one.',
    );
  });

  it('asks nothing when the snapshot is already completed', async () => {
    const { bar, sleeps, options } = setup();
    let asked = 0;
    const getSnapshot = async () => {
      asked++;
      return snapshot('completed', 4);
    };
    expect((await waitForSnapshot({ getSnapshot }, snapshot('completed', 4), bar, options)).state).toBe('completed');
    expect(asked).toBe(0);
    expect(sleeps).toEqual([]);
  });
});
