import { decompose, INITIAL_STATE, narrowPending, type BlockOp, type RegisterState } from './model.js';
import { searchBlock } from './search.js';
import type { History } from './types.js';

/**
 * The checker: splits a history per 4 KiB block and searches each block's sub-history for a
 * linearization against a register model (see search.ts). The history is linearizable if
 * and only if every block's is.
 */

/** Budgets per block. A block that exhausts one is 'unknown' (never 'ok'). */
export interface CheckOptions {
  /** Search steps per block (default 2,000,000). */
  readonly maxStepsPerBlock?: number;
  /** Wall-clock milliseconds per block (default 5,000). */
  readonly maxMsPerBlock?: number;
  /** Stop after this many violating blocks (default: check every block). */
  readonly maxViolations?: number;
}

/** Why a block's sub-history is not linearizable, and the ops that show it. */
export interface Violation {
  readonly block: number;
  /**
   * never-written: a read returned a value that no write of this block carries (unrecognized
   * bytes, a failed write's tag, another block's tag). not-linearizable: the search failed.
   */
  readonly reason: 'never-written' | 'not-linearizable';
  /** The op that could not be placed. */
  readonly blocked: BlockOp;
  /** The longest linearizable prefix found (empty for never-written). */
  readonly prefix: readonly BlockOp[];
  /** The register's state after that prefix. */
  readonly state: RegisterState;
  /** The block's ops whose intervals overlap the blocked op's (excluding it). */
  readonly concurrent: readonly BlockOp[];
  /** The block's last ops that completed before the blocked op was invoked (most recent last). */
  readonly before: readonly BlockOp[];
}

/** A block whose search ran out of budget. */
export interface UnknownBlock {
  readonly block: number;
  readonly reason: string;
  readonly ops: number;
}

/** The verdict on a whole history. */
export interface CheckResult {
  /** ok only if every block is linearizable; violation if any block is not; else unknown. */
  readonly status: 'ok' | 'violation' | 'unknown';
  readonly violations: readonly Violation[];
  readonly unknown: readonly UnknownBlock[];
  readonly stats: { readonly ops: number; readonly blocks: number; readonly blockOps: number; readonly steps: number; readonly ms: number };
}

const CONTEXT = 4;

function context(ops: readonly BlockOp[], blocked: BlockOp): Pick<Violation, 'concurrent' | 'before'> {
  const concurrent = ops.filter((o) => o !== blocked && o.call <= blocked.ret && blocked.call <= o.ret);
  const before = ops
    .filter((o) => o.ret < blocked.call)
    .sort((a, b) => a.ret - b.ret)
    .slice(-CONTEXT);
  return { concurrent, before };
}

/** A read whose value no write of the block (nor the initial zeros) ever held. */
function neverWritten(ops: readonly BlockOp[]): BlockOp | undefined {
  const written = new Set<RegisterState>([INITIAL_STATE]);
  for (const o of ops) if (o.isWrite) written.add(o.key);
  return ops.find((o) => !o.isWrite && !written.has(o.key));
}

/** Checks one block's sub-history; exported for tests and for callers that split their own. */
export function checkBlock(
  block: number,
  ops: readonly BlockOp[],
  options: CheckOptions = {},
): { status: 'ok'; steps: number } | { status: 'unknown'; steps: number; reason: string } | { status: 'violation'; steps: number; violation: Violation } {
  const bad = neverWritten(ops);
  if (bad !== undefined) {
    return { status: 'violation', steps: 0, violation: { block, reason: 'never-written', blocked: bad, prefix: [], state: INITIAL_STATE, ...context(ops, bad) } };
  }
  const outcome = searchBlock(narrowPending(ops), {
    maxSteps: options.maxStepsPerBlock ?? 2_000_000,
    deadline: performance.now() + (options.maxMsPerBlock ?? 5_000),
  });
  if (outcome.kind === 'ok') return { status: 'ok', steps: outcome.steps };
  if (outcome.kind === 'unknown') return { status: 'unknown', steps: outcome.steps, reason: outcome.reason };
  const { prefix, blocked, state } = outcome;
  return { status: 'violation', steps: outcome.steps, violation: { block, reason: 'not-linearizable', blocked, prefix, state, ...context(ops, blocked) } };
}

/**
 * Checks a history against the per-block register model. Throws MalformedHistoryError for a
 * history it cannot interpret.
 */
export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const started = performance.now();
  const byBlock = decompose(history);
  const violations: Violation[] = [];
  const unknown: UnknownBlock[] = [];
  let steps = 0;
  let blockOps = 0;
  const blocks = [...byBlock.keys()].sort((a, b) => a - b);
  for (const block of blocks) {
    const ops = byBlock.get(block) as BlockOp[];
    blockOps += ops.length;
    const r = checkBlock(block, ops, options);
    steps += r.steps;
    if (r.status === 'violation') violations.push(r.violation);
    if (r.status === 'unknown') unknown.push({ block, reason: r.reason, ops: ops.length });
    if (violations.length >= (options.maxViolations ?? Number.POSITIVE_INFINITY)) break;
  }
  const status = violations.length > 0 ? 'violation' : unknown.length > 0 ? 'unknown' : 'ok';
  const stats = { ops: history.ops.length, blocks: byBlock.size, blockOps, steps, ms: performance.now() - started };
  return { status, violations, unknown, stats };
}
