import type { CheckResult, Violation } from './checker.js';
import { describeState, type BlockOp } from './model.js';
import { formatValue } from './tags.js';
import { BLOCK_SIZE } from './types.js';

/** How many ops of the linearizable prefix a report shows (its tail). */
const PREFIX_TAIL = 6;

function interval(o: BlockOp): string {
  if (o.op.completedAt !== undefined) return `[${o.call}, ${o.ret}]`;
  return o.ret === Number.POSITIVE_INFINITY ? `[${o.call}, pending]` : `[${o.call}, pending, before its first reader's return at ${o.ret}]`;
}

/** One line for a block op: `op 12 client 3 write c3#4@7 [100, 180]`. */
export function formatBlockOp(o: BlockOp): string {
  const what = o.op.kind === 'zero' ? 'zero' : `${o.op.kind} ${formatValue(o.value)}`;
  return `op ${o.op.id} client ${o.op.client} ${what} ${interval(o)} (range ${o.op.offset}+${o.op.length})`;
}

/** A human-readable explanation of one violation. */
export function formatViolation(v: Violation): string {
  const lines = [`block ${v.block} (bytes ${v.block * BLOCK_SIZE}..${(v.block + 1) * BLOCK_SIZE - 1}): ${v.reason}`];
  if (v.reason === 'never-written') {
    lines.push(`  ${formatBlockOp(v.blocked)}`, `  read a value that no write of this block carries (and that is not zero)`);
  } else {
    const shown = v.prefix.slice(-PREFIX_TAIL);
    lines.push(`  longest linearizable prefix: ${v.prefix.length} ops${v.prefix.length > shown.length ? `, the last ${shown.length}` : ''}:`);
    for (const o of shown) lines.push(`    ${formatBlockOp(o)}`);
    lines.push(`  the register then holds: ${describeState(v.state)}`);
    lines.push(`  cannot place: ${formatBlockOp(v.blocked)}`);
  }
  if (v.before.length > 0) {
    lines.push('  completed just before it:');
    for (const o of v.before) lines.push(`    ${formatBlockOp(o)}`);
  }
  if (v.concurrent.length > 0) {
    lines.push('  concurrent with it:');
    for (const o of v.concurrent) lines.push(`    ${formatBlockOp(o)}`);
  }
  return lines.join('\n');
}

/** A human-readable report of a whole check: the verdict, the figures, each violation. */
export function formatReport(result: CheckResult): string {
  const s = result.stats;
  const lines = [`linearizability: ${result.status.toUpperCase()} (${s.ops} ops, ${s.blocks} blocks, ${s.blockOps} block ops, ${s.steps} steps, ${s.ms.toFixed(1)} ms)`];
  for (const v of result.violations) lines.push(formatViolation(v));
  for (const u of result.unknown) lines.push(`block ${u.block}: unknown (${u.reason}; ${u.ops} ops)`);
  return lines.join('\n');
}
