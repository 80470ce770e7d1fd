import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export { collectGarbage, gcPauseMs, threadCpuMs } from '../lib/local/thread-stats.js';

/** What one closed-loop run measured. */
export interface LoopResult {
  /** Ops (and their bytes) that completed inside the measuring window. */
  readonly ops: number;
  readonly bytes: number;
  /** The measuring window: every worker is busy from its start to its end. */
  readonly windowMs: number;
  /** Latency of every op, including those that finished after the window closed. */
  readonly latenciesMs: number[];
}

/**
 * Runs `concurrency` workers, each issuing `op` back to back until `durationMs` has passed
 * (closed loop: a worker starts its next op when the previous one returns). Throughput counts
 * only ops that complete inside the window, so the drain at the end (fewer and fewer ops in
 * flight) does not dilute it. An op resolves to the bytes it moved and its own latency, so
 * setup such as building a payload stays out of the latency; a failed op resolves to
 * undefined and is not counted.
 */
export async function runClosedLoop(
  concurrency: number,
  durationMs: number,
  op: (worker: number) => Promise<{ bytes: number; latencyMs: number } | undefined>,
): Promise<LoopResult> {
  const latenciesMs: number[] = [];
  let ops = 0;
  let bytes = 0;
  const deadline = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const done = await op(worker);
        if (!done) continue;
        latenciesMs.push(done.latencyMs);
        if (performance.now() <= deadline) {
          ops++;
          bytes += done.bytes;
        }
      }
    }),
  );
  return { ops, bytes, windowMs: durationMs, latenciesMs };
}

/** Sums the runs of one side (ops, bytes, time) and pools their latencies. */
export function mergeLoops(results: readonly LoopResult[]): LoopResult {
  return {
    ops: results.reduce((sum, r) => sum + r.ops, 0),
    bytes: results.reduce((sum, r) => sum + r.bytes, 0),
    windowMs: results.reduce((sum, r) => sum + r.windowMs, 0),
    latenciesMs: results.flatMap((r) => r.latenciesMs),
  };
}

/** The p-th percentile (0..100) of the samples, by nearest rank; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** The median of the values (nearest rank); NaN when there are none. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Counts of SDK calls (logical commands and HTTP attempts) and the time spent in them. */
export class SdkCallCounter {
  readonly calls = new Map<string, number>();
  readonly attempts = new Map<string, number>();
  readonly callMs = new Map<string, number>();

  /** Forgets everything counted so far. */
  reset(): void {
    this.calls.clear();
    this.attempts.clear();
    this.callMs.clear();
  }

  /** Adds another counter's figures to this one. */
  add(other: SdkCallCounter): void {
    for (const [target, source] of [
      [this.calls, other.calls],
      [this.attempts, other.attempts],
      [this.callMs, other.callMs],
    ] as const) {
      for (const [name, value] of source) target.set(name, (target.get(name) ?? 0) + value);
    }
  }

  /** Total logical calls and total attempts (attempts > calls means the SDK retried). */
  totals(): { calls: number; attempts: number } {
    const sum = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);
    return { calls: sum(this.calls), attempts: sum(this.attempts) };
  }
}

interface Stackable {
  middlewareStack: {
    add(middleware: unknown, options: { step: string; name: string; priority?: string }): void;
  };
}

type Next = (args: unknown) => Promise<unknown>;

/**
 * Counts every command sent through `client` (an SDK v3 client; a DynamoDB document client
 * shares its base client's stack) into whichever counter `current()` returns at that moment.
 */
export function countSdkCalls(client: { middlewareStack: unknown }, current: () => SdkCallCounter | undefined): void {
  // The SDK's overloads are keyed on literal step names; this one place talks to the stack loosely.
  const stack = (client as Stackable).middlewareStack;
  const bump = (map: Map<string, number>, name: string, by: number) => map.set(name, (map.get(name) ?? 0) + by);
  const commandName = (context: { commandName?: string }) => (context.commandName ?? 'unknown').replace(/Command$/, '');
  stack.add(
    (next: Next, context: { commandName?: string }) => async (args: unknown) => {
      const counter = current();
      const name = commandName(context);
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        if (counter) {
          bump(counter.calls, name, 1);
          bump(counter.callMs, name, performance.now() - started);
        }
      }
    },
    { step: 'initialize', name: 'benchCallCounter', priority: 'high' },
  );
  stack.add(
    (next: Next, context: { commandName?: string }) => async (args: unknown) => {
      const counter = current();
      if (counter) bump(counter.attempts, commandName(context), 1);
      return next(args);
    },
    { step: 'deserialize', name: 'benchAttemptCounter' },
  );
}

/** Sums of every sample of each metric of the embedded cloud's GET /metrics (histogram buckets keyed `name{le}`). */
export async function metricsOf(apiUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match) continue;
    const [, name = '', labels = '', value = '0'] = match;
    const key = labels.includes('le=') ? `${name}{${/le="([^"]+)"/.exec(labels)?.[1] ?? ''}}` : name;
    sums.set(key, (sums.get(key) ?? 0) + Number(value));
  }
  return sums;
}

/** CPU milliseconds (user + system) of the whole process (every thread) so far. */
export function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Renders rows as a plain-text table; the first column is left-aligned, the rest right-aligned. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A number with a sensible count of digits for a table cell. */
export function fmt(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toFixed(d);
}

/** The installed version of an npm package, for a bench's header ('?' when it cannot be read). */
export function packageVersion(name: string): string {
  try {
    const text = readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return '?';
  }
}
