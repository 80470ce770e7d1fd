/** Formatting for people: binary sizes, durations, times. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 268435456 → "256 MiB". */
export function bytes(value: number): string {
  let unit = 0;
  let scaled = value;
  while (scaled >= 1024 && unit < UNITS.length - 1) {
    scaled /= 1024;
    unit++;
  }
  const digits = unit === 0 || Number.isInteger(scaled) ? 0 : scaled < 10 ? 2 : 1;
  return `${scaled.toFixed(digits)} ${UNITS[unit]}`;
}

/** 75 → "1 min 15 s"; null → "—". */
export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** An ISO time as local date and time. */
export function time(iso: string | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { hour12: false });
}

/** Parses "1GiB", "256 MiB", "4096" into bytes; undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = (match[2] ?? 'B').toLowerCase();
  const power = ['b', 'kib', 'mib', 'gib', 'tib'].indexOf(unit);
  const value = Number(match[1]) * 1024 ** power;
  return Number.isSafeInteger(value) ? value : undefined;
}
