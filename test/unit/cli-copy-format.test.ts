import { describe, expect, it } from 'vitest';
import type { CopyJobStatus } from '../../lib/copy-jobs/copy-job.js';
import type { Snapshot } from '../../lib/snapshots/snapshot.js';
import {
  copyJobStatusText,
  formatCopyJobDetails,
  formatCopyJobEvents,
  formatCopyStarted,
  formatCopySummary,
  formatIdList,
  formatOffset,
  formatSnapshotDetails,
  isPlanned,
  parseClientTokenArgument,
  parseCopyCountArgument,
  parseCopyModeArgument,
  parseFanoutArgument,
  snapshotStatusText,
} from '../../lib/cli/copy-format.js';
import { UsageError, parseJobIdArgument, parseSnapshotIdArgument } from '../../lib/cli/format.js';
import { GIB, KIB, MIB } from '../../lib/units/sizes.js';

const ids = (count: number) => Array.from({ length: count }, (_, i) => `vol-${i.toString(16).padStart(17, '0')}`);

const snapshot = (overrides: Partial<Snapshot> = {}): Snapshot => ({
  snapshotId: 'snap-0123456789abcdef0',
  volumeId: 'vol-0123456789abcdef0',
  state: 'completed',
  sizeBytes: MIB,
  chunkSizeBytes: 64 * KIB,
  partitionChunks: 4,
  partitionCount: 4,
  ops: { '0': 1, '1': 1, '3': 2 },
  sleds: { '0': 2, '1': 3, '3': 0 },
  progress: { partitionsDone: 3, partitionsTotal: 3, chunksStored: 12, bytesStored: 768 * KIB },
  createdAt: '2025-06-01T12:00:00.000Z',
  completedAt: '2025-06-01T12:00:00.600Z',
  ...overrides,
});

type Progress = CopyJobStatus['progress'];
const job = (overrides: Partial<Omit<CopyJobStatus, 'progress'>> = {}, progress: Partial<Progress> = {}): CopyJobStatus => ({
  jobId: 'copy-0123456789abcdef0',
  snapshotId: 'snap-0123456789abcdef0',
  volumeIds: ids(32),
  maxSourceFanout: 4,
  mode: 'pipelined',
  state: 'running',
  executionArn: 'arn:aws:states:us-east-1:000000000000:execution:sleds-copy-job:copy-0123456789abcdef0',
  progress: {
    roundsPlanned: 3,
    roundsDone: 1,
    intermediariesCreated: 12,
    intermediariesRemoved: 0,
    chunksCopied: 400,
    chunksTotal: 704,
    bytesCopied: 400 * MIB,
    bytesTotal: 704 * MIB,
    targetsVerified: 0,
    ...progress,
  },
  createdAt: '2025-06-01T12:00:00.000Z',
  startedCopyingAt: '2025-06-01T12:00:01.000Z',
  percent: 56.8,
  throughputBytesPerSecond: 200 * MIB,
  etaSeconds: 1.5,
  ...overrides,
});

const unplanned = () =>
  job(
    { startedCopyingAt: undefined, percent: 0, throughputBytesPerSecond: 0, etaSeconds: null },
    { roundsPlanned: 0, roundsDone: 0, intermediariesCreated: 0, chunksCopied: 0, chunksTotal: 0, bytesCopied: 0, bytesTotal: 0 },
  );

const succeeded = (overrides: Partial<Omit<CopyJobStatus, 'progress'>> = {}, progress: Partial<Progress> = {}) =>
  job(
    { state: 'succeeded', finishedAt: '2025-06-01T12:00:04.200Z', percent: 100, etaSeconds: 0, plan: 'pipelined copy plan: ...\n  depth 1: ...\n', ...overrides },
    { roundsDone: 3, intermediariesRemoved: 12, chunksCopied: 704, bytesCopied: 704 * MIB, targetsVerified: 32, ...progress },
  );

describe('copy option parsers', () => {
  it('reads counts, fan-outs, modes and client tokens', () => {
    expect(parseCopyCountArgument('64')).toBe(64);
    expect(parseCopyCountArgument('1000')).toBe(1000);
    expect(parseFanoutArgument('1')).toBe(1);
    expect(parseFanoutArgument('64')).toBe(64);
    expect(parseCopyModeArgument('rounds')).toBe('rounds');
    expect(parseCopyModeArgument(' direct ')).toBe('direct');
    expect(parseCopyModeArgument('swarm')).toBe('swarm');
    expect(parseClientTokenArgument('deploy-42:a_b.c')).toBe('deploy-42:a_b.c');
  });

  it('refuses what the API would refuse, as usage errors that name the flag', () => {
    expect(() => parseCopyCountArgument('0')).toThrow(UsageError);
    expect(() => parseCopyCountArgument('0')).toThrow(/invalid --count: "0" is not a whole number of at least 1/);
    expect(() => parseCopyCountArgument('1001')).toThrow(/invalid --count: 1001 is more than 1000/);
    expect(() => parseFanoutArgument('65')).toThrow(/invalid --max-source-fanout: 65 is more than 64/);
    expect(() => parseFanoutArgument('0')).toThrow(/invalid --max-source-fanout/);
    expect(() => parseCopyModeArgument('fast')).toThrow(/invalid --mode: "fast"; use pipelined, swarm, rounds, direct/);
    expect(() => parseClientTokenArgument('a b')).toThrow(/invalid --client-token/);
    expect(() => parseClientTokenArgument('x'.repeat(65))).toThrow(/invalid --client-token/);
  });

  it('checks snapshot and job ids locally', () => {
    expect(parseSnapshotIdArgument(' snap-0123456789abcdef0 ')).toBe('snap-0123456789abcdef0');
    expect(parseJobIdArgument('copy-0123456789abcdef0')).toBe('copy-0123456789abcdef0');
    expect(() => parseSnapshotIdArgument('vol-0123456789abcdef0')).toThrow(/is not a snapshot id; ids look like snap-/);
    expect(() => parseJobIdArgument('copy-123')).toThrow(/is not a copy job id; ids look like copy-/);
  });
});

describe('formatIdList', () => {
  it('lists a few ids, then says how many more', () => {
    expect(formatIdList([])).toBe('-');
    expect(formatIdList(['a', 'b'])).toBe('a, b');
    expect(formatIdList(['a', 'b', 'c', 'd', 'e'])).toBe('a, b, c and 2 more');
    expect(formatIdList(['a', 'b', 'c', 'd'], 4)).toBe('a, b, c, d');
  });
});

describe('snapshots', () => {
  it('shows what is stored, and how long it took', () => {
    expect(formatSnapshotDetails(snapshot())).toBe(
      [
        'Snapshot ID  snap-0123456789abcdef0',
        'Volume ID    vol-0123456789abcdef0',
        'State        completed',
        'Size         1 MiB (1048576 bytes)',
        'Chunk size   64 KiB',
        'Partitions   4 of 4 chunks (256 KiB each), 3 with data',
        'Stored       3 of 3 partitions, 12 chunks, 768 KiB',
        'Created      2025-06-01 12:00:00Z',
        'Completed    2025-06-01 12:00:00Z (took 0.6 s)',
      ].join('\n'),
    );
  });

  it('has no completion line while it is being stored', () => {
    const creating = snapshot({ state: 'creating', completedAt: undefined, progress: { partitionsDone: 1, partitionsTotal: 3, chunksStored: 4, bytesStored: 256 * KIB } });
    expect(formatSnapshotDetails(creating)).not.toMatch(/Completed/);
    expect(formatSnapshotDetails(creating)).toMatch(/^Stored {7}1 of 3 partitions, 4 chunks, 256 KiB$/m);
    expect(snapshotStatusText(creating)).toBe('4 chunks, 256 KiB stored');
  });
});

describe('copyJobStatusText', () => {
  it('follows the job from planning through the rounds to clean-up', () => {
    expect(isPlanned(unplanned())).toBe(false);
    expect(copyJobStatusText(unplanned())).toBe('planning 32 volumes');
    expect(isPlanned(job())).toBe(true);
    expect(copyJobStatusText(job())).toBe('round 2/3, 12 intermediaries');
    // roundsDone reaches roundsPlanned just before the last bytes are counted.
    expect(copyJobStatusText(job({}, { roundsDone: 3 }))).toBe('round 3/3, 12 intermediaries');
    expect(copyJobStatusText(job({ mode: 'direct' }, { roundsPlanned: 1, roundsDone: 0, intermediariesCreated: 0 }))).toBe(
      'round 1/1, 0 intermediaries',
    );
    const copied = { roundsDone: 3, chunksCopied: 704, bytesCopied: 704 * MIB };
    expect(copyJobStatusText(job({}, { ...copied, targetsVerified: 5 }))).toBe('verifying targets 5/32');
    expect(copyJobStatusText(job({}, { ...copied, targetsVerified: 32, intermediariesRemoved: 4 }))).toBe('removing intermediaries 4/12');
    expect(copyJobStatusText(succeeded())).toBe('done, 32 targets verified, 12 intermediaries removed');
    expect(copyJobStatusText(job({ state: 'failed' }))).toBe('failed');
  });

  it('calls a swarm by its slots, with no rounds or intermediaries to count', () => {
    const swarm = job({ mode: 'swarm' }, { roundsPlanned: 21, roundsDone: 0, intermediariesCreated: 0 });
    expect(copyJobStatusText(swarm)).toBe('swarm of 21 slots');
    const done = succeeded({ mode: 'swarm' }, { roundsPlanned: 21, intermediariesCreated: 0, intermediariesRemoved: 0 });
    expect(formatCopySummary(done, 32 * MIB)).toBe('copied 32 volumes (1 GiB) in 4.2 s, 21 slots, no intermediaries');
  });

  it('counts a failed job as planned even if it failed before the plan', () => {
    expect(isPlanned({ ...unplanned(), state: 'failed' })).toBe(true);
  });
});

describe('formatCopySummary', () => {
  it('says how many volumes, how much data, how long, how many rounds and intermediaries', () => {
    // 32 targets of a 32 MiB snapshot: 1 GiB, whatever the intermediaries added.
    expect(formatCopySummary(succeeded(), 32 * MIB)).toBe(
      'copied 32 volumes (1 GiB) in 4.2 s, 3 rounds, 12 intermediaries created and removed',
    );
    // Without the snapshot's size it counts every byte copied.
    expect(formatCopySummary(succeeded())).toBe('copied 32 volumes (704 MiB) in 4.2 s, 3 rounds, 12 intermediaries created and removed');
  });

  it('says when intermediaries were not needed, or not all removed', () => {
    const direct = succeeded({ mode: 'direct', volumeIds: ids(1) }, { roundsPlanned: 1, intermediariesCreated: 0, intermediariesRemoved: 0 });
    expect(formatCopySummary(direct, GIB)).toBe('copied 1 volume (1 GiB) in 4.2 s, 1 round, no intermediaries');
    expect(formatCopySummary(succeeded({}, { intermediariesRemoved: 11 }), MIB)).toMatch(/, 12 intermediaries created, 11 removed$/);
    expect(formatCopySummary(succeeded({}, { intermediariesCreated: 1, intermediariesRemoved: 1 }), MIB)).toMatch(
      /, 1 intermediary created and removed$/,
    );
  });

  it('leaves the time out when the job has no finish time', () => {
    expect(formatCopySummary(succeeded({ finishedAt: undefined }), MIB)).toBe(
      'copied 32 volumes (32 MiB), 3 rounds, 12 intermediaries created and removed',
    );
  });
});

describe('formatCopyStarted', () => {
  const started = (count: number) => ({ jobId: 'copy-0123456789abcdef0', volumeIds: ids(count), executionArn: 'arn:x' });

  it('names the job and lists the new volumes', () => {
    expect(formatCopyStarted(started(2), 'snap-0123456789abcdef0')).toBe(
      [
        'Started copy job copy-0123456789abcdef0: 2 volumes from snap-0123456789abcdef0',
        '  vol-00000000000000000',
        '  vol-00000000000000001',
      ].join('\n'),
    );
  });

  it('keeps a large job short', () => {
    const lines = formatCopyStarted(started(64), 'snap-0123456789abcdef0').split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toMatch(/: 64 volumes from /);
    expect(lines.at(-1)).toBe('  ... and 54 more (--json lists them all)');
  });
});

describe('formatCopyJobDetails', () => {
  it('shows a running job with its progress, rate and ETA', () => {
    const text = formatCopyJobDetails(job());
    expect(text).toMatch(/^Job ID {11}copy-0123456789abcdef0$/m);
    expect(text).toMatch(/^State {12}running \(round 2\/3, 12 intermediaries\)$/m);
    expect(text).toMatch(/^Mode {13}pipelined, at most 4 concurrent reads per source copy$/m);
    expect(text).toMatch(/^Volumes {10}32: vol-00000000000000000, vol-00000000000000001, vol-00000000000000002 and 29 more$/m);
    expect(text).toMatch(/^Progress {9}56\.8%, 400 MiB of 704 MiB \(400 of 704 chunks\)$/m);
    expect(text).toMatch(/^Rounds {11}1 of 3 done$/m);
    expect(text).toMatch(/^Throughput {7}200 MiB\/s$/m);
    expect(text).toMatch(/^ETA {14}2s$/m);
    expect(text).not.toMatch(/^Finished/m);
    expect(text.endsWith('\n\n(no plan yet)')).toBe(true);
  });

  it('says a job is not planned yet, and an unknown ETA is --', () => {
    const text = formatCopyJobDetails(unplanned());
    expect(text).toMatch(/^Progress +not planned yet$/m);
    expect(text).toMatch(/^ETA +--$/m);
    expect(text).not.toMatch(/^Throughput/m);
  });

  it('shows a finished job with how long it took, then the plan', () => {
    const text = formatCopyJobDetails(succeeded());
    expect(text).toMatch(/^State +succeeded$/m);
    expect(text).toMatch(/^Finished +2025-06-01 12:00:04Z \(took 4\.2 s\)$/m);
    expect(text).not.toMatch(/^ETA/m);
    expect(text.endsWith('\n\npipelined copy plan: ...\n  depth 1: ...')).toBe(true);
  });

  it('shows the error of a failed job', () => {
    const text = formatCopyJobDetails(job({ state: 'failed', error: 'Sleds.ChecksumMismatch: chunk 3 of partition 1', finishedAt: '2025-06-01T12:00:02.000Z' }));
    expect(text).toMatch(/^State +failed$/m);
    expect(text).toMatch(/^Error +Sleds\.ChecksumMismatch: chunk 3 of partition 1$/m);
  });
});

describe('formatCopyJobEvents', () => {
  it('times events from the earliest, in the order the API lists them', () => {
    expect(formatOffset(0)).toBe('+0.000s');
    expect(formatOffset(1234.4)).toBe('+1.234s');
    const table = formatCopyJobEvents([
      { timestamp: '2025-06-01T12:00:00.000Z', type: 'ExecutionStarted' },
      { timestamp: '2025-06-01T12:00:00.090Z', type: 'StateEntered', state: 'Plan the copy job' },
      { timestamp: '2025-06-01T12:00:00.300Z', type: 'MapIterationStarted', state: 'Copy the partition batches', index: 11 },
      // A parallel branch logged after a later event: never a negative offset.
      { timestamp: '2025-06-01T12:00:00.250Z', type: 'StateEntered', state: 'Copy a partition batch', index: 0 },
      { timestamp: '2025-06-01T12:00:12.500Z', type: 'ExecutionSucceeded' },
    ]);
    expect(table).toBe(
      [
        '    TIME  TYPE                 STATE                       INDEX',
        ' +0.000s  ExecutionStarted     -                               -',
        ' +0.090s  StateEntered         Plan the copy job               -',
        ' +0.300s  MapIterationStarted  Copy the partition batches     11',
        ' +0.250s  StateEntered         Copy a partition batch          0',
        '+12.500s  ExecutionSucceeded   -                               -',
      ].join('\n'),
    );
  });

  it('adds a detail column when an event carries an error', () => {
    const table = formatCopyJobEvents([
      { timestamp: '2025-06-01T12:00:00.000Z', type: 'StateEntered', state: 'Copy a partition batch' },
      { timestamp: '2025-06-01T12:00:00.500Z', type: 'StateRetried', state: 'Copy a partition batch', error: 'Sleds.Transient', cause: 'sled throttled' },
    ]);
    const [header, first, second] = table.split('\n');
    expect(header).toMatch(/ {2}DETAIL$/);
    expect(first).toMatch(/ {2}-$/);
    expect(second).toMatch(/^\+0\.500s {2}StateRetried {2}Copy a partition batch {6}- {2}Sleds\.Transient: sled throttled$/);
  });
});
