import { INITIAL_STATE, step, type BlockOp, type RegisterState } from './model.js';

/**
 * Wing & Gong's linearizability search with Lowe's memoization, as porcupine implements it,
 * over the sub-history of one block.
 *
 * The history is a doubly linked list of call and return entries in time order. The search
 * walks it from the head: at a call, it tries to linearize that op next (apply it to the
 * model); if the model accepts and the configuration (set of linearized ops, model state) was
 * never seen, the op's call and return entries are lifted out of the list and the search
 * restarts from the head. Reaching a return entry means its op should have been linearized
 * already: the search backtracks (pops the last linearized op, unlifts it, and tries the next
 * candidate). The cache of seen configurations is what makes this practical: two orders of
 * the same ops that reach the same state are explored once.
 *
 * Pending ops return at +infinity (after every completed op). Reaching the return entry of a
 * pending op therefore means every completed op is linearized: success. Pending writes not yet
 * linearized at that point are the ones that never took effect, which is allowed.
 */

interface Entry {
  readonly id: number;
  readonly op: BlockOp | undefined;
  readonly isCall: boolean;
  /** For a call entry, its return entry. */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** Bounds on one block's search; exceeding one gives 'unknown', never 'ok'. */
export interface SearchLimits {
  readonly maxSteps: number;
  /** A `performance.now()` instant. */
  readonly deadline: number;
}

/** What the search of one block concluded. */
export type SearchOutcome =
  | { readonly kind: 'ok'; readonly steps: number }
  | { readonly kind: 'unknown'; readonly steps: number; readonly reason: string }
  | {
      readonly kind: 'violation';
      readonly steps: number;
      /** The longest sequence of ops the search could linearize. */
      readonly prefix: readonly BlockOp[];
      /** The op whose return was reached, at that point, without a way to linearize it. */
      readonly blocked: BlockOp;
      /** The register's state after the prefix. */
      readonly state: RegisterState;
    };

function makeList(ops: readonly BlockOp[]): Entry {
  const events: { entry: Entry; time: number }[] = [];
  ops.forEach((op, id) => {
    const ret: Entry = { id, op, isCall: false, match: undefined, prev: undefined, next: undefined };
    const call: Entry = { id, op, isCall: true, match: ret, prev: undefined, next: undefined };
    events.push({ entry: call, time: op.call }, { entry: ret, time: op.ret });
  });
  // At equal times, calls first: ops that touch at an instant count as concurrent (lenient).
  events.sort((a, b) => a.time - b.time || Number(b.entry.isCall) - Number(a.entry.isCall));
  const head: Entry = { id: -1, op: undefined, isCall: false, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const { entry } of events) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

function lift(call: Entry): void {
  const ret = call.match as Entry;
  (call.prev as Entry).next = call.next;
  if (call.next) call.next.prev = call.prev;
  (ret.prev as Entry).next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Entry): void {
  const ret = call.match as Entry;
  (ret.prev as Entry).next = ret;
  if (ret.next) ret.next.prev = ret;
  (call.prev as Entry).next = call;
  if (call.next) call.next.prev = call;
}

/** Zobrist hashing of the linearized set: two 32-bit halves, updated by XOR per op. */
function zobrist(n: number): Uint32Array {
  const z = new Uint32Array(2 * n);
  let x = 0x2545f491;
  for (let i = 0; i < z.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    z[i] = x >>> 0;
  }
  return z;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Runs the search over one block's ops. */
export function searchBlock(ops: readonly BlockOp[], limits: SearchLimits): SearchOutcome {
  const head = makeList(ops);
  const z = zobrist(ops.length);
  const bits = new Uint32Array(Math.ceil(ops.length / 32));
  let h1 = 0;
  let h2 = 0;
  const cache = new Map<string, Uint32Array[]>();
  const calls: { entry: Entry; state: RegisterState }[] = [];
  let state = INITIAL_STATE;
  let entry = head.next;
  let steps = 0;
  let best: { prefix: BlockOp[]; blocked: BlockOp; state: RegisterState } | undefined;

  while (entry !== undefined) {
    if (++steps > limits.maxSteps) return { kind: 'unknown', steps, reason: `step budget of ${limits.maxSteps} exceeded` };
    if ((steps & 1023) === 0 && performance.now() > limits.deadline) return { kind: 'unknown', steps, reason: 'time budget exceeded' };
    const op = entry.op as BlockOp;
    if (entry.isCall) {
      const next = step(state, op);
      if (next.ok) {
        const id = entry.id;
        const word = id >>> 5;
        const mask = 1 << (id & 31);
        bits[word] = (bits[word] as number) | mask;
        const n1 = (h1 ^ (z[2 * id] as number)) >>> 0;
        const n2 = (h2 ^ (z[2 * id + 1] as number)) >>> 0;
        const key = `${n1}.${n2}.${next.state}`;
        let bucket = cache.get(key);
        if (bucket?.some((b) => sameBits(b, bits))) {
          bits[word] = (bits[word] as number) & ~mask;
          entry = entry.next;
          continue;
        }
        if (bucket === undefined) cache.set(key, (bucket = []));
        bucket.push(bits.slice());
        calls.push({ entry, state });
        state = next.state;
        h1 = n1;
        h2 = n2;
        lift(entry);
        entry = head.next;
      } else {
        entry = entry.next;
      }
      continue;
    }
    // A return entry: its op had to be linearized by now.
    if (op.ret === Number.POSITIVE_INFINITY) return { kind: 'ok', steps };
    if (best === undefined || calls.length > best.prefix.length) {
      best = { prefix: calls.map((c) => c.entry.op as BlockOp), blocked: op, state };
    }
    const top = calls.pop();
    if (top === undefined) return { kind: 'violation', steps, ...best };
    const id = top.entry.id;
    bits[id >>> 5] = (bits[id >>> 5] as number) & ~(1 << (id & 31));
    h1 = (h1 ^ (z[2 * id] as number)) >>> 0;
    h2 = (h2 ^ (z[2 * id + 1] as number)) >>> 0;
    state = top.state;
    unlift(top.entry);
    entry = top.entry.next;
  }
  return { kind: 'ok', steps };
}
