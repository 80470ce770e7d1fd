/**
 * The planner's own timing model: how long a perfect executor would take to run a copy plan
 * if sled network links were the only limit. The benchmark uses it as the ideal bound for
 * measured runs, so it must not flatter the plan.
 *
 * The model:
 * - Every sled has a full-duplex link: an egress cap and a separate ingress cap, both
 *   `sledBytesPerSecond`. A task uses its source sled's egress and its destination sled's
 *   ingress, even when both are the same sled (S = 1), because the bytes still cross the link.
 * - Tasks active at the same moment share the links by max-min fairness (the fluid
 *   "progressive filling" allocation): each task gets an equal share of its most contended
 *   link, and capacity that a task cannot use (because it is held back elsewhere) goes to the
 *   other tasks on that link. This is what an ideal fair network delivers.
 * - Every chunk is `chunkBytes` long, and a task copies its chunks in order.
 * - 'rounds' plans (and direct plans, whose waves are rounds): round r starts once every task
 *   of round r-1 has finished. 'pipelined' and 'swarm' plans: every task starts at time 0, and a
 *   task may copy chunk c only once its parent task has finished chunk c (store and forward per
 *   chunk); a swarm task also waits for the tasks before it on its sleds (swarm-sequence.ts).
 *
 * What it leaves out: request latency, connection set-up, per-object overhead and
 * scheduling delays. Between events (a task finishing, a task finishing a chunk that a child
 * waits for, or a child catching up with its parent) every rate is constant, so the
 * simulation is exact for the model, up to floating-point rounding.
 */
import { ValidationError } from '../errors.js';
import { startsAtOnce, type CopyPlan } from './copy-plan.js';
import { swarmSequence } from './swarm-sequence.js';

/** The sizes and link speed the model assumes. */
export interface ModelParams {
  /** Bytes in every chunk. */
  readonly chunkBytes: number;
  /** Each sled's egress cap and, separately, its ingress cap. */
  readonly sledBytesPerSecond: number;
}

/** What an executor adds to the plan's own order. */
export interface ModelOptions {
  /**
   * Task id -> ids of tasks that must finish before it starts (an executor that runs a sled's
   * copies one after another). The named tasks must come earlier in the plan. Defaults to the
   * order the job keeps: swarmSequence for 'swarm' plans, none for the others.
   */
  readonly after?: ReadonlyMap<string, readonly string[]>;
}

/** Tolerance, in chunks, for progress that floating-point rounding left just short of a boundary. */
const EPSILON = 1e-9;

interface SimTask {
  /** Chunks to copy. */
  readonly total: number;
  /** Resource numbers: 2 × sled for egress, 2 × sled + 1 for ingress. */
  readonly egress: number;
  readonly ingress: number;
  readonly parent: SimTask | undefined;
  /** Tasks that must finish before this one starts (ModelOptions.after). */
  readonly after: readonly SimTask[];
  hasChildren: boolean;
  /** Chunks copied so far; fractional while a chunk is in flight. */
  done: number;
  /** Chunks per unit time (a link moves one chunk per unit time); -1 while not yet assigned. */
  rate: number;
}

/**
 * Seconds that a perfect executor needs to run `plan` under the model above. The simulation
 * runs in chunk units on links of one chunk per unit time, then scales, so time is exactly
 * proportional to chunkBytes / sledBytesPerSecond.
 */
export function modelJobSeconds(plan: CopyPlan, params: ModelParams, options: ModelOptions = {}): number {
  for (const name of ['chunkBytes', 'sledBytesPerSecond'] as const) {
    const value = params[name];
    if (!Number.isFinite(value) || value <= 0) {
      throw new ValidationError(`${name} must be a positive number; got ${String(value)}.`);
    }
  }
  const pipelined = startsAtOnce(plan.mode);
  const order = options.after ?? swarmSequence(plan);
  const byId = new Map<string, SimTask>();
  const rounds = new Map<number, SimTask[]>();
  for (const task of plan.tasks) {
    const parent = task.parentTask === undefined ? undefined : byId.get(task.parentTask);
    if (task.parentTask !== undefined && !parent) {
      throw new ValidationError(`Task ${task.id} names parent ${task.parentTask}, which does not come before it in the plan.`);
    }
    const after = (order.get(task.id) ?? []).map((id) => {
      const before = byId.get(id);
      if (!before) throw new ValidationError(`Task ${task.id} must follow ${id}, which does not come before it in the plan.`);
      return before;
    });
    const sim: SimTask = {
      total: task.chunks.length,
      egress: 2 * task.from.sled,
      ingress: 2 * task.to.sled + 1,
      parent,
      after,
      hasChildren: false,
      done: 0,
      rate: -1,
    };
    if (parent) parent.hasChildren = true;
    byId.set(task.id, sim);
    const round = pipelined ? 0 : task.round;
    const group = rounds.get(round);
    if (group) group.push(sim);
    else rounds.set(round, [sim]);
  }
  let units = 0;
  for (const [, group] of [...rounds].sort((a, b) => a[0] - b[0])) units += simulate(group, pipelined);
  return (units * params.chunkBytes) / params.sledBytesPerSecond;
}

/** Runs tasks that start together until all have finished; returns the time taken. */
function simulate(tasks: readonly SimTask[], pipelined: boolean): number {
  // How far a task may go now: in a pipelined plan, only as far as its parent's whole chunks.
  const limitOf = (task: SimTask): number => {
    if (task.after.some((before) => before.done < before.total)) return 0;
    const parent = pipelined ? task.parent : undefined;
    if (!parent || parent.done >= parent.total) return task.total;
    return Math.min(task.total, Math.floor(parent.done + EPSILON));
  };
  // The next point where something may change: finishing, catching up with the parent, or
  // (for a task that feeds others in a pipelined plan) finishing a chunk that children wait for.
  const goalOf = (task: SimTask, limit: number): number =>
    pipelined && task.hasChildren ? Math.min(Math.floor(task.done + EPSILON) + 1, limit) : limit;

  let now = 0;
  let running = tasks.filter((task) => task.total > 0);
  // A loop, not Math.max(...tasks): spreading a very large plan would overflow the call stack.
  let lastLink = 0;
  for (const task of tasks) lastLink = Math.max(lastLink, task.egress, task.ingress);
  const fairShare = new FairShare(lastLink + 2);
  while (running.length > 0) {
    const active: SimTask[] = [];
    const goals: number[] = [];
    for (const task of running) {
      const limit = limitOf(task);
      if (limit - task.done > EPSILON) {
        active.push(task);
        goals.push(goalOf(task, limit));
      }
    }
    if (active.length === 0) throw new Error('Copy-plan model stalled: every unfinished task waits for a parent that cannot progress.');
    fairShare.assign(active);
    let step = Infinity;
    active.forEach((task, i) => {
      step = Math.min(step, (goals[i]! - task.done) / task.rate);
    });
    now += step;
    active.forEach((task, i) => {
      task.done += task.rate * step;
      if (goals[i]! - task.done <= EPSILON) task.done = goals[i]!;
    });
    running = running.filter((task) => task.done < task.total);
  }
  return now;
}

/**
 * Scratch space for the max-min computation, sized once per simulation and reused at every
 * event, because a large pipelined plan has thousands of events over thousands of tasks.
 */
class FairShare {
  private readonly spare: Float64Array;
  private readonly unfixed: Int32Array;
  private readonly version: Int32Array;
  private readonly start: Int32Array;
  private readonly fill: Int32Array;
  private members: SimTask[] = [];
  private readonly touched: number[] = [];
  private readonly heap = new MinHeap();

  constructor(linkCount: number) {
    this.spare = new Float64Array(linkCount);
    this.unfixed = new Int32Array(linkCount);
    this.version = new Int32Array(linkCount);
    this.start = new Int32Array(linkCount + 1);
    this.fill = new Int32Array(linkCount);
  }

  /**
   * Max-min fair rates by the bottleneck algorithm: the link with the smallest fair share
   * (spare capacity / tasks still unfixed) fixes all its unfixed tasks at that share; that
   * capacity is taken from their other link, and the next bottleneck follows. Shares never
   * decrease from one bottleneck to the next, which makes the allocation max-min fair.
   */
  assign(active: readonly SimTask[]): void {
    const { spare, unfixed, version, start, fill, heap } = this;
    start.fill(0);
    for (const task of active) {
      task.rate = -1;
      start[task.egress + 1]! += 1;
      start[task.ingress + 1]! += 1;
    }
    for (let link = 0; link < unfixed.length; link++) {
      start[link + 1]! += start[link]!;
      unfixed[link] = start[link + 1]! - start[link]!;
      spare[link] = 1;
      version[link] = 0;
      fill[link] = start[link]!;
    }
    if (this.members.length < 2 * active.length) this.members = new Array<SimTask>(2 * active.length);
    const members = this.members;
    for (const task of active) {
      members[fill[task.egress]!++] = task;
      members[fill[task.ingress]!++] = task;
    }
    heap.clear();
    for (let link = 0; link < unfixed.length; link++) if (unfixed[link]! > 0) heap.push(spare[link]! / unfixed[link]!, link, 0);
    // A heap entry is current while its version equals the link's; `round` numbers the bottleneck steps.
    const touched = this.touched;
    let round = 1;
    while (heap.size > 0) {
      const link = heap.topLink();
      const stale = heap.topVersion() !== version[link] || unfixed[link] === 0;
      heap.pop();
      if (stale) continue;
      const share = Math.max(spare[link]! / unfixed[link]!, 0);
      touched.length = 0;
      for (let i = start[link]!; i < start[link + 1]!; i++) {
        const task = members[i]!;
        if (task.rate >= 0) continue;
        task.rate = share;
        spare[task.egress]! -= share;
        unfixed[task.egress]! -= 1;
        spare[task.ingress]! -= share;
        unfixed[task.ingress]! -= 1;
        const other = task.egress === link ? task.ingress : task.egress;
        if (version[other] !== round) {
          version[other] = round;
          touched.push(other);
        }
      }
      // Re-key each link whose share changed once, not once per task, to keep the heap small.
      for (const other of touched) if (unfixed[other]! > 0) heap.push(spare[other]! / unfixed[other]!, other, round);
      round += 1;
    }
  }
}

/** A binary min-heap of (share, link, version); stale entries are skipped by the caller. */
class MinHeap {
  private keys: number[] = [];
  private links: number[] = [];
  private versions: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  clear(): void {
    this.keys = [];
    this.links = [];
    this.versions = [];
  }

  topLink(): number {
    return this.links[0]!;
  }

  topVersion(): number {
    return this.versions[0]!;
  }

  push(key: number, link: number, version: number): void {
    let i = this.keys.length;
    this.keys.push(key);
    this.links.push(link);
    this.versions.push(version);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (this.keys[up]! <= key) break;
      this.swap(i, up);
      i = up;
    }
  }

  pop(): void {
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.keys.pop();
    this.links.pop();
    this.versions.pop();
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < last && this.keys[left]! < this.keys[least]!) least = left;
      if (right < last && this.keys[right]! < this.keys[least]!) least = right;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }

  private swap(a: number, b: number): void {
    const key = this.keys[a]!;
    const link = this.links[a]!;
    const version = this.versions[a]!;
    this.keys[a] = this.keys[b]!;
    this.links[a] = this.links[b]!;
    this.versions[a] = this.versions[b]!;
    this.keys[b] = key;
    this.links[b] = link;
    this.versions[b] = version;
  }
}
