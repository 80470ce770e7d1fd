import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkSled, journalSleds, snapshotSleds } from '../../lib/sleds/placement.js';

describe('placement', () => {
  it('puts the two journals of a partition on different sleds', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(10_000), fc.integer({ min: 2, max: 64 }), (volumeId, partition, sleds) => {
        const [primary, secondary] = journalSleds(volumeId, partition, sleds);
        expect(primary).not.toBe(secondary);
        expect(Math.max(primary, secondary)).toBeLessThan(sleds);
      }),
    );
  });

  it('spreads a snapshot evenly over the sleds, never onto a write replica of the partition', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 3, max: 32 }), fc.integer({ min: 1, max: 100 }), (snapshotId, sleds, count) => {
        const partitions = Array.from({ length: count }, (_, partition) => ({ partition, avoid: journalSleds('vol', partition, sleds) }));
        const placed = snapshotSleds(snapshotId, partitions, sleds);
        const load = new Array<number>(sleds).fill(0);
        for (const { partition, avoid } of partitions) {
          const sled = placed[String(partition)]!;
          expect(avoid).not.toContain(sled);
          load[sled]!++;
        }
        // Greedy least-loaded over all but two sleds: no sled holds more than its share plus one.
        expect(Math.max(...load)).toBeLessThanOrEqual(Math.ceil(count / (sleds - 2)) + 1);
      }),
    );
  });

  it('spreads a partition\'s flushed chunks over several sleds', () => {
    const sleds = new Set(Array.from({ length: 16 }, (_, chunk) => chunkSled('vol-x', 3, chunk, 8)));
    expect(sleds.size).toBeGreaterThan(3);
  });
});
