import { BLOCK_SIZE, type BlockValue, type History, type Operation } from './types.js';

/**
 * Random histories of a linearizable block store, for property tests of the checker: each
 * client issues ops one after another; each op takes effect atomically at a random instant
 * inside its interval (a pending op: at a random instant after its invocation, or never), so
 * every generated history is linearizable by construction.
 */

/** The shape of a simulated workload. */
export interface SimulationOptions {
  readonly seed: number;
  readonly clients: number;
  readonly opsPerClient: number;
  /** The device size in blocks. */
  readonly blocks: number;
  /** The longest op, in blocks (default 4). */
  readonly maxSpan?: number;
  /** Share of ops whose outcome is unknown (default 0.02). */
  readonly pendingRate?: number;
  /** Share of reads (default 0.5); of the rest, one in ten is a zero write. */
  readonly readRate?: number;
}

/** A small, seedable PRNG (mulberry32) returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Planned {
  op: Operation;
  /** When it takes effect; undefined: never. */
  at: number | undefined;
  read: BlockValue[];
}

/** Generates a linearizable history (ops sorted by invocation; ids in generation order). */
export function simulateHistory(o: SimulationOptions): History {
  const rand = prng(o.seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const maxSpan = Math.min(o.maxSpan ?? 4, o.blocks);
  const planned: Planned[] = [];
  for (let client = 0; client < o.clients; client++) {
    let t = int(10);
    for (let seq = 0; seq < o.opsPerClient; seq++) {
      const count = 1 + int(maxSpan);
      const first = int(o.blocks - count + 1);
      const r = rand();
      const kind = r < (o.readRate ?? 0.5) ? 'read' : r < 0.95 ? 'write' : 'zero';
      const duration = 1 + int(30);
      const pending = rand() < (o.pendingRate ?? 0.02);
      const values: BlockValue[] | undefined = kind === 'write' ? Array.from({ length: count }, (_, i) => ({ tag: { client, seq, block: first + i } })) : undefined;
      const op: Operation = {
        id: planned.length,
        client,
        kind,
        offset: first * BLOCK_SIZE,
        length: count * BLOCK_SIZE,
        invokedAt: t,
        ...(pending ? {} : { completedAt: t + duration }),
        ...(values ? { values } : {}),
      };
      const at = pending ? (rand() < 0.5 ? t + rand() * 200 : undefined) : t + rand() * duration;
      planned.push({ op, at, read: [] });
      t += duration + int(5);
    }
  }
  const store = new Map<number, BlockValue>();
  const effective = planned.filter((p) => p.at !== undefined).sort((a, b) => (a.at as number) - (b.at as number));
  for (const p of effective) {
    const first = p.op.offset / BLOCK_SIZE;
    for (let i = 0; i < p.op.length / BLOCK_SIZE; i++) {
      if (p.op.kind === 'read') p.read.push(store.get(first + i) ?? 'zero');
      else store.set(first + i, p.op.kind === 'zero' ? 'zero' : (p.op.values?.[i] ?? 'unknown'));
    }
  }
  const ops = planned.map((p) => (p.op.kind === 'read' && p.op.completedAt !== undefined ? { ...p.op, values: p.read } : p.op));
  return { ops: ops.sort((a, b) => a.invokedAt - b.invokedAt) };
}

/**
 * Makes one completed read stale: at one of its blocks, it now returns the value of a
 * completed write W1 although another completed write W2 started after W1 completed and
 * completed before the read started (W1 < W2 < read in real time, so the read cannot see W1).
 * Returns undefined if the history has no such triple.
 */
export function mutateToStaleRead(history: History, seed: number): { history: History; block: number; readId: number } | undefined {
  const rand = prng(seed);
  const writes = history.ops.filter((o) => o.kind === 'write' && o.completedAt !== undefined);
  const reads = history.ops.filter((o) => o.kind === 'read' && o.completedAt !== undefined);
  const start = Math.floor(rand() * reads.length);
  for (let k = 0; k < reads.length; k++) {
    const read = reads[(start + k) % reads.length] as Operation;
    const first = read.offset / BLOCK_SIZE;
    for (let i = 0; i < read.length / BLOCK_SIZE; i++) {
      const block = first + i;
      const covers = (w: Operation): boolean => w.offset <= block * BLOCK_SIZE && block * BLOCK_SIZE < w.offset + w.length;
      const onBlock = writes.filter(covers);
      const w2s = onBlock.filter((w) => (w.completedAt as number) < read.invokedAt);
      for (const w2 of w2s) {
        const w1 = onBlock.find((w) => (w.completedAt as number) < w2.invokedAt);
        if (w1 === undefined) continue;
        const value = w1.values?.[block - w1.offset / BLOCK_SIZE] as BlockValue;
        const values = [...(read.values ?? [])];
        values[i] = value;
        const ops = history.ops.map((o) => (o === read ? { ...o, values } : o));
        return { history: { ops }, block, readId: read.id };
      }
    }
  }
  return undefined;
}
