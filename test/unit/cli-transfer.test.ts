import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ApiError, ApiUnreachableError } from '../../lib/cli/api-errors.js';
import {
  parseConcurrencyArgument,
  parseRequestSizeArgument,
  progressEnabled,
} from '../../lib/cli/data-commands.js';
import { UsageError, formatPartitionStatus, parseOffsetArgument } from '../../lib/cli/format.js';
import {
  BLOCK_SIZE,
  MAX_REQUEST_BYTES,
  formatTransferSummary,
  isRetryable,
  runPool,
  splitRequests,
  withRetries,
} from '../../lib/cli/transfer.js';
import { KIB, MIB } from '../../lib/units/sizes.js';

describe('splitRequests', () => {
  it('splits a range into pieces of at most the request size', () => {
    expect(splitRequests(0, 10 * MIB, 4 * MIB)).toEqual([
      { index: 0, offset: 0, length: 4 * MIB, position: 0 },
      { index: 1, offset: 4 * MIB, length: 4 * MIB, position: 4 * MIB },
      { index: 2, offset: 8 * MIB, length: 2 * MIB, position: 8 * MIB },
    ]);
  });

  it('ends pieces on multiples of the request size in the volume, not in the file', () => {
    expect(splitRequests(4 * KIB, 8 * MIB, 4 * MIB)).toEqual([
      { index: 0, offset: 4 * KIB, length: 4 * MIB - 4 * KIB, position: 0 },
      { index: 1, offset: 4 * MIB, length: 4 * MIB, position: 4 * MIB - 4 * KIB },
      { index: 2, offset: 8 * MIB, length: 4 * KIB, position: 8 * MIB - 4 * KIB },
    ]);
  });

  it('splits the integration test write: 9 MiB + 12 KiB at 4 MiB in 1 MiB requests', () => {
    const pieces = splitRequests(4 * MIB, 9 * MIB + 12 * KIB, MIB);
    expect(pieces).toHaveLength(10);
    expect(pieces.at(-1)).toEqual({ index: 9, offset: 13 * MIB, length: 12 * KIB, position: 9 * MIB });
  });

  it('returns nothing for an empty range and refuses nonsense', () => {
    expect(splitRequests(4096, 0, MIB)).toEqual([]);
    expect(() => splitRequests(0, MIB, 0)).toThrow(RangeError);
    expect(() => splitRequests(-4096, MIB, MIB)).toThrow(RangeError);
  });

  it('covers any aligned range exactly, with aligned pieces of at most the request size', () => {
    const blocks = (max: number) => fc.integer({ min: 0, max }).map((n) => n * BLOCK_SIZE);
    fc.assert(
      fc.property(blocks(1 << 20), blocks(4096), fc.integer({ min: 1, max: 1024 }), (offset, length, requestBlocks) => {
        const requestSize = requestBlocks * BLOCK_SIZE;
        const pieces = splitRequests(offset, length, requestSize);
        let cursor = offset;
        pieces.forEach((piece, index) => {
          expect(piece.index).toBe(index);
          expect(piece.offset).toBe(cursor);
          expect(piece.position).toBe(cursor - offset);
          expect(piece.length).toBeGreaterThan(0);
          expect(piece.length).toBeLessThanOrEqual(requestSize);
          expect(piece.offset % BLOCK_SIZE).toBe(0);
          expect(piece.length % BLOCK_SIZE).toBe(0);
          // No piece crosses a multiple of the request size.
          expect(Math.floor(piece.offset / requestSize)).toBe(Math.floor((piece.offset + piece.length - 1) / requestSize));
          cursor += piece.length;
        });
        expect(cursor).toBe(offset + length);
      }),
    );
  });
});

describe('transfer arguments', () => {
  it('reads offsets in human units, including 0, and insists on 4 KiB alignment', () => {
    expect(parseOffsetArgument('0', '--offset')).toBe(0);
    expect(parseOffsetArgument('4MiB', '--offset')).toBe(4 * MIB);
    expect(() => parseOffsetArgument('1000', '--offset')).toThrow(/invalid --offset: 1000 \(1000 bytes\) is not a multiple of 4096/);
    expect(() => parseOffsetArgument('lots', '--offset')).toThrow(UsageError);
  });

  it('takes request sizes that are multiples of 4 KiB up to 4 MiB', () => {
    expect(parseRequestSizeArgument('1MiB')).toBe(MIB);
    expect(parseRequestSizeArgument('4MiB')).toBe(MAX_REQUEST_BYTES);
    expect(() => parseRequestSizeArgument('5MiB')).toThrow(/more than 4 MiB, the most the API takes/);
    expect(() => parseRequestSizeArgument('6000')).toThrow(/not a multiple of 4096/);
    expect(() => parseRequestSizeArgument('0')).toThrow(UsageError);
  });

  it('takes a concurrency from 1 to 64', () => {
    expect(parseConcurrencyArgument('8')).toBe(8);
    expect(() => parseConcurrencyArgument('0')).toThrow(UsageError);
    expect(() => parseConcurrencyArgument('65')).toThrow(/more than 64/);
  });

  it('shows the bar on terminals unless told otherwise', () => {
    expect(progressEnabled(undefined, { write: () => true, isTTY: true })).toBe(true);
    expect(progressEnabled(undefined, { write: () => true })).toBe(false);
    expect(progressEnabled(true, { write: () => true })).toBe(true);
    expect(progressEnabled(false, { write: () => true, isTTY: true })).toBe(false);
  });
});

describe('withRetries', () => {
  const unavailable = () => new ApiError('BackendUnavailable', 503, 'retry later');
  const noSleep = { sleep: async () => undefined, random: () => 1 };

  it('retries 503s and network failures, then returns the first success', async () => {
    const failures = [unavailable(), new ApiUnreachableError('http://x', 'ECONNRESET')];
    const delays: number[] = [];
    const result = await withRetries(
      async (tryNumber) => {
        const failure = failures.shift();
        if (failure) throw failure;
        return tryNumber;
      },
      { ...noSleep, baseDelayMs: 100, onRetry: (_error, _attempt, delay) => delays.push(delay) },
    );
    expect(result).toBe(3);
    expect(delays).toEqual([100, 200]);
  });

  it('gives up after 5 tries with the last error', async () => {
    let calls = 0;
    const attempt = async () => {
      calls++;
      throw new ApiError('Fenced', 503, `fenced ${calls}`);
    };
    await expect(withRetries(attempt, noSleep)).rejects.toThrow('fenced 5');
    expect(calls).toBe(5);
  });

  it('does not retry what a retry cannot fix', async () => {
    let calls = 0;
    const attempt = async () => {
      calls++;
      throw new ApiError('RangeOutOfBounds', 400, 'outside');
    };
    await expect(withRetries(attempt, noSleep)).rejects.toThrow('outside');
    expect(calls).toBe(1);
  });

  it('stops retrying once told to', async () => {
    let calls = 0;
    const attempt = async () => {
      calls++;
      throw unavailable();
    };
    await expect(withRetries(attempt, { ...noSleep, stopped: () => calls >= 2 })).rejects.toThrow('retry later');
    expect(calls).toBe(2);
  });

  it('caps the backoff and jitters it', async () => {
    const delays: number[] = [];
    const attempt = async () => {
      throw unavailable();
    };
    await withRetries(attempt, {
      tries: 8,
      baseDelayMs: 1000,
      maxDelayMs: 3000,
      sleep: async () => undefined,
      random: () => 0.5,
      onRetry: (_error, _attempt, delay) => delays.push(delay),
    }).catch(() => undefined);
    expect(delays).toEqual([500, 1000, 1500, 1500, 1500, 1500, 1500]);
  });

  it('classifies errors', () => {
    expect(isRetryable(unavailable())).toBe(true);
    expect(isRetryable(new ApiError('IdempotencyInProgress', 409, 'busy'))).toBe(true);
    expect(isRetryable(new ApiError('VolumeStateConflict', 409, 'deleting'))).toBe(false);
    expect(isRetryable(new ApiError('VolumeNotFound', 404, 'gone'))).toBe(false);
    expect(isRetryable(new Error('bug'))).toBe(false);
  });
});

describe('runPool', () => {
  it('runs every task with at most `concurrency` at once', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await runPool(20, 4, async (index) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 1 + (index % 3)));
      running--;
      done.push(index);
    });
    expect(peak).toBe(4);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('starts nothing new after a failure and throws the first one', async () => {
    const started: number[] = [];
    let failures = 0;
    await expect(
      runPool(
        50,
        2,
        async (index) => {
          started.push(index);
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (index === 3) throw new Error('piece 3 failed');
        },
        () => failures++,
      ),
    ).rejects.toThrow('piece 3 failed');
    expect(failures).toBe(1);
    expect(started.length).toBeLessThanOrEqual(6);
  });
});

describe('formatTransferSummary', () => {
  it('says how much, how fast, in how many requests, on how many partitions', () => {
    expect(
      formatTransferSummary({ verb: 'wrote', bytes: 256 * MIB, elapsedMs: 3200, requests: 64, partitions: 16 }),
    ).toBe('wrote 256 MiB in 3.2 s (80 MiB/s), 64 requests, ops on 16 partitions');
    expect(formatTransferSummary({ verb: 'read', bytes: 4 * KIB, elapsedMs: 0, requests: 1, retries: 2 })).toBe(
      'read 4 KiB in 0.0 s (-- MiB/s), 1 request, 2 retries',
    );
  });
});

describe('formatPartitionStatus', () => {
  it('shows the range, epoch and both replicas', () => {
    const replica = { replicaId: 'r1', sled: 2, epoch: 1, lastCommittedOp: 7, pendingNotes: [] as string[] };
    const text = formatPartitionStatus({
      volumeId: 'vol-0123456789abcdef0',
      partition: 3,
      offset: 12 * MIB,
      sizeBytes: 4 * MIB,
      initialized: true,
      epoch: 1,
      primary: { ...replica, role: 'primary' },
      secondary: { ...replica, role: 'secondary', replicaId: 'r2', sled: 0, lastCommittedOp: 6, pendingNotes: ['kabc'] },
      inSync: false,
      flushedOp: 5,
      checkpoint: null,
      rebuild: { state: 'idle' },
    });
    expect(text.split('\n')).toEqual([
      'Volume ID    vol-0123456789abcdef0',
      'Partition    3',
      'Range        12 MiB to 16 MiB (bytes 12582912 to 16777215, 4 MiB)',
      'Initialized  yes',
      'Epoch        1',
      'In sync      no (the replicas hold different last ops)',
      '',
      'ROLE       REPLICA  SLED  EPOCH  LAST OP  PENDING NOTES',
      'primary    r1          2      1        7              0',
      'secondary  r2          0      1        6              1',
      'Pending on secondary: kabc',
    ]);
  });
});
