import { formatValue } from './tags.js';
import { blocksOf, validateOperation, type BlockValue, type History, type Operation } from './types.js';

/**
 * The model: every 4 KiB block is a read/write register whose initial value is zero. An op on
 * a range is one op on each block it covers, so the history splits into one sub-history per
 * block, checked independently (linearizability is compositional: P-compositionality, as in
 * porcupine). A write that commits per partition is therefore checkable block by block.
 */

/** The register state: 'Z' (zeros) or a tag key; a read of this key matches it. */
export type RegisterState = string;

/** The state every block starts in. */
export const INITIAL_STATE: RegisterState = 'Z';

/** One op of a history, restricted to one block. */
export interface BlockOp {
  /** The op it comes from. */
  readonly op: Operation;
  readonly block: number;
  readonly isWrite: boolean;
  /** The value written or read, as recorded. */
  readonly value: BlockValue;
  /** The value as a register state (for a read, the state it requires). */
  readonly key: RegisterState;
  readonly call: number;
  /** +Infinity when pending: porcupine's treatment of an op that never returned. */
  readonly ret: number;
}

/**
 * The register key of a value. A written 'unknown' gets a key of its own (op id), and a read
 * 'unknown' a key no write can produce: unrecognized bytes never match any state.
 */
export function keyOf(v: BlockValue, writerOpId?: number): RegisterState {
  if (v === 'zero') return INITIAL_STATE;
  if (v === 'unknown') return writerOpId === undefined ? '?' : `?w${writerOpId}`;
  return `${v.tag.client}:${v.tag.seq}:${v.tag.block}`;
}

/** The register's transition: a write always succeeds; a read succeeds if it saw the state. */
export function step(state: RegisterState, bop: BlockOp): { ok: boolean; state: RegisterState } {
  if (bop.isWrite) return { ok: true, state: bop.key };
  return { ok: state === bop.key, state };
}

/** A human form of a register state (for reports). */
export function describeState(state: RegisterState): string {
  if (state === INITIAL_STATE) return 'zero';
  if (state.startsWith('?')) return 'unknown bytes';
  const [c, s, b] = state.split(':');
  return formatValue({ tag: { client: Number(c), seq: Number(s), block: Number(b) } });
}

/**
 * Splits a history into per-block sub-histories (validating every op). A pending read is
 * dropped: it returned nothing, so it constrains nothing.
 */
export function decompose(history: History): Map<number, BlockOp[]> {
  const byBlock = new Map<number, BlockOp[]>();
  const ids = new Set<number>();
  for (const op of history.ops) {
    validateOperation(op);
    if (ids.has(op.id)) throw new Error(`duplicate op id ${op.id}`);
    ids.add(op.id);
    if (op.kind === 'read' && op.completedAt === undefined) continue;
    const { first, count } = blocksOf(op);
    for (let i = 0; i < count; i++) {
      const block = first + i;
      const value: BlockValue = op.kind === 'zero' ? 'zero' : (op.values?.[i] ?? 'unknown');
      const isWrite = op.kind !== 'read';
      const bop: BlockOp = {
        op,
        block,
        isWrite,
        value,
        key: keyOf(value, isWrite ? op.id : undefined),
        call: op.invokedAt,
        ret: op.completedAt ?? Number.POSITIVE_INFINITY,
      };
      let list = byBlock.get(block);
      if (list === undefined) byBlock.set(block, (list = []));
      list.push(bop);
    }
  }
  return byBlock;
}

/**
 * Narrows the pending writes of one block's sub-history, soundly and completely:
 * - a pending write whose value no read returned is dropped: in any linearization that
 *   includes it, no read follows it before the next write (such a read would return its value),
 *   so removing it leaves a linearization, and leaving it out is allowed;
 * - a pending write with a unique value (a tag) that some read returned must precede every
 *   such read: it gets, as its return, the earliest return among them.
 * What remains pending (a zero write while some read saw zeros, or a write whose tag another
 * write of the block reuses) returns at +infinity. Without
 * this, every pending write stays concurrent with the rest of the history, and the search is
 * exponential in their number.
 */
export function narrowPending(ops: readonly BlockOp[]): BlockOp[] {
  const firstReturnOf = new Map<RegisterState, number>();
  for (const o of ops) {
    if (!o.isWrite) firstReturnOf.set(o.key, Math.min(firstReturnOf.get(o.key) ?? Number.POSITIVE_INFINITY, o.ret));
  }
  const writers = new Map<RegisterState, number>();
  for (const o of ops) if (o.isWrite) writers.set(o.key, (writers.get(o.key) ?? 0) + 1);
  const out: BlockOp[] = [];
  for (const o of ops) {
    if (!o.isWrite || o.ret !== Number.POSITIVE_INFINITY) out.push(o);
    else if (!firstReturnOf.has(o.key)) continue;
    else if (o.key === INITIAL_STATE || writers.get(o.key) !== 1) out.push(o);
    else out.push({ ...o, ret: firstReturnOf.get(o.key) as number });
  }
  return out;
}
