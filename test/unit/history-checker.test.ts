import { describe, expect, it } from 'vitest';
import { HistoryBuilder } from '../support/history/builder.js';
import { checkHistory, type CheckResult } from '../support/history/checker.js';
import { formatReport } from '../support/history/report.js';
import { MalformedHistoryError } from '../support/history/types.js';

/**
 * The checker on hand-made histories: each kind of anomaly Sleds must never show is flagged,
 * and each legitimate outcome of concurrency, crashes and zero writes passes. Times are
 * abstract ticks; `[call, ret]`, ret omitted for an op whose outcome is unknown.
 */
const h = (): HistoryBuilder => new HistoryBuilder();

function verdict(b: HistoryBuilder): CheckResult {
  return checkHistory(b.build());
}

function expectViolation(b: HistoryBuilder, block = 0): CheckResult {
  const r = verdict(b);
  expect(r.status, formatReport(r)).toBe('violation');
  expect(r.violations.map((v) => v.block)).toContain(block);
  return r;
}

function expectOk(b: HistoryBuilder): void {
  const r = verdict(b);
  expect(r.status, formatReport(r)).toBe('ok');
}

describe('history checker: violations', () => {
  it('flags a stale read: a read after a completed write returns an older value', () => {
    const r = expectViolation(h().write(1, 1, [0, 10]).write(2, 1, [20, 30]).read(3, [40, 50], ['1:1']));
    const v = r.violations[0];
    expect(v?.reason).toBe('not-linearizable');
    expect(v?.blocked.op.id).toBe(2);
    expect(v?.prefix.map((o) => o.op.id)).toEqual([0, 1]);
  });

  it('flags a lost write: after a completed write, with no later write, a read returns the previous value', () => {
    expectViolation(h().write(1, 1, [0, 10]).read(2, [20, 30], ['zero']));
    expectViolation(h().write(1, 1, [0, 10]).write(1, 2, [20, 30]).read(2, [40, 50], ['1:1']));
  });

  it('flags a read of a value never written: unrecognized bytes, an unknown tag, another block\'s tag', () => {
    const unknown = expectViolation(h().write(1, 1, [0, 10]).read(2, [20, 30], ['unknown']));
    expect(unknown.violations[0]?.reason).toBe('never-written');
    expect(expectViolation(h().write(1, 1, [0, 10]).read(2, [20, 30], ['1:2'])).violations[0]?.reason).toBe('never-written');
    // Block 1 read back the tag client 1 wrote at block 0 (a misdirected write).
    expectViolation(h().write(1, 1, [0, 10], 0, 1).read(2, [20, 30], ['1:1'], 1), 1);
  });

  it('flags a read from the future: the value of a write invoked after the read completed', () => {
    const r = expectViolation(h().read(1, [0, 10], ['2:1']).write(2, 1, [20, 30]));
    expect(r.violations[0]?.reason).toBe('not-linearizable');
    expect(r.violations[0]?.blocked.op.id).toBe(0);
  });

  it('flags non-monotonic reads: sequential reads by different clients see new, then old', () => {
    expectViolation(h().write(1, 1, [0, 100]).read(2, [10, 20], ['1:1']).read(3, [30, 40], ['zero']));
    // Overlapping writes may land in either order, but every reader must agree on it.
    expectViolation(h().write(1, 1, [0, 50]).write(2, 1, [10, 60]).read(3, [70, 80], ['2:1']).read(4, [90, 95], ['1:1']));
  });

  it('flags a pending write seen by one read and then not seen by a later one', () => {
    expectViolation(h().write(1, 1, [0]).read(2, [10, 20], ['1:1']).read(3, [30, 40], ['zero']));
  });

  it('flags a read of a pending write invoked only after the read completed', () => {
    expectViolation(h().read(1, [0, 10], ['2:1']).write(2, 1, [50]));
  });

  it('flags a read that goes back to an older completed write after a pending write was seen over it', () => {
    expectViolation(h().write(1, 1, [0]).write(2, 1, [0, 5]).read(3, [10, 20], ['1:1']).read(3, [30, 40], ['2:1']));
  });

  it('flags a spanning write torn after it completed (one block missing)', () => {
    const r = expectViolation(h().write(1, 1, [0, 10], 0, 2).read(2, [20, 30], ['1:1', 'zero']), 1);
    expect(r.violations.map((v) => v.block)).toEqual([1]);
  });

  it('flags a read that misses a zero write (stale data after write-zeroes)', () => {
    expectViolation(h().write(1, 1, [0, 10]).zero(2, [20, 30]).read(3, [40, 50], ['1:1']));
  });

  it('flags a write that reappears after being overwritten by a completed zero write', () => {
    expectViolation(h().write(1, 1, [0, 10]).zero(1, [20, 30]).read(2, [40, 50], ['zero']).read(2, [60, 70], ['1:1']));
  });

  it('explains a violation in a readable report', () => {
    const r = expectViolation(h().write(1, 1, [0, 10]).write(2, 1, [20, 30]).read(3, [40, 50], ['1:1']));
    const text = formatReport(r);
    expect(text).toContain('VIOLATION');
    expect(text).toContain('block 0 (bytes 0..4095): not-linearizable');
    expect(text).toContain('the register then holds: c2#1@0');
    expect(text).toContain('cannot place: op 2 client 3 read c1#1@0 [40, 50]');
    expect(text).toContain('completed just before it:');
  });
});

describe('history checker: valid histories', () => {
  it('accepts a read concurrent with a write returning the old or the new value', () => {
    expectOk(h().write(1, 1, [0, 100]).read(2, [10, 20], ['zero']));
    expectOk(h().write(1, 1, [0, 100]).read(2, [10, 20], ['1:1']));
    expectOk(h().write(1, 1, [0, 100]).read(2, [10, 20], ['zero']).read(2, [30, 40], ['1:1']));
  });

  it('accepts overlapping writes landing in either order', () => {
    expectOk(h().write(1, 1, [0, 50]).write(2, 1, [10, 60]).read(3, [70, 80], ['1:1']));
    expectOk(h().write(1, 1, [0, 50]).write(2, 1, [10, 60]).read(3, [70, 80], ['2:1']));
  });

  it('accepts a pending (crashed) write that a later read does, or does not, see', () => {
    expectOk(h().write(1, 1, [0]).read(2, [10, 20], ['1:1']));
    expectOk(h().write(1, 1, [0]).read(2, [10, 20], ['zero']));
    expectOk(h().write(1, 1, [0]).read(2, [10, 20], ['zero']).read(2, [30, 40], ['1:1']).write(3, 1, [50, 60]).read(2, [70, 80], ['3:1']));
  });

  it('accepts a pending write that is never seen while later writes are', () => {
    expectOk(h().write(1, 1, [0]).write(2, 1, [10, 20]).read(3, [30, 40], ['2:1']).read(3, [50, 60], ['2:1']));
  });

  it('accepts a pending write seen late, after other writes completed (a delayed write may land any time)', () => {
    expectOk(h().write(1, 1, [0]).write(2, 1, [10, 20]).read(3, [30, 40], ['2:1']).read(3, [50, 60], ['1:1']));
  });

  it('keeps a pending write whose tag another write reuses pending (the reader may have seen the other)', () => {
    // Narrowing the pending one to "before the first read of 1:1" would place it before its invocation.
    expectOk(h().write(1, 1, [0, 5]).read(2, [10, 20], ['1:1']).write(1, 1, [30]));
  });

  it('ignores a pending read (it returned nothing)', () => {
    expectOk(h().write(1, 1, [0, 10]).read(2, [5], ['unknown']).read(3, [20, 30], ['1:1']));
  });

  it('accepts zero writes and reads of never-written blocks as zeros', () => {
    expectOk(h().read(1, [0, 5], ['zero', 'zero']).write(1, 1, [10, 20]).zero(2, [30, 40]).read(3, [50, 60], ['zero']));
  });

  it('accepts a spanning write partially visible while in flight, whole once completed', () => {
    expectOk(
      h()
        .write(1, 1, [0, 100], 0, 3)
        .read(2, [10, 20], ['1:1', 'zero', 'zero'])
        .read(3, [30, 40], ['1:1', 'zero', '1:1'])
        .read(2, [110, 120], ['1:1', '1:1', '1:1']),
    );
  });

  it('treats ops that touch at one instant as concurrent', () => {
    expectOk(h().write(1, 1, [0, 10]).read(2, [10, 20], ['zero']));
  });
});

describe('history checker: budgets and input', () => {
  it('reports unknown, never ok, when a block exceeds its step budget', () => {
    const b = h().write(1, 1, [0, 50]).write(2, 1, [10, 60]).read(3, [70, 80], ['1:1']);
    const r = checkHistory(b.build(), { maxStepsPerBlock: 2 });
    expect(r.status).toBe('unknown');
    expect(r.unknown[0]?.block).toBe(0);
    expect(formatReport(r)).toContain('unknown (step budget of 2 exceeded');
  });

  it('rejects a misaligned range or a write without its block values', () => {
    expect(() => checkHistory({ ops: [{ id: 0, client: 1, kind: 'zero', offset: 512, length: 4096, invokedAt: 0, completedAt: 1 }] })).toThrow(MalformedHistoryError);
    expect(() => checkHistory({ ops: [{ id: 0, client: 1, kind: 'write', offset: 0, length: 8192, invokedAt: 0, completedAt: 1, values: ['zero'] }] })).toThrow(/1 block values for 2 blocks/);
  });
});
