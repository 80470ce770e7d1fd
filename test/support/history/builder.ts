import { BLOCK_SIZE, type BlockValue, type History, type Operation } from './types.js';

/**
 * A terse way to write hand-made histories in tests. Values are written `'c:seq'` (the tag of
 * client c, op seq, at the block in question), `'zero'` or `'unknown'`; `[call, ret]` with
 * ret omitted for a pending op; `first`/`count` the block range (default block 0 alone).
 */
export class HistoryBuilder {
  private readonly ops: Operation[] = [];

  private add(op: Omit<Operation, 'id'>): this {
    this.ops.push({ id: this.ops.length, ...op });
    return this;
  }

  private static value(v: string, block: number): BlockValue {
    if (v === 'zero' || v === 'unknown') return v;
    const [client, seq] = v.split(':').map(Number);
    return { tag: { client: client ?? 0, seq: seq ?? 0, block } };
  }

  private static times(t: readonly [number, number?]): Pick<Operation, 'invokedAt' | 'completedAt'> {
    return t[1] === undefined ? { invokedAt: t[0] } : { invokedAt: t[0], completedAt: t[1] };
  }

  /** A write by `client` tagged (client, seq) on each block. */
  write(client: number, seq: number, t: readonly [number, number?], first = 0, count = 1): this {
    const values = Array.from({ length: count }, (_, i) => HistoryBuilder.value(`${client}:${seq}`, first + i));
    return this.add({ client, kind: 'write', offset: first * BLOCK_SIZE, length: count * BLOCK_SIZE, ...HistoryBuilder.times(t), values });
  }

  /** A write-zeroes by `client`. */
  zero(client: number, t: readonly [number, number?], first = 0, count = 1): this {
    return this.add({ client, kind: 'zero', offset: first * BLOCK_SIZE, length: count * BLOCK_SIZE, ...HistoryBuilder.times(t) });
  }

  /** A read by `client` that saw `seen` (one value per block; ignored when pending). */
  read(client: number, t: readonly [number, number?], seen: readonly string[], first = 0): this {
    const values = t[1] === undefined ? {} : { values: seen.map((v, i) => HistoryBuilder.value(v, first + i)) };
    return this.add({ client, kind: 'read', offset: first * BLOCK_SIZE, length: seen.length * BLOCK_SIZE, ...HistoryBuilder.times(t), ...values });
  }

  /** The history built so far. */
  build(): History {
    return { ops: [...this.ops] };
  }
}
