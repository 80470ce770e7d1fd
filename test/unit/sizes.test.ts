import { describe, expect, it } from 'vitest';
import { GIB, KIB, MIB, TIB, formatSize, parseSize } from '../../lib/units/sizes.js';

describe('sizes', () => {
  it.each([
    ['4096', 4096],
    ['64KiB', 64 * KIB],
    ['64k', 64 * KIB],
    ['512 MiB', 512 * MIB],
    ['1GiB', GIB],
    ['1g', GIB],
    ['1.5GiB', 1.5 * GIB],
    ['16TiB', 16 * TIB],
  ])('parses %s', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['', 'GiB', '1GB', '12XB', '-1MiB', '0.3', '1e3'])('refuses %j', (text) => {
    expect(() => parseSize(text)).toThrow(/size|whole number/);
  });

  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [64 * KIB, '64 KiB'],
    [MIB, '1 MiB'],
    [1.5 * GIB, '1.5 GiB'],
    [GIB + 1, '1 GiB'],
    [16 * TIB, '16 TiB'],
  ])('formats %d as %s', (bytes, text) => expect(formatSize(bytes)).toBe(text));
});
