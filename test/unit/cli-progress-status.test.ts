import { describe, expect, it } from 'vitest';
import { ProgressBar, renderProgressLine } from '../../lib/cli/progress.js';
import { MIB } from '../../lib/units/sizes.js';

describe('renderProgressLine with a status', () => {
  const state = { done: 2 * MIB, total: 6 * MIB, elapsedMs: 1000 };

  it('puts the status after the reserved ETA room, so it stands still', () => {
    const line = renderProgressLine(state, { width: 120, label: 'copy', status: 'round 2/3, 12 intermediaries' });
    expect(line).toBe('copy  33% [##########--------------------]       2 MiB / 6 MiB  2.0 MiB/s  ETA 2s      round 2/3, 12 intermediaries');
    const later = renderProgressLine({ ...state, done: 3 * MIB, elapsedMs: 1500 }, { width: 120, label: 'copy', status: 'round 2/3, 12 intermediaries' });
    expect(later.indexOf('round')).toBe(line.indexOf('round'));
  });

  it('gives up the bar before the status, and the status before the numbers', () => {
    const options = { label: 'copy', status: 'round 2/3, 12 intermediaries' };
    expect(renderProgressLine(state, { ...options, width: 80 })).toBe(
      'copy  33%       2 MiB / 6 MiB  2.0 MiB/s  ETA 2s  round 2/3, 12 intermediaries',
    );
    // No room for the status: the bar comes back, as if there were no status.
    expect(renderProgressLine(state, { ...options, width: 64 })).toBe('copy  33% [##------]       2 MiB / 6 MiB  2.0 MiB/s  ETA 2s');
    expect(renderProgressLine(state, { ...options, width: 50 })).toBe(renderProgressLine(state, { label: 'copy', width: 50 }));
    for (const width of [200, 100, 80, 60, 40, 10, 1]) {
      expect(renderProgressLine(state, { ...options, width }).length).toBeLessThanOrEqual(Math.max(1, width - 1));
    }
  });

  it('leaves the line as it was without a status', () => {
    expect(renderProgressLine(state, { width: 80, status: '' })).toBe(renderProgressLine(state, { width: 80 }));
  });
});

describe('renderProgressLine with measured rates and counted units', () => {
  it('uses a rate and an ETA measured elsewhere', () => {
    const line = renderProgressLine({ done: MIB, total: 4 * MIB, elapsedMs: 100, rate: 3 * MIB, etaSeconds: 9 }, { width: 80 });
    expect(line).toMatch(/ {2}3\.0 MiB\/s {2}ETA 9s$/);
    expect(renderProgressLine({ done: MIB, total: 4 * MIB, elapsedMs: 100, etaSeconds: null }, { width: 80 })).toMatch(/ETA --$/);
    expect(renderProgressLine({ done: MIB, total: 4 * MIB, elapsedMs: 100, rate: Number.NaN }, { width: 80 })).toMatch(
      /-- MiB\/s {2}ETA --$/,
    );
    // Done is done, whatever the estimate says.
    expect(renderProgressLine({ done: MIB, total: MIB, elapsedMs: 100, etaSeconds: 5 })).toMatch(/ETA 0s$/);
  });

  it('counts things instead of bytes, without a rate', () => {
    expect(
      renderProgressLine({ done: 3, total: 16, elapsedMs: 3000 }, { width: 80, label: 'snapshot', unit: 'partitions', status: '12 chunks, 768 KiB stored' }),
    ).toBe('snapshot  18% [#-----]   3/16 partitions  ETA 13s     12 chunks, 768 KiB stored');
  });
});

describe('ProgressBar for jobs', () => {
  const setup = () => {
    let clock = 0;
    const writes: string[] = [];
    const bar = new ProgressBar({
      stream: { write: (text) => void writes.push(String(text)), columns: 120 },
      total: 0,
      enabled: true,
      label: 'copy',
      now: () => clock,
    });
    return { bar, writes, tick: (ms: number) => (clock += ms) };
  };

  it('shows a waiting text until the total is known, then the bar with its status', () => {
    const { bar, writes, tick } = setup();
    bar.wait('planning 5 volumes');
    expect(writes).toEqual(['\rcopy  planning 5 volumes']);
    tick(200);
    bar.update(MIB, { total: 4 * MIB, status: 'round 1/2, 4 intermediaries', rate: MIB, etaSeconds: 3 });
    expect(bar.total).toBe(4 * MIB);
    expect(writes[1]).toMatch(/^\rcopy {2}25% \[#+-+\] +1 MiB \/ 4 MiB {2}1\.0 MiB\/s {2}ETA 3s {6}round 1\/2, 4 intermediaries$/);
    tick(200);
    // Details stay until they are given again.
    bar.advance(3 * MIB);
    expect(writes[2]).toMatch(/^\rcopy 100% \[#+\] +4 MiB \/ 4 MiB {2}1\.0 MiB\/s {2}ETA 0s {6}round 1\/2, 4 intermediaries$/);
    bar.update(4 * MIB, { status: 'done' });
    bar.finish();
    expect(writes.at(-2)).toMatch(/ETA 0s {6}done +$/);
    expect(writes.at(-1)).toBe('\n');
  });

  it('cuts a waiting text to the width', () => {
    const writes: string[] = [];
    const bar = new ProgressBar({ stream: { write: (text) => void writes.push(String(text)), columns: 12 }, total: 0, enabled: true, label: 'copy' });
    bar.wait('planning 1000 volumes');
    expect(writes).toEqual(['\rcopy  plann']);
  });
});
