import { ValidationError } from '../errors.js';

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;
export const TIB = 1024 * GIB;

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: KIB,
  kib: KIB,
  m: MIB,
  mib: MIB,
  g: GIB,
  gib: GIB,
  t: TIB,
  tib: TIB,
};

/**
 * Parses "1GiB", "512 MiB", "64k" or "4096" into bytes. Units are binary (a block device
 * is sized in powers of two); decimal units such as "GB" are refused rather than guessed.
 */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match?.[2]?.toLowerCase();
  const factor = unit === undefined ? undefined : UNITS[unit];
  if (!match || factor === undefined) {
    throw new ValidationError(
      `"${text}" is not a size; use bytes or a binary unit such as 64KiB, 512MiB, 1GiB, 2TiB`,
    );
  }
  const bytes = Number(match[1]) * factor;
  if (!Number.isSafeInteger(bytes)) {
    throw new ValidationError(`"${text}" is not a whole number of bytes`);
  }
  return bytes;
}

/** Formats bytes with the largest binary unit that keeps the value at or above 1: "1 GiB", "1.5 MiB". */
export function formatSize(bytes: number): string {
  const units: Array<[string, number]> = [
    ['TiB', TIB],
    ['GiB', GIB],
    ['MiB', MIB],
    ['KiB', KIB],
  ];
  for (const [name, factor] of units) {
    if (Math.abs(bytes) >= factor) {
      const value = bytes / factor;
      return `${Number.isInteger(value) ? value : value.toFixed(2).replace(/\.?0+$/, '')} ${name}`;
    }
  }
  return `${bytes} B`;
}
