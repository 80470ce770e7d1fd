/**
 * The copy-job planner: turns "make N volumes from this snapshot" into copy tasks.
 *
 * It is pure (no I/O, no clock, no randomness), so the same input always gives the same plan.
 * The Step Functions job runs the plan, the benchmark models it, and tests check it.
 *
 * A snapshot partition lives on one sled, and one copy of a partition can serve at most F
 * concurrent reads (`maxSourceFanout`). Reading it N times directly takes ceil(N/F) waves. The
 * planner instead duplicates the partition into intermediaries, which then serve as extra
 * sources (DESIGN.md, "Intermediary duplication for copy requests").
 */
import { ValidationError } from '../errors.js';

/**
 * How the job runs. In 'rounds' each round starts once the previous one has finished. In
 * 'pipelined' every task starts at once, and a child copies a chunk as soon as its parent has it.
 */
export type PlanMode = 'rounds' | 'pipelined';

/** What to copy, how many copies to make, and the limits that the plan must respect. */
export interface PlanInput {
  /** The partitions to copy, in any order, each with the sled that holds its snapshot copy. */
  readonly partitions: ReadonlyArray<{ readonly partition: number; readonly chunks: readonly number[]; readonly sourceSled: number }>;
  /** N >= 1: how many target volumes to make. */
  readonly targets: number;
  /** S >= 1: sleds are numbered 0..S-1. */
  readonly sledCount: number;
  /** F >= 1: the most concurrent reads that one copy of a partition may serve. */
  readonly maxSourceFanout: number;
  /** How the job is run; it decides the shape of the fan-out tree. */
  readonly mode: PlanMode;
}

/** One copy of one partition, and the sled it lives on. */
export type CopyNode =
  | { readonly kind: 'snapshot'; readonly sled: number }
  | { readonly kind: 'intermediary'; readonly id: string; readonly sled: number }
  | { readonly kind: 'target'; readonly target: number; readonly sled: number };

/** Copy a partition's chunks from one copy to a new one. */
export interface CopyTask {
  /** Unique and stable: `p3-t12` writes target 12's partition 3, `p3-i7` writes intermediary `p3-i7`. */
  readonly id: string;
  readonly partition: number;
  /** Chunk indices that hold data, in copy order; empty when the partition holds no data. */
  readonly chunks: readonly number[];
  readonly from: CopyNode;
  readonly to: CopyNode;
  /** 1-based. In 'pipelined' plans it equals `depth`, for reporting only. */
  readonly round: number;
  /** Distance of `to` from the snapshot in the tree; 1 means it reads the snapshot. */
  readonly depth: number;
  /** The task that writes `from`; absent when `from` is the snapshot. */
  readonly parentTask?: string;
}

/** The tasks of a copy job, in an order that executors may start them in. */
export interface CopyPlan {
  readonly mode: PlanMode;
  /** Number of rounds (the highest task round; 0 without tasks); for 'pipelined' plans, the tree depth. */
  readonly rounds: number;
  /** Every parent task comes before its children, so executors can start tasks in order. */
  readonly tasks: readonly CopyTask[];
  /** Temporary copies, to be removed when the job ends, whether it succeeds or fails. */
  readonly intermediaries: ReadonlyArray<{ readonly partition: number; readonly id: string; readonly sled: number }>;
  /**
   * `[target][partition number]` -> the sled that holds that target's copy of that partition;
   * -1 for a partition number below the highest that the input did not list.
   */
  readonly targetSleds: ReadonlyArray<ReadonlyArray<number>>;
  /** A human-readable summary of the fan-out, level by level, for `npm run demo`. */
  readonly fanoutTree: string;
}

/**
 * The fewest rounds that can make `targets` copies when each source serves at most
 * `maxSourceFanout` reads per round: the smallest R >= 1 with (F+1)^(R-1) × F >= N. Each
 * duplication round multiplies the sources by at most F+1, and the last round serves F
 * targets per source; targets are never sources, so no plan can do better.
 */
export function minimumRounds(targets: number, maxSourceFanout: number): number {
  requireCount('targets', targets);
  requireCount('maxSourceFanout', maxSourceFanout);
  let rounds = 1;
  let servable = maxSourceFanout;
  while (servable < targets) {
    servable *= maxSourceFanout + 1;
    rounds += 1;
  }
  return rounds;
}

/**
 * Plans a copy job with intermediaries. 'rounds' builds the round-by-round tree, which takes
 * minimumRounds(N, F) rounds. 'pipelined' builds a tree of minimal depth in which no copy
 * serves more than F reads in total, because all of its tasks run at the same time.
 */
export function planCopyJob(input: PlanInput): CopyPlan {
  validate(input);
  if (input.mode !== 'rounds' && input.mode !== 'pipelined') {
    throw new ValidationError(`mode must be 'rounds' or 'pipelined'; got ${JSON.stringify(input.mode)}.`);
  }
  const N = input.targets;
  const F = input.maxSourceFanout;
  // With F = 1 a copy may feed only one other copy for the whole job, and targets cannot feed
  // anything, so a pipelined tree could make only one target. The round tree can reuse each
  // source once per round, so it is the plan that is run.
  if (input.mode === 'pipelined' && (F >= 2 || N === 1)) {
    const depth = pipelinedDepth(N, F);
    const arity = pipelinedArity(N, F, depth);
    return assemble(input, 'pipelined', depth, (builder, snapshot) => buildPipelinedTree(builder, snapshot, N, arity), [
      `Tree of depth ${depth}: each copy feeds at most ${arity} others in total (F = ${F}).`,
    ]);
  }
  const notes =
    input.mode === 'pipelined'
      ? [`Pipelined mode was asked for, but with F = 1 a copy can feed only one other copy, so this is the round-by-round plan; run it as rounds.`]
      : [];
  return assemble(input, 'rounds', minimumRounds(N, F), (builder, snapshot) => buildRoundsTree(builder, snapshot, N, F), notes);
}

/**
 * The baseline without intermediaries: every target reads the snapshot, in waves of at most
 * F concurrent reads, so the job takes ceil(N/F) rounds. Benchmarks compare against it.
 */
export function planDirectCopy(input: Omit<PlanInput, 'mode'>): CopyPlan {
  validate(input);
  const N = input.targets;
  const F = input.maxSourceFanout;
  return assemble(input, 'rounds', Math.ceil(N / F), (builder, snapshot) => {
    for (let t = 0; t < N; t++) builder.addTask(snapshot, builder.target(t, 1), Math.floor(t / F) + 1);
  }, ['Direct copy: no intermediaries; each snapshot partition serves its targets in waves.']);
}

// ---------------------------------------------------------------------------------------------
// Validation

function requireCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a whole number of at least 1; got ${String(value)}.`);
  }
}

function validate(input: Omit<PlanInput, 'mode'>): void {
  requireCount('targets', input.targets);
  requireCount('sledCount', input.sledCount);
  requireCount('maxSourceFanout', input.maxSourceFanout);
  const { partitions, sledCount } = input;
  // An empty list is a snapshot with nothing to copy (callers may leave out partitions
  // without data), so it gives an empty plan rather than an error.
  if (!Array.isArray(partitions)) throw new ValidationError('partitions must be a list.');
  const seen = new Set<number>();
  for (const { partition, chunks, sourceSled } of partitions) {
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new ValidationError(`Partition numbers are whole numbers from 0; got ${String(partition)}.`);
    }
    if (seen.has(partition)) throw new ValidationError(`Partition ${partition} is listed more than once.`);
    seen.add(partition);
    if (!Number.isSafeInteger(sourceSled) || sourceSled < 0 || sourceSled >= sledCount) {
      throw new ValidationError(
        `Partition ${partition} has source sled ${String(sourceSled)}, but sleds are numbered 0 to ${sledCount - 1}.`,
      );
    }
    const seenChunks = new Set<number>();
    for (const chunk of chunks) {
      if (!Number.isSafeInteger(chunk) || chunk < 0) {
        throw new ValidationError(`Partition ${partition} lists chunk ${String(chunk)}; chunk indices are whole numbers from 0.`);
      }
      if (seenChunks.has(chunk)) throw new ValidationError(`Partition ${partition} lists chunk ${chunk} more than once.`);
      seenChunks.add(chunk);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tree shapes

/** Minimal depth D of a tree whose copies feed at most F others: the smallest D >= 1 with F^D >= N. */
function pipelinedDepth(N: number, F: number): number {
  let depth = 1;
  let leaves = F;
  while (leaves < N) {
    leaves *= F;
    depth += 1;
  }
  return depth;
}

/**
 * The smallest fan-out f <= F that still reaches N targets at depth D. Every task runs at
 * once, so a copy with f children gives each about 1/f of its sled's egress; a smaller f
 * at the same depth makes every link faster, at the cost of a few more intermediaries.
 */
function pipelinedArity(N: number, F: number, depth: number): number {
  for (let f = 1; f < F; f++) if (f ** depth >= N) return f;
  return F;
}

/**
 * A heap-shaped tree of arity f: copies are numbered in breadth-first order, copy k feeds
 * copies kf+1..kf+f, the first I copies (the snapshot and I-1 intermediaries) are inner
 * nodes and the rest are the N targets. I = ceil((N-1)/(f-1)) is the fewest inner nodes that
 * can have N leaves, and a heap keeps every leaf within depth ceil(log_f N).
 */
function buildPipelinedTree(builder: PartitionBuilder, snapshot: DraftNode, N: number, arity: number): void {
  const inner = N === 1 ? 1 : Math.ceil((N - 1) / (arity - 1));
  const nodes: DraftNode[] = [snapshot];
  for (let k = 1; k < inner + N; k++) {
    const parent = nodes[Math.floor((k - 1) / arity)]!;
    const depth = parent.depth + 1;
    const node = k < inner ? builder.intermediary(depth) : builder.target(k - inner, depth);
    builder.addTask(parent, node, depth);
    nodes.push(node);
  }
}

/**
 * The round-by-round tree. While the sources cannot serve N targets in one round, every
 * source makes up to F intermediaries; it stops at ceil(N/F) sources, because more would add
 * copies without saving a round. New copies go round-robin over the sources, so in a partial
 * round no source serves more reads than it must. The last round spreads the targets evenly.
 */
function buildRoundsTree(builder: PartitionBuilder, snapshot: DraftNode, N: number, F: number): void {
  const sources: DraftNode[] = [snapshot];
  const enough = Math.ceil(N / F);
  let round = 1;
  while (sources.length * F < N) {
    const current = sources.length;
    const making = Math.min(current * F, enough - current);
    for (let j = 0; j < making; j++) {
      const parent = sources[j % current]!;
      const node = builder.intermediary(parent.depth + 1);
      builder.addTask(parent, node, round);
      sources.push(node);
    }
    round += 1;
  }
  for (let t = 0; t < N; t++) {
    const parent = sources[t % sources.length]!;
    builder.addTask(parent, builder.target(t, parent.depth + 1), round);
  }
}

// ---------------------------------------------------------------------------------------------
// Drafting: the shape of each partition's tree, before sleds are chosen

interface DraftNode {
  readonly kind: CopyNode['kind'];
  readonly id: string;
  readonly target: number;
  readonly depth: number;
  /** Chunks in the partition: every task that reads or writes this copy moves all of them. */
  readonly weight: number;
  sled: number;
  /** Placement slot -> how many tasks that carry data read this copy in that slot. */
  readonly reads: Map<number, number>;
  /** The task that writes this copy; absent for the snapshot. */
  writtenBy?: DraftTask;
  out?: CopyNode;
}

interface DraftTask {
  readonly id: string;
  readonly partition: number;
  readonly chunks: readonly number[];
  readonly from: DraftNode;
  readonly to: DraftNode;
  readonly round: number;
}

interface PartitionBuilder {
  intermediary(depth: number): DraftNode;
  target(target: number, depth: number): DraftNode;
  addTask(from: DraftNode, to: DraftNode, round: number): void;
}

type TreeShape = (builder: PartitionBuilder, snapshot: DraftNode) => void;

function assemble(
  input: Omit<PlanInput, 'mode'>,
  mode: PlanMode,
  slotRounds: number,
  shape: TreeShape,
  notes: readonly string[],
): CopyPlan {
  const partitions = [...input.partitions].sort((a, b) => a.partition - b.partition);
  // A slot is a span of time in which tasks run together: a round, or the whole pipelined job.
  const slotOf = (round: number): number => (mode === 'pipelined' ? 0 : round - 1);
  const drafts: DraftTask[] = [];
  const snapshots: DraftNode[] = [];

  for (const partitionInput of partitions) {
    const { partition, sourceSled } = partitionInput;
    // Every task of a partition carries the same list; one frozen copy keeps callers from
    // changing a plan after the fact.
    const chunks = Object.freeze([...partitionInput.chunks]);
    const weight = chunks.length;
    const snapshot = draftNode('snapshot', '', -1, 0, weight, sourceSled);
    snapshots.push(snapshot);
    let nextIntermediary = 1;
    const builder: PartitionBuilder = {
      intermediary: (depth) => draftNode('intermediary', `p${partition}-i${nextIntermediary++}`, -1, depth, weight, -1),
      target: (target, depth) => draftNode('target', '', target, depth, weight, -1),
      addTask(from, to, round) {
        const id = to.kind === 'target' ? `p${partition}-t${to.target}` : to.id;
        const task: DraftTask = { id, partition, chunks, from, to, round };
        to.writtenBy = task;
        if (chunks.length > 0) from.reads.set(slotOf(round), (from.reads.get(slotOf(round)) ?? 0) + 1);
        drafts.push(task);
      },
    };
    if (chunks.length === 0) {
      // Nothing to read: each target's empty partition is made straight away, and no
      // intermediary is worth creating and removing.
      for (let t = 0; t < input.targets; t++) builder.addTask(snapshot, builder.target(t, 1), 1);
    } else {
      shape(builder, snapshot);
    }
  }

  // Stable sort: within a round (or depth) tasks keep partition order, then creation order,
  // and a parent is always in an earlier round or at a smaller depth than its children.
  const ordered = drafts
    .map((task, index) => ({ task, index }))
    .sort((a, b) => a.task.round - b.task.round || a.task.partition - b.task.partition || a.index - b.index)
    .map(({ task }) => task);

  place(ordered, snapshots, input.sledCount, mode === 'pipelined' ? 1 : slotRounds, slotOf);
  // The tree's round count; 1 when no partition holds data (every task is then in round 1).
  const rounds = ordered.at(-1)?.round ?? 0;

  const tasks: CopyTask[] = ordered.map((draft) => {
    const parent = draft.from.writtenBy;
    const task: CopyTask = {
      id: draft.id,
      partition: draft.partition,
      chunks: draft.chunks,
      from: copyNode(draft.from),
      to: copyNode(draft.to),
      round: draft.round,
      depth: draft.to.depth,
      ...(parent ? { parentTask: parent.id } : {}),
    };
    return task;
  });
  const intermediaries = tasks.flatMap(({ partition, to }) => (to.kind === 'intermediary' ? [{ partition, id: to.id, sled: to.sled }] : []));
  const columns = (partitions.at(-1)?.partition ?? -1) + 1;
  const targetSleds = Array.from({ length: input.targets }, () => new Array<number>(columns).fill(-1));
  for (const task of tasks) {
    if (task.to.kind === 'target') targetSleds[task.to.target]![task.partition] = task.to.sled;
  }

  const plan = { mode, rounds, tasks, intermediaries, targetSleds };
  return { ...plan, fanoutTree: renderFanout(input, plan, notes) };
}

function draftNode(kind: CopyNode['kind'], id: string, target: number, depth: number, weight: number, sled: number): DraftNode {
  return { kind, id, target, depth, weight, sled, reads: new Map() };
}

function copyNode(node: DraftNode): CopyNode {
  // One object per copy, shared by the task that writes it and the tasks that read it.
  node.out ??=
    node.kind === 'snapshot'
      ? { kind: 'snapshot', sled: node.sled }
      : node.kind === 'intermediary'
        ? { kind: 'intermediary', id: node.id, sled: node.sled }
        : { kind: 'target', target: node.target, sled: node.sled };
  return node.out;
}

// ---------------------------------------------------------------------------------------------
// Placement

/**
 * Chooses a sled for every copy, greedily, in task order (so a parent is placed before its
 * children). Sleds are full-duplex links, so ingress and egress are counted apart, per slot,
 * in chunks. A copy adds its chunks to its sled's ingress in the slot it is written, and
 * chunks × readers to its egress in each slot it is read. The sled chosen is the one where
 * the busiest of those counters ends up lowest. Ties go to the sled holding the fewest copies,
 * snapshots included (which also spreads copies of empty partitions), then to the lowest sled
 * number, so the result is deterministic. While there is another sled, a copy never goes on
 * its parent's: an intermediary there would add no new link to serve reads from, and
 * spreading copies over links is the point of duplicating.
 */
function place(
  tasks: readonly DraftTask[],
  snapshots: readonly DraftNode[],
  sledCount: number,
  slotCount: number,
  slotOf: (round: number) => number,
): void {
  const ingress = new Float64Array(slotCount * sledCount);
  const egress = new Float64Array(slotCount * sledCount);
  const copies = new Int32Array(sledCount);
  // Snapshot sleds are fixed, so their reads are known load before anything is placed.
  for (const snapshot of snapshots) {
    copies[snapshot.sled]! += 1;
    for (const [slot, readers] of snapshot.reads) egress[slot * sledCount + snapshot.sled]! += readers * snapshot.weight;
  }

  for (const task of tasks) {
    const node = task.to;
    const weight = node.weight;
    const writeCell = slotOf(task.round) * sledCount;
    let best = -1;
    let bestCost = Infinity;
    for (let sled = 0; sled < sledCount; sled++) {
      if (sledCount > 1 && sled === task.from.sled) continue;
      let cost = ingress[writeCell + sled]! + weight;
      for (const [slot, readers] of node.reads) cost = Math.max(cost, egress[slot * sledCount + sled]! + readers * weight);
      if (cost < bestCost || (cost === bestCost && copies[sled]! < copies[best]!)) {
        best = sled;
        bestCost = cost;
      }
    }
    node.sled = best;
    ingress[writeCell + best]! += weight;
    for (const [slot, readers] of node.reads) egress[slot * sledCount + best]! += readers * weight;
    copies[best]! += 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderFanout(
  input: Omit<PlanInput, 'mode'>,
  plan: Omit<CopyPlan, 'fanoutTree'>,
  notes: readonly string[],
): string {
  const { tasks } = plan;
  const P = input.partitions.length;
  const withData = input.partitions.filter((p) => p.chunks.length > 0);
  const level = plan.mode === 'pipelined' ? 'depth' : 'round';
  const lines: string[] = [
    `${plan.mode} copy plan: ${count(P, 'partition')} (${withData.length} with data), ${count(input.targets, 'target')}, ` +
      `at most ${count(input.maxSourceFanout, 'concurrent read')} per source copy, ${count(input.sledCount, 'sled')}; ` +
      (plan.mode === 'pipelined' ? `tree depth ${plan.rounds}.` : `${count(plan.rounds, 'round')}.`),
    ...notes,
  ];
  const sample = withData.map((p) => p.partition).sort((a, b) => a - b)[0];
  if (sample !== undefined) {
    lines.push(`Every partition with data fans out alike; partition ${sample}:`);
    const byLevel = new Map<number, CopyTask[]>();
    for (const task of tasks) {
      if (task.partition !== sample) continue;
      const key = plan.mode === 'pipelined' ? task.depth : task.round;
      const group = byLevel.get(key);
      if (group) group.push(task);
      else byLevel.set(key, [task]);
    }
    for (const [key, group] of [...byLevel].sort((a, b) => a[0] - b[0])) {
      const readers = new Map<string, number>();
      for (const task of group) {
        const source = task.from.kind === 'intermediary' ? task.from.id : 'snapshot';
        readers.set(source, (readers.get(source) ?? 0) + 1);
      }
      const fromSnapshot = readers.has('snapshot') ? 1 : 0;
      const fromIntermediaries = readers.size - fromSnapshot;
      const made = group.filter((task) => task.to.kind === 'intermediary').length;
      const targets = group.length - made;
      const sources = [fromSnapshot ? 'snapshot' : '', fromIntermediaries ? count(fromIntermediaries, 'intermediary', 'intermediaries') : '']
        .filter(Boolean)
        .join(' + ');
      const writes = [made ? count(made, 'intermediary', 'intermediaries') : '', targets ? count(targets, 'target') : '']
        .filter(Boolean)
        .join(' + ');
      lines.push(`  ${level} ${key}: ${sources} -> ${writes} (busiest source serves ${Math.max(...readers.values())})`);
    }
  }
  if (withData.length < P) {
    lines.push(`Partitions without data: each target's copy is made in round 1 and reads nothing.`);
  }
  const written = new Map<number, number>();
  for (const task of tasks) written.set(task.to.sled, (written.get(task.to.sled) ?? 0) + 1);
  const chunkCopies = tasks.reduce((sum, task) => sum + task.chunks.length, 0);
  lines.push(
    `Totals: ${count(plan.intermediaries.length, 'intermediary copy', 'intermediary copies')} (removed after the job), ` +
      `${count(tasks.length - plan.intermediaries.length, 'target copy', 'target copies')}, ${count(chunkCopies, 'chunk copy', 'chunk copies')}; ` +
      `the busiest sled receives ${count(Math.max(0, ...written.values()), 'copy', 'copies')}.`,
  );
  return lines.join('\n');
}

function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
