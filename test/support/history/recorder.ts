import { readTags } from './tags.js';
import { type BlockValue, type History, type OpKind, type Operation, validateOperation } from './types.js';

/** What a client is about to do; a write names the value of each block it writes. */
export type OpRequest =
  | { readonly kind: 'write'; readonly offset: number; readonly length: number; readonly values: readonly BlockValue[] }
  | { readonly kind: Exclude<OpKind, 'write'>; readonly offset: number; readonly length: number };

type Outcome = 'open' | 'ok' | 'fail' | 'info';

interface Recorded {
  op: Operation;
  outcome: Outcome;
}

/** The default clock: monotonic milliseconds with sub-millisecond precision. */
const monotonic = (): number => performance.now();

/**
 * Records a concurrent history, Jepsen-style: `invoke` before an op is sent, then exactly one
 * of `ok` (acknowledged), `fail` (definitely did not happen: 4xx, EINVAL) or `info` (unknown:
 * crash, dropped connection, timeout). Safe to share among async clients of one process.
 */
export class HistoryRecorder {
  private readonly records: Recorded[] = [];

  /** @param clock a monotonic clock shared by every client recorded here. */
  constructor(private readonly clock: () => number = monotonic) {}

  /** Records an invocation now and returns its id. */
  invoke(client: number, request: OpRequest): number {
    const id = this.records.length;
    const op: Operation = { id, client, kind: request.kind, offset: request.offset, length: request.length, invokedAt: this.clock(), ...(request.kind === 'write' ? { values: [...request.values] } : {}) };
    validateOperation(op);
    this.records.push({ op, outcome: 'open' });
    return id;
  }

  private open(id: number, outcome: Outcome): Recorded {
    const r = this.records[id];
    if (r === undefined) throw new Error(`no invocation ${id}`);
    if (r.outcome !== 'open') throw new Error(`op ${id} already completed as ${r.outcome}`);
    r.outcome = outcome;
    return r;
  }

  /**
   * Records an acknowledgement now. A read passes what it read: the block values, or the
   * bytes (parsed with readTags).
   */
  ok(id: number, readValue?: readonly BlockValue[] | Buffer): void {
    const r = this.open(id, 'ok');
    const values = readValue === undefined ? undefined : Buffer.isBuffer(readValue) ? readTags(readValue) : [...readValue];
    if (r.op.kind === 'read' && values === undefined) throw new Error(`read ${id} completed without the value it read`);
    r.op = { ...r.op, completedAt: this.clock(), ...(r.op.kind === 'read' ? { values } : {}) };
    validateOperation(r.op);
  }

  /** Records that the op definitely did not take effect: it leaves the history. */
  fail(id: number): void {
    this.open(id, 'fail');
  }

  /** Records that the op's outcome is unknown: it stays pending forever. */
  info(id: number): void {
    this.open(id, 'info');
  }

  /**
   * The history so far: acknowledged ops, and pending ones (info, or still open, which may yet
   * take effect). Failed ops are left out.
   */
  history(): History {
    return { ops: this.records.filter((r) => r.outcome !== 'fail').map((r) => r.op) };
  }
}
