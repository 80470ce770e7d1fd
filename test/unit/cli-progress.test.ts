import { describe, expect, it } from 'vitest';
import {
  MAX_BAR_WIDTH,
  ProgressBar,
  formatElapsed,
  formatEta,
  formatRate,
  progressPercent,
  renderProgressLine,
} from '../../lib/cli/progress.js';
import { MIB } from '../../lib/units/sizes.js';

describe('renderProgressLine', () => {
  it('shows percent, a bar, bytes done and total, rate and ETA', () => {
    // 96 of 256 MiB after 1.2 s: 80 MiB/s, 160 MiB left, 2 s.
    expect(renderProgressLine({ done: 96 * MIB, total: 256 * MIB, elapsedMs: 1200 }, { width: 80, label: 'write' })).toBe(
      'write  37% [#######--------------]      96 MiB / 256 MiB   80 MiB/s  ETA 2s',
    );
  });

  it('is deterministic: the same state renders the same line', () => {
    const state = { done: 3 * MIB, total: 10 * MIB, elapsedMs: 1500 };
    expect(renderProgressLine(state)).toBe(renderProgressLine(state));
  });

  it('reaches 100% only when done, with a full bar and no time left', () => {
    expect(renderProgressLine({ done: 10 * MIB - 1, total: 10 * MIB, elapsedMs: 1000 })).toMatch(/^ 99% /);
    expect(renderProgressLine({ done: 10 * MIB, total: 10 * MIB, elapsedMs: 2000 })).toBe(
      '100% [############################]      10 MiB / 10 MiB  5.0 MiB/s  ETA 0s',
    );
  });

  it('shows no rate or ETA before anything is measured', () => {
    expect(renderProgressLine({ done: 0, total: MIB, elapsedMs: 0 }, { label: 'read' })).toBe(
      'read   0% [------------------------]         0 B / 1 MiB   -- MiB/s  ETA --',
    );
    expect(renderProgressLine({ done: 0, total: MIB, elapsedMs: 500 })).toMatch(/ {2}0.0 MiB\/s {2}ETA --$/);
  });

  it('computes the ETA from the average rate so far', () => {
    // 1 MiB/s with 150 MiB left: 2m30s.
    expect(renderProgressLine({ done: 10 * MIB, total: 160 * MIB, elapsedMs: 10_000 })).toMatch(/1.0 MiB\/s {2}ETA 2m30s$/);
  });

  it('fits the width: the bar shrinks, then goes, then the text is cut', () => {
    const state = { done: 5 * MIB, total: 10 * MIB, elapsedMs: 1000 };
    for (const width of [200, 80, 60, 50, 40, 20, 5, 1]) {
      const line = renderProgressLine(state, { width, label: 'write' });
      expect(line.length, `width ${width}: ${line}`).toBeLessThanOrEqual(Math.max(1, width - 1));
    }
    expect(renderProgressLine(state, { width: 200 })).toContain(`[${'#'.repeat(MAX_BAR_WIDTH / 2)}${'-'.repeat(MAX_BAR_WIDTH / 2)}]`);
    expect(renderProgressLine(state, { width: 60 })).toBe(' 50% [####----]       5 MiB / 10 MiB  5.0 MiB/s  ETA 1s');
    expect(renderProgressLine(state, { width: 45 })).toBe(' 50%       5 MiB / 10 MiB  5.0 MiB/s  ETA 1s');
    expect(renderProgressLine(state, { width: 40 })).toBe(' 50%       5 MiB / 10 MiB  5.0 MiB/s');
    expect(renderProgressLine(state, { width: 30 })).toBe(' 50%       5 MiB / 10 MiB');
    expect(renderProgressLine(state, { width: 20 })).toBe(' 50%');
    expect(renderProgressLine(state, { width: 3, label: 'write' })).toBe('wr');
  });

  it('keeps the bar the same width while the numbers change', () => {
    const widths = [4, 12, 196.25, 256].map((mib) => {
      const line = renderProgressLine({ done: mib * MIB, total: 256 * MIB, elapsedMs: mib * 100 }, { label: 'write' });
      return /\[[#-]+\]/.exec(line)?.[0].length;
    });
    expect(new Set(widths)).toEqual(new Set([23]));
  });

  it('treats an empty total as done', () => {
    expect(progressPercent(0, 0)).toBe(100);
    expect(renderProgressLine({ done: 0, total: 0, elapsedMs: 10 })).toMatch(/^100% \[#+\]/);
  });
});

describe('progress units', () => {
  it('formats rates in MiB/s, with a decimal only below 10', () => {
    expect(formatRate(80 * MIB)).toBe('80 MiB/s');
    expect(formatRate(9.54 * MIB)).toBe('9.5 MiB/s');
    expect(formatRate(0)).toBe('0.0 MiB/s');
    expect(formatRate(Number.NaN)).toBe('-- MiB/s');
  });

  it('formats times left in seconds, minutes and hours', () => {
    expect(formatEta(0)).toBe('0s');
    expect(formatEta(6.2)).toBe('7s');
    expect(formatEta(185)).toBe('3m05s');
    expect(formatEta(7440)).toBe('2h04m');
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe('--');
  });

  it('formats elapsed time to a tenth of a second', () => {
    expect(formatElapsed(3210)).toBe('3.2 s');
    expect(formatElapsed(42)).toBe('0.0 s');
    expect(formatElapsed(125_000)).toBe('2m05s');
  });
});

describe('ProgressBar', () => {
  const setup = (enabled: boolean, columns?: number) => {
    let clock = 1000;
    const writes: string[] = [];
    const bar = new ProgressBar({
      stream: { write: (text) => void writes.push(String(text)), isTTY: true, ...(columns ? { columns } : {}) },
      total: 8 * MIB,
      enabled,
      label: 'write',
      now: () => clock,
    });
    return { bar, writes, tick: (ms: number) => (clock += ms) };
  };

  it('redraws at most every 100 ms, and always draws the final frame', () => {
    const { bar, writes, tick } = setup(true);
    bar.advance(MIB); // the first update draws
    tick(30);
    bar.advance(MIB); // too soon
    tick(30);
    bar.advance(MIB); // too soon
    tick(50);
    bar.advance(MIB); // 110 ms after the first frame
    expect(writes).toHaveLength(2);
    expect(writes[0]).toMatch(/^\rwrite {2}12% \[/);
    expect(writes[1]).toMatch(/^\rwrite {2}50% \[/);
    tick(10);
    bar.advance(4 * MIB);
    bar.finish();
    expect(writes.slice(2)).toEqual([expect.stringMatching(/^\rwrite 100% \[#+\] +8 MiB \/ 8 MiB +\S+ MiB\/s {2}ETA 0s$/), '\n']);
    bar.advance(MIB);
    bar.finish();
    expect(writes).toHaveLength(4);
  });

  it('fits the terminal width and pads over a longer previous frame', () => {
    const { bar, writes, tick } = setup(true, 50);
    bar.advance(0);
    tick(500);
    bar.advance(8 * MIB);
    for (const frame of writes) expect(frame.replace('\r', '').length).toBeLessThanOrEqual(49);
    const [first = '', second = ''] = writes;
    expect(second.length).toBeGreaterThanOrEqual(first.length);
  });

  it('draws nothing when disabled but still counts, for the summary', () => {
    const { bar, writes, tick } = setup(false);
    bar.advance(3 * MIB);
    tick(250);
    bar.finish();
    expect(writes).toEqual([]);
    expect(bar.done).toBe(3 * MIB);
    expect(bar.elapsedMs).toBe(250);
  });

  it('ends the line on abort so an error starts on its own line', () => {
    const { bar, writes } = setup(true);
    bar.advance(MIB);
    bar.abort();
    expect(writes.at(-1)).toBe('\n');
    const quiet = setup(true);
    quiet.bar.abort();
    expect(quiet.writes).toEqual([]);
  });
});
