import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory } from '../support/history/checker.js';
import { formatReport } from '../support/history/report.js';
import { mutateToStaleRead, simulateHistory } from '../support/history/simulate.js';

/**
 * The checker on random histories of a simulated linearizable store: every one passes, and
 * each made stale (one read's block swapped for an older value) is flagged at that block.
 */
const workload = fc.record({
  seed: fc.integer(),
  clients: fc.integer({ min: 1, max: 8 }),
  opsPerClient: fc.integer({ min: 1, max: 30 }),
  blocks: fc.integer({ min: 2, max: 8 }),
  maxSpan: fc.integer({ min: 1, max: 4 }),
  pendingRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  readRate: fc.double({ min: 0.1, max: 0.8, noNaN: true }),
});

describe('history checker on simulated histories', () => {
  it('accepts every history of a linearizable store (with pending ops)', () => {
    fc.assert(
      fc.property(workload, (o) => {
        const r = checkHistory(simulateHistory(o));
        expect(r.status, formatReport(r)).toBe('ok');
      }),
      { numRuns: 60 },
    );
  });

  it('flags every stale-read mutation at the mutated block', () => {
    let mutated = 0;
    fc.assert(
      fc.property(workload, fc.integer(), (o, mutationSeed) => {
        const m = mutateToStaleRead(simulateHistory(o), mutationSeed);
        if (m === undefined) return;
        mutated++;
        const r = checkHistory(m.history);
        expect(r.status, formatReport(r)).toBe('violation');
        expect(r.violations.map((v) => v.block)).toContain(m.block);
      }),
      { numRuns: 30 },
    );
    expect(mutated).toBeGreaterThan(10);
  });

  it('checks 8 clients x 500 ops (4000 ops, 32 blocks) as ok in well under a few seconds', () => {
    const history = simulateHistory({ seed: 1, clients: 8, opsPerClient: 500, blocks: 32, pendingRate: 0.02 });
    const r = checkHistory(history);
    console.log(formatReport(r).split('\n')[0]);
    expect(r.status, formatReport(r)).toBe('ok');
    expect(r.stats.ms).toBeLessThan(3000);
    for (const seed of [1, 2, 3]) {
      const m = mutateToStaleRead(history, seed);
      expect(m).toBeDefined();
      const bad = checkHistory(m?.history ?? history);
      expect(bad.status).toBe('violation');
      expect(bad.violations.map((v) => v.block)).toContain(m?.block);
    }
  });

  it('checks 8 clients x 150 ops on 2 hot blocks (~900 ops per block, always 8 in flight) as ok, and flags its mutations', () => {
    const history = simulateHistory({ seed: 2, clients: 8, opsPerClient: 150, blocks: 2, maxSpan: 2, pendingRate: 0.02 });
    const r = checkHistory(history);
    console.log(formatReport(r).split('\n')[0]);
    expect(r.status, formatReport(r)).toBe('ok');
    expect(r.stats.ms).toBeLessThan(3000);
    for (const seed of [1, 2, 3]) {
      const m = mutateToStaleRead(history, seed);
      expect(m).toBeDefined();
      const bad = checkHistory(m?.history ?? history);
      expect(bad.status).toBe('violation');
      expect(bad.violations.map((v) => v.block)).toContain(m?.block);
    }
  });
});
