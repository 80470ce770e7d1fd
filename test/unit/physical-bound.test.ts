import { describe, expect, it } from 'vitest';
import { modelJobSeconds } from '../../lib/copy-jobs/bandwidth-model.js';
import { physicalBound } from '../../lib/copy-jobs/physical-bound.js';
import { planCopyJob } from '../../lib/copy-jobs/planner.js';
import { ValidationError } from '../../lib/errors.js';

const MIB = 1024 * 1024;
/** bench:copy's case: 32 MiB in 1 MiB chunks, 8 partitions of 4 on 8 sleds, 128 sleds at 2 MiB/s, F = 4. */
const bench = { snapshotChunks: 32, sledCount: 128, maxSourceFanout: 4, chunkBytes: MIB, sledBytesPerSecond: 2 * MIB };
const benchPartitions = Array.from({ length: 8 }, (_, p) => ({ partition: p, chunks: [0, 1, 2, 3].map((c) => 4 * p + c), sourceSled: 16 * p }));

describe('physicalBound', () => {
  it('is the target bytes over the aggregate ingress plus the depth in chunk times (bench:copy, N = 64: 8 s + 3 x 0.5 s)', () => {
    const bound = physicalBound({ ...bench, targets: 64 });
    expect(bound.targetBytes).toBe(64 * 32 * MIB);
    expect(bound.transferSeconds).toBeCloseTo(8, 9);
    expect(bound.depth).toBe(3);
    expect(bound.pipelineSeconds).toBeCloseTo(1.5, 9);
    expect(bound.seconds).toBeCloseTo(9.5, 9);
  });

  it('puts the pipelined tree at about 2x the bound at N = 64, as issue 19 says', () => {
    const plan = planCopyJob({ partitions: benchPartitions, targets: 64, sledCount: 128, maxSourceFanout: 4, mode: 'pipelined' });
    const ratio = modelJobSeconds(plan, bench) / physicalBound({ ...bench, targets: 64 }).seconds;
    expect(ratio).toBeGreaterThan(1.9);
    expect(ratio).toBeLessThan(2.3);
  });

  it('grows the depth with N and shrinks it with F', () => {
    expect(physicalBound({ ...bench, targets: 4 }).depth).toBe(1);
    expect(physicalBound({ ...bench, targets: 5 }).depth).toBe(2);
    expect(physicalBound({ ...bench, targets: 64, maxSourceFanout: 8 }).depth).toBe(2);
    // F = 1: holders at best double every chunk time, so 7 targets need 3.
    expect(physicalBound({ ...bench, targets: 7, maxSourceFanout: 1 }).depth).toBe(3);
    expect(physicalBound({ ...bench, targets: 8, maxSourceFanout: 1 }).depth).toBe(4);
  });

  it('is zero for a snapshot without data', () => {
    expect(physicalBound({ ...bench, targets: 64, snapshotChunks: 0 }).seconds).toBe(0);
  });

  it.each([
    [{ targets: 0 }, /targets must be a whole number/],
    [{ sledCount: 1.5 }, /sledCount must be a whole number/],
    [{ snapshotChunks: -1 }, /snapshotChunks must be a whole number/],
    [{ sledBytesPerSecond: 0 }, /sledBytesPerSecond must be a positive number/],
    [{ chunkBytes: Number.NaN }, /chunkBytes must be a positive number/],
  ])('refuses bad input %j', (change, message) => {
    expect(() => physicalBound({ ...bench, targets: 64, ...change })).toThrow(ValidationError);
    expect(() => physicalBound({ ...bench, targets: 64, ...change })).toThrow(message);
  });
});
