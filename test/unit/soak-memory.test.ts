import { describe, expect, it } from 'vitest';
import { memoryVerdict, slopePerMinute, type MemorySample } from '../../bench/soak-memory.js';

const MIB = 1024 * 1024;
const thread = (name: string, mib: number) => ({ thread: name, heapUsed: mib * MIB, heapTotal: mib * MIB, external: 0, arrayBuffers: 0 });
/** A sample at `t` seconds: the service's, the emulators' and the stored data's MiB. */
const sample = (t: number, service: number, emulators: number, stored: number, other = 100): MemorySample => ({
  t,
  rss: (service + emulators + 10 + other) * MIB,
  service: thread('service', service),
  headCache: 0,
  emulators: [thread('fauxqs', emulators)],
  load: thread('load', 10),
  s3Objects: 0,
  s3Bytes: stored * MIB,
  dynamoItems: 0,
  dynamoBytes: 0,
});
const run = (f: (t: number) => MemorySample) => Array.from({ length: 19 }, (_, i) => f(10 * (i + 1)));

describe('the soak memory verdict', () => {
  it('measures a slope per minute', () => {
    expect(slopePerMinute([0, 60, 120], [0, 10, 20])).toBeCloseTo(10);
    expect(slopePerMinute([0], [5])).toBeNaN();
  });

  it('says memory plateaued when nothing grows', () => {
    const verdict = memoryVerdict(run((t) => sample(t, 300, 80, 50 + Math.sin(t))));
    expect(verdict.plateaued).toBe(true);
    expect(verdict.text).toMatch(/^memory plateaued/);
  });

  it('names the service when its memory grows', () => {
    const verdict = memoryVerdict(run((t) => sample(t, 300 + t, 80, 50)));
    expect(verdict.plateaued).toBe(false);
    expect(verdict.trends.find((trend) => trend.name === 'service')?.plateaued).toBe(false);
    expect(verdict.text).toMatch(/service \+60\.0 MiB\/min/);
    expect(verdict.text).not.toMatch(/stored data/);
  });

  it('puts growth in the emulators with their stored data', () => {
    const verdict = memoryVerdict(run((t) => sample(t, 300, 80 + t / 2, 50 + t / 2)));
    expect(verdict.plateaued).toBe(false);
    expect(verdict.text).toMatch(/the emulators: stored data/);
    expect(verdict.text).toMatch(/the service's own memory \(heap and Buffers\) plateaued/);
    expect(verdict.trends.find((trend) => trend.name === 'service')?.plateaued).toBe(true);
  });
});
