import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { modelJobSeconds } from '../../lib/copy-jobs/bandwidth-model.js';
import type { CopyNode, CopyPlan, CopyTask, PlanInput } from '../../lib/copy-jobs/copy-plan.js';
import { minimumRounds, planCopyJob, planDirectCopy } from '../../lib/copy-jobs/planner.js';
import { ValidationError } from '../../lib/errors.js';

const MIB = 1024 * 1024;
const oneMiBPerSecond = { chunkBytes: MIB, sledBytesPerSecond: MIB };

type Input = Omit<PlanInput, 'mode'>;

/** A copy's identity across tasks: the snapshot and targets are named per partition. */
function nodeKey(node: CopyNode, partition: number): string {
  if (node.kind === 'intermediary') return node.id;
  return node.kind === 'snapshot' ? `p${partition}/snapshot` : `p${partition}/t${node.target}`;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function chunksOf(count: number): number[] {
  return Array.from({ length: count }, (_, c) => c);
}

/** The smallest D >= 1 with F^D >= N: the depth a tree of fan-out F needs for N leaves. */
function treeDepth(N: number, F: number): number {
  let depth = 1;
  while (F ** depth < N) depth += 1;
  return depth;
}

/** A plain assertion: plans have thousands of tasks, and one `expect` per fact is too slow. */
function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(message());
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** Invariants that every plan (rounds, pipelined or direct) must keep. */
function checkCommon(input: Input, plan: CopyPlan): void {
  const { tasks } = plan;
  const byPartition = new Map(input.partitions.map((p) => [p.partition, p]));
  const indexOf = new Map(tasks.map((task, i) => [task.id, i]));
  check(indexOf.size === tasks.length, () => 'task ids are not unique');

  // Every target gets every chunk of every partition exactly once.
  const writes = countBy(
    tasks.filter((task) => task.to.kind === 'target'),
    (task) => nodeKey(task.to, task.partition),
  );
  check(writes.size === input.targets * input.partitions.length, () => `${writes.size} (target, partition) pairs are written`);
  for (const [key, count] of writes) check(count === 1, () => `${key} is written ${count} times`);
  for (const task of tasks) {
    check(sameList(task.chunks, byPartition.get(task.partition)!.chunks), () => `${task.id} does not carry the partition's chunk list`);
    if (task.to.kind === 'target') {
      check(plan.targetSleds[task.to.target]![task.partition] === task.to.sled, () => `targetSleds disagrees with ${task.id}`);
    }
  }
  check(plan.targetSleds.length === input.targets, () => 'targetSleds has a row per target');
  const columns = Math.max(...input.partitions.map((p) => p.partition)) + 1;
  for (const row of plan.targetSleds) check(row.length === columns, () => 'targetSleds has a column per partition number');

  // Every intermediary is written exactly once, read only by later tasks, and read at all.
  const written = countBy(
    tasks.filter((task) => task.to.kind === 'intermediary'),
    (task) => nodeKey(task.to, task.partition),
  );
  for (const [key, count] of written) check(count === 1, () => `${key} is written ${count} times`);
  expect(plan.intermediaries.map((i) => i.id).sort()).toEqual([...written.keys()].sort());
  const read = new Set<string>();
  for (const [i, task] of tasks.entries()) {
    check(task.from.kind !== 'target', () => `${task.id} reads a target`);
    if (task.from.kind === 'snapshot') {
      check(task.parentTask === undefined, () => `${task.id} reads the snapshot but names a parent task`);
      check(task.from.sled === byPartition.get(task.partition)!.sourceSled, () => `${task.id} reads the snapshot on the wrong sled`);
      check(task.depth === 1, () => `${task.id} reads the snapshot at depth ${task.depth}`);
    } else {
      const parentIndex = indexOf.get(task.parentTask ?? '');
      check(parentIndex !== undefined && parentIndex < i, () => `${task.id} comes before its parent ${task.parentTask}`);
      const parent = tasks[parentIndex]!;
      check(
        parent.to.kind === 'intermediary' && parent.to.id === task.from.id && parent.to.sled === task.from.sled,
        () => `${task.id} does not read what ${parent.id} wrote`,
      );
      check(parent.partition === task.partition, () => `${task.id} reads another partition`);
      check(task.depth === parent.depth + 1, () => `${task.id} has depth ${task.depth} under depth ${parent.depth}`);
      read.add(task.from.id);
    }
  }
  check(read.size === written.size, () => 'some intermediary is never read');
  for (const intermediary of plan.intermediaries) {
    const writer = tasks[indexOf.get(intermediary.id)!]!;
    expect(writer.to).toEqual({ kind: 'intermediary', id: intermediary.id, sled: intermediary.sled });
    expect(writer.partition).toBe(intermediary.partition);
  }

  // Copies are placed on real sleds, never on their parent's sled when there is another.
  for (const task of tasks) {
    check(task.to.sled >= 0 && task.to.sled < input.sledCount, () => `${task.id} writes to sled ${task.to.sled}`);
    check(input.sledCount === 1 || task.to.sled !== task.from.sled, () => `${task.id} copies within sled ${task.to.sled}`);
    // Partitions without data need no fan-out: their targets are made in round 1.
    check(task.chunks.length > 0 || (task.from.kind === 'snapshot' && task.round === 1), () => `${task.id} fans out an empty partition`);
  }
  expect(Math.max(...tasks.map((task) => task.round))).toBe(plan.rounds);
}

/** No copy serves more than F tasks that carry data in any one round. */
function checkRoundFanout(input: Input, plan: CopyPlan): void {
  const reads = countBy(
    plan.tasks.filter((task) => task.chunks.length > 0),
    (task) => `${task.round}/${nodeKey(task.from, task.partition)}`,
  );
  for (const [key, count] of reads) check(count <= input.maxSourceFanout, () => `${key} serves ${count} reads`);
}

function checkRoundsPlan(input: Input, plan: CopyPlan): void {
  checkCommon(input, plan);
  checkRoundFanout(input, plan);
  expect(plan.mode).toBe('rounds');
  const hasData = input.partitions.some((p) => p.chunks.length > 0);
  expect(plan.rounds).toBe(hasData ? minimumRounds(input.targets, input.maxSourceFanout) : 1);
  const roundOf = new Map(plan.tasks.map((task) => [task.id, task.round]));
  for (const task of plan.tasks) {
    check(!task.parentTask || roundOf.get(task.parentTask)! < task.round, () => `${task.id} runs in its parent's round`);
    // Targets are written only in the last round; earlier rounds only duplicate.
    check(task.chunks.length === 0 || (task.to.kind === 'target') === (task.round === plan.rounds), () => `${task.id} is in the wrong round`);
  }
}

function checkPipelinedPlan(input: Input, plan: CopyPlan): void {
  checkCommon(input, plan);
  const N = input.targets;
  const F = input.maxSourceFanout;
  if (F === 1 && N > 1) {
    // A copy could feed only one other copy in the whole job, so the round plan is used.
    expect(plan.fanoutTree).toMatch(/F = 1/);
    checkRoundsPlan(input, plan);
    return;
  }
  expect(plan.mode).toBe('pipelined');
  // All tasks run at once, so F limits a copy's children over the whole job.
  const children = countBy(
    plan.tasks.filter((task) => task.chunks.length > 0),
    (task) => nodeKey(task.from, task.partition),
  );
  for (const [key, count] of children) check(count <= F, () => `${key} feeds ${count} copies`);
  for (const task of plan.tasks) check(task.round === task.depth, () => `${task.id} has round ${task.round} at depth ${task.depth}`);
  const hasData = input.partitions.some((p) => p.chunks.length > 0);
  const D = Math.max(...plan.tasks.map((task) => task.depth));
  expect(plan.rounds).toBe(D);
  if (!hasData || N === 1) {
    expect(D).toBe(1);
  } else {
    // Minimal depth: F^(D-1) < N <= F^D.
    expect(F ** (D - 1)).toBeLessThan(N);
    expect(N).toBeLessThanOrEqual(F ** D);
  }
}

function checkDirectPlan(input: Input, plan: CopyPlan): void {
  checkCommon(input, plan);
  checkRoundFanout(input, plan);
  expect(plan.intermediaries).toEqual([]);
  const hasData = input.partitions.some((p) => p.chunks.length > 0);
  expect(plan.rounds).toBe(hasData ? Math.ceil(input.targets / input.maxSourceFanout) : 1);
  for (const task of plan.tasks) check(task.from.kind === 'snapshot', () => `${task.id} does not read the snapshot`);
}

/** Random inputs over the ranges the service plans for; partitions arrive in any order, with gaps in their numbers. */
const inputs = fc
  .record({
    targets: fc.integer({ min: 1, max: 300 }),
    maxSourceFanout: fc.integer({ min: 1, max: 8 }),
    sledCount: fc.integer({ min: 1, max: 64 }),
    partitionCount: fc.integer({ min: 1, max: 6 }),
  })
  .chain(({ partitionCount, sledCount, ...rest }) =>
    fc.record({
      partitions: fc.tuple(
        ...Array.from({ length: partitionCount }, (_, p) =>
          fc.record({
            partition: fc.constantFrom(p, 10 + p),
            chunks: fc.oneof(fc.constant([]), fc.uniqueArray(fc.nat({ max: 4095 }), { minLength: 1, maxLength: 8 })),
            sourceSled: fc.nat({ max: sledCount - 1 }),
          }),
        ),
      ),
      rotate: fc.nat({ max: partitionCount - 1 }),
    }).map(({ partitions, rotate }): Input => ({
      ...rest,
      sledCount,
      partitions: [...partitions.slice(rotate), ...partitions.slice(0, rotate)],
    })),
  );

describe('minimumRounds', () => {
  it.each([
    [1, 1, 1],
    [2, 1, 2],
    [4, 1, 3],
    [5, 1, 4],
    [4, 4, 1],
    [5, 4, 2],
    [20, 4, 2],
    [21, 4, 3],
    [200, 4, 4],
    [500, 4, 4],
    [501, 4, 5],
  ])('N = %i, F = %i needs %i round(s)', (N, F, R) => expect(minimumRounds(N, F)).toBe(R));

  it('is the fewest rounds any round-by-round plan can manage (exhaustive search, N <= 60, F <= 5)', () => {
    for (let F = 1; F <= 5; F++) {
      for (let N = 1; N <= 60; N++) {
        // best(r, s): the most targets r rounds can write starting from s sources, when each
        // source serves F reads per round, each read makes an intermediary or a target, and
        // only the snapshot and intermediaries are sources. Sources beyond N are never needed.
        const memo = new Map<string, number>();
        const best = (rounds: number, sources: number): number => {
          if (rounds === 0) return 0;
          const key = `${rounds}/${sources}`;
          let answer = memo.get(key);
          if (answer === undefined) {
            answer = 0;
            for (let made = 0; made <= sources * F; made++) {
              answer = Math.max(answer, sources * F - made + best(rounds - 1, Math.min(N, sources + made)));
            }
            memo.set(key, answer);
          }
          return answer;
        };
        const R = minimumRounds(N, F);
        expect(best(R, 1)).toBeGreaterThanOrEqual(N);
        expect(best(R - 1, 1)).toBeLessThan(N);
        expect((F + 1) ** (R - 1) * F).toBeGreaterThanOrEqual(N);
        if (R >= 2) expect((F + 1) ** (R - 2) * F).toBeLessThan(N);
      }
    }
  });

  it.each([
    [0, 4],
    [4, 0],
    [-1, 4],
    [2.5, 4],
    [Number.NaN, 4],
  ])('refuses N = %d, F = %d', (N, F) => {
    expect(() => minimumRounds(N, F)).toThrow(ValidationError);
  });
});

describe('planCopyJob in rounds mode', () => {
  it('keeps every invariant for random jobs', () => {
    fc.assert(
      fc.property(inputs, (input) => checkRoundsPlan(input, planCopyJob({ ...input, mode: 'rounds' }))),
      { numRuns: 100 },
    );
  });

  it('builds the round tree: 200 targets at F = 4 take 4 rounds', () => {
    const input: Input = { partitions: [{ partition: 0, chunks: chunksOf(3), sourceSled: 0 }], targets: 200, sledCount: 64, maxSourceFanout: 4 };
    const plan = planCopyJob({ ...input, mode: 'rounds' });
    checkRoundsPlan(input, plan);
    const perRound = [1, 2, 3, 4].map((round) => plan.tasks.filter((task) => task.round === round));
    // 1 -> 5 -> 25 sources, then only the 25 more that 200 / 4 = 50 sources need, then 200 targets.
    expect(perRound.map((tasks) => tasks.length)).toEqual([4, 20, 25, 200]);
    expect(plan.intermediaries).toHaveLength(49);
    expect(plan.tasks[0]!.id).toBe('p0-i1');
    expect(plan.fanoutTree).toContain('round 3: snapshot + 24 intermediaries -> 25 intermediaries');
    expect(plan.fanoutTree).toContain('round 4: snapshot + 49 intermediaries -> 200 targets');
  });

  it('is deterministic and does not depend on the order partitions are listed in', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const plan = planCopyJob({ ...input, mode: 'rounds' });
        expect(planCopyJob({ ...input, mode: 'rounds' })).toEqual(plan);
        expect(planCopyJob({ ...input, partitions: [...input.partitions].reverse(), mode: 'rounds' })).toEqual(plan);
      }),
      { numRuns: 15 },
    );
  });
});

describe('planCopyJob in pipelined mode', () => {
  it('keeps every invariant for random jobs', () => {
    fc.assert(
      fc.property(inputs, (input) => checkPipelinedPlan(input, planCopyJob({ ...input, mode: 'pipelined' }))),
      { numRuns: 100 },
    );
  });

  it('builds a tree of minimal depth whose copies feed at most F others', () => {
    const input: Input = { partitions: [{ partition: 0, chunks: chunksOf(3), sourceSled: 0 }], targets: 200, sledCount: 64, maxSourceFanout: 4 };
    const plan = planCopyJob({ ...input, mode: 'pipelined' });
    checkPipelinedPlan(input, plan);
    expect(plan.rounds).toBe(4);
    expect(plan.fanoutTree).toContain('depth 1: snapshot -> 4 intermediaries');
  });

  it('uses the smallest fan-out that keeps the depth minimal', () => {
    // F = 8, N = 9 needs depth 2; fan-out 3 also reaches 9 targets at depth 2, and gives
    // every link a third of a sled's egress rather than an eighth.
    const input: Input = { partitions: [{ partition: 0, chunks: chunksOf(2), sourceSled: 0 }], targets: 9, sledCount: 32, maxSourceFanout: 8 };
    const plan = planCopyJob({ ...input, mode: 'pipelined' });
    checkPipelinedPlan(input, plan);
    const children = countBy(plan.tasks, (task) => nodeKey(task.from, task.partition));
    expect(Math.max(...children.values())).toBe(3);
    expect(plan.rounds).toBe(treeDepth(9, 8));
  });

  it('falls back to the round plan when F = 1, and says so', () => {
    const input: Input = { partitions: [{ partition: 0, chunks: chunksOf(2), sourceSled: 0 }], targets: 5, sledCount: 8, maxSourceFanout: 1 };
    const plan = planCopyJob({ ...input, mode: 'pipelined' });
    expect(plan.mode).toBe('rounds');
    expect(plan.rounds).toBe(4);
    expect(plan.fanoutTree).toMatch(/Pipelined mode was asked for/);
  });
});

describe('planDirectCopy', () => {
  it('keeps every invariant for random jobs, with no intermediaries and ceil(N/F) waves', () => {
    fc.assert(
      fc.property(inputs, (input) => checkDirectPlan(input, planDirectCopy(input))),
      { numRuns: 100 },
    );
  });

  it('spreads targets over the other sleds', () => {
    const input: Input = { partitions: [{ partition: 0, chunks: chunksOf(4), sourceSled: 0 }], targets: 8, sledCount: 9, maxSourceFanout: 4 };
    const plan = planDirectCopy(input);
    expect(plan.rounds).toBe(2);
    expect(new Set(plan.targetSleds.map((row) => row[0])).size).toBe(8);
    expect(plan.targetSleds.map((row) => row[0])).not.toContain(0);
  });
});

describe('placement', () => {
  it('puts every copy of a small pipelined tree on its own sled when there are enough', () => {
    const input: Input = { partitions: [{ partition: 0, chunks: chunksOf(4), sourceSled: 3 }], targets: 4, sledCount: 8, maxSourceFanout: 2 };
    const plan = planCopyJob({ ...input, mode: 'pipelined' });
    const sleds = [3, ...plan.tasks.map((task) => task.to.sled)];
    expect(new Set(sleds).size).toBe(sleds.length);
  });

  it('balances copies written per sled across partitions', () => {
    const input: Input = {
      partitions: Array.from({ length: 4 }, (_, partition) => ({ partition, chunks: chunksOf(4), sourceSled: partition })),
      targets: 16,
      sledCount: 8,
      maxSourceFanout: 4,
    };
    const plan = planCopyJob({ ...input, mode: 'pipelined' });
    const perSled = countBy(plan.tasks, (task) => String(task.to.sled));
    expect(perSled.size).toBe(8);
    // 4 × (16 targets + 4 intermediaries) = 80 copies over 8 sleds.
    expect(Math.max(...perSled.values()) - Math.min(...perSled.values())).toBeLessThanOrEqual(1);
  });

  it('puts everything on the one sled when there is only one', () => {
    const plan = planCopyJob({ partitions: [{ partition: 0, chunks: [7], sourceSled: 0 }], targets: 9, sledCount: 1, maxSourceFanout: 2, mode: 'rounds' });
    expect(new Set(plan.tasks.map((task) => task.to.sled))).toEqual(new Set([0]));
  });
});

describe('partition lists', () => {
  it('accepts gaps in partition numbers (callers may leave out partitions without data)', () => {
    const input: Input = {
      partitions: [
        { partition: 5, chunks: [1, 2], sourceSled: 1 },
        { partition: 2, chunks: [0], sourceSled: 0 },
      ],
      targets: 3,
      sledCount: 4,
      maxSourceFanout: 2,
    };
    const plan = planCopyJob({ ...input, mode: 'rounds' });
    checkRoundsPlan(input, plan);
    for (const row of plan.targetSleds) {
      expect(row).toHaveLength(6);
      expect([row[0], row[1], row[3], row[4]]).toEqual([-1, -1, -1, -1]);
    }
  });

  it('gives an empty plan when there is nothing to copy', () => {
    const plan = planCopyJob({ partitions: [], targets: 3, sledCount: 4, maxSourceFanout: 2, mode: 'pipelined' });
    expect(plan).toMatchObject({ rounds: 0, tasks: [], intermediaries: [], targetSleds: [[], [], []] });
    expect(modelJobSeconds(plan, oneMiBPerSecond)).toBe(0);
  });
});

describe('input validation', () => {
  const valid: PlanInput = {
    partitions: [
      { partition: 0, chunks: [0, 1], sourceSled: 0 },
      { partition: 1, chunks: [], sourceSled: 1 },
    ],
    targets: 3,
    sledCount: 4,
    maxSourceFanout: 2,
    mode: 'rounds',
  };

  it.each<[string, Partial<PlanInput>, RegExp]>([
    ['no targets', { targets: 0 }, /targets must be a whole number of at least 1; got 0/],
    ['a fractional target count', { targets: 1.5 }, /targets must be a whole number/],
    ['no fan-out', { maxSourceFanout: 0 }, /maxSourceFanout must be a whole number of at least 1; got 0/],
    ['no sleds', { sledCount: 0 }, /sledCount must be a whole number of at least 1; got 0/],
    ['a source sled out of range', { partitions: [{ partition: 0, chunks: [], sourceSled: 4 }] }, /Partition 0 has source sled 4, but sleds are numbered 0 to 3/],
    ['a negative source sled', { partitions: [{ partition: 0, chunks: [], sourceSled: -1 }] }, /source sled -1/],
    [
      'a duplicate partition',
      { partitions: [{ partition: 0, chunks: [], sourceSled: 0 }, { partition: 0, chunks: [1], sourceSled: 1 }] },
      /Partition 0 is listed more than once/,
    ],
    ['a negative partition number', { partitions: [{ partition: -1, chunks: [], sourceSled: 0 }] }, /Partition numbers are whole numbers from 0; got -1/],
    ['a duplicate chunk', { partitions: [{ partition: 0, chunks: [3, 3], sourceSled: 0 }] }, /Partition 0 lists chunk 3 more than once/],
    ['a negative chunk', { partitions: [{ partition: 0, chunks: [-2], sourceSled: 0 }] }, /chunk -2/],
    ['an unknown mode', { mode: 'fast' as never }, /mode must be 'rounds', 'pipelined' or 'swarm'/],
  ])('refuses %s', (_name, change, message) => {
    const input = { ...valid, ...change };
    expect(() => planCopyJob(input)).toThrow(ValidationError);
    expect(() => planCopyJob(input)).toThrow(message);
    if (!('mode' in change)) expect(() => planDirectCopy(input)).toThrow(message);
  });
});

/** A hand-built task for model tests: `from` and `to` are sleds. */
function task(id: string, chunks: number, from: number, to: number, round = 1, parentTask?: string): CopyTask {
  return {
    id,
    partition: 0,
    chunks: chunksOf(chunks),
    from: parentTask ? { kind: 'intermediary', id: parentTask, sled: from } : { kind: 'snapshot', sled: from },
    to: { kind: 'target', target: 0, sled: to },
    round,
    depth: parentTask ? 2 : 1,
    ...(parentTask ? { parentTask } : {}),
  };
}

function handPlan(mode: CopyPlan['mode'], tasks: CopyTask[]): CopyPlan {
  return { mode, rounds: Math.max(...tasks.map((t) => t.round)), tasks, intermediaries: [], targetSleds: [], fanoutTree: '' };
}

describe('modelJobSeconds', () => {
  const onePartition = (chunks: number, sourceSled = 0) => [{ partition: 0, chunks: chunksOf(chunks), sourceSled }];

  it('copies 4 chunks of 1 MiB at 1 MiB/s into one target in 4 s, whatever the plan', () => {
    const input: Input = { partitions: onePartition(4), targets: 1, sledCount: 4, maxSourceFanout: 4 };
    expect(modelJobSeconds(planCopyJob({ ...input, mode: 'rounds' }), oneMiBPerSecond)).toBeCloseTo(4, 9);
    expect(modelJobSeconds(planCopyJob({ ...input, mode: 'pipelined' }), oneMiBPerSecond)).toBeCloseTo(4, 9);
    expect(modelJobSeconds(planDirectCopy(input), oneMiBPerSecond)).toBeCloseTo(4, 9);
  });

  it.each([9, 2])('direct, N = 8, F = 4, %i sleds: 2 waves of 4 readers sharing the egress, 16 s each', (sledCount) => {
    // With 2 sleds the 4 targets of a wave also share sled 1's ingress, equally: still 16 s.
    const plan = planDirectCopy({ partitions: onePartition(4), targets: 8, sledCount, maxSourceFanout: 4 });
    expect(modelJobSeconds(plan, oneMiBPerSecond)).toBeCloseTo(32, 9);
  });

  it('rounds, N = 4, F = 2: one intermediary in 4 s, then 2 sources × 2 readers in 8 s', () => {
    const plan = planCopyJob({ partitions: onePartition(4), targets: 4, sledCount: 8, maxSourceFanout: 2, mode: 'rounds' });
    expect(plan.intermediaries).toHaveLength(1);
    expect(modelJobSeconds(plan, oneMiBPerSecond)).toBeCloseTo(12, 9);
  });

  it('pipelined, N = 4, F = 2: chunks stream through two intermediaries; 10 s', () => {
    // The snapshot feeds i1 and i2 at 1/2 MiB/s each: they hold chunk c at 2c s and finish at
    // 8 s. Each feeds two targets at 1/2 MiB/s, which copy chunk c from 2c to 2c + 2 s, so the
    // last chunk lands at 10 s; the rounds plan needs 12 s.
    const plan = planCopyJob({ partitions: onePartition(4), targets: 4, sledCount: 8, maxSourceFanout: 2, mode: 'pipelined' });
    expect(plan.intermediaries).toHaveLength(2);
    expect(modelJobSeconds(plan, oneMiBPerSecond)).toBeCloseTo(10, 9);
  });

  it('pipelined: a child faster than its parent waits for each chunk; 9 s', () => {
    // Sled 0 feeds the intermediary (sled 1) and a target (sled 2) at 1/2 MiB/s each, so the
    // intermediary holds chunk c at 2c s. Its only child copies each chunk at the full 1 MiB/s
    // as soon as it exists, from 2c to 2c + 1 s: the last lands at 9 s.
    const intermediary: CopyTask = { ...task('p0-i1', 4, 0, 1), to: { kind: 'intermediary', id: 'p0-i1', sled: 1 } };
    const plan = handPlan('pipelined', [intermediary, task('p0-t0', 4, 0, 2), task('p0-t1', 4, 1, 3, 2, 'p0-i1')]);
    expect(modelJobSeconds(plan, oneMiBPerSecond)).toBeCloseTo(9, 9);
  });

  it('shares links max-min fairly: capacity a task cannot use goes to the others', () => {
    // A, B, D leave sled 0 at 1/3 MiB/s each. C shares sled 2's ingress with B only, so it
    // gets the 2/3 that B cannot use: 8 chunks by 12 s, when A, B and D finish; the last 4
    // at 1 MiB/s end at 16 s. (Equal splits of each link, without reuse, would take 18 s.)
    const plan = handPlan('rounds', [task('A', 4, 0, 1), task('B', 4, 0, 2), task('C', 12, 3, 2), task('D', 4, 0, 4)]);
    expect(modelJobSeconds(plan, oneMiBPerSecond)).toBeCloseTo(16, 9);
  });

  it('runs rounds one after another', () => {
    const plan = handPlan('rounds', [task('A', 4, 0, 1, 1), task('B', 2, 2, 3, 2)]);
    expect(modelJobSeconds(plan, oneMiBPerSecond)).toBeCloseTo(6, 9);
  });

  it('takes no time for partitions without data', () => {
    const plan = planCopyJob({ partitions: onePartition(0), targets: 50, sledCount: 8, maxSourceFanout: 2, mode: 'rounds' });
    expect(modelJobSeconds(plan, oneMiBPerSecond)).toBe(0);
  });

  it.each([
    [{ chunkBytes: 0, sledBytesPerSecond: 1 }, /chunkBytes must be a positive number/],
    [{ chunkBytes: 1, sledBytesPerSecond: -1 }, /sledBytesPerSecond must be a positive number/],
  ])('refuses bad parameters %j', (params, message) => {
    const plan = planDirectCopy({ partitions: onePartition(1), targets: 1, sledCount: 2, maxSourceFanout: 1 });
    expect(() => modelJobSeconds(plan, params)).toThrow(message);
  });

  const smallJobs = fc.record({
    targets: fc.integer({ min: 1, max: 60 }),
    maxSourceFanout: fc.integer({ min: 1, max: 8 }),
    sledCount: fc.integer({ min: 1, max: 64 }),
    chunks: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 4 }),
    mode: fc.constantFrom<PlanInput['mode']>('rounds', 'pipelined'),
  });

  it('takes less time with more bandwidth, more with bigger chunks, in exact proportion', () => {
    fc.assert(
      fc.property(smallJobs, fc.double({ min: 1.01, max: 10, noNaN: true }), ({ chunks, ...job }, factor) => {
        const plan = planCopyJob({ ...job, partitions: chunks.map((n, p) => ({ partition: p, chunks: chunksOf(n), sourceSled: p % job.sledCount })) });
        const base = modelJobSeconds(plan, oneMiBPerSecond);
        const faster = modelJobSeconds(plan, { chunkBytes: MIB, sledBytesPerSecond: MIB * factor });
        const bigger = modelJobSeconds(plan, { chunkBytes: MIB * factor, sledBytesPerSecond: MIB });
        expect(faster).toBeLessThanOrEqual(base);
        expect(faster).toBeCloseTo(base / factor, 6);
        expect(bigger).toBeCloseTo(base * factor, 6);
        if (chunks.some((n) => n > 0)) expect(faster).toBeLessThan(base);
      }),
      { numRuns: 30 },
    );
  });

  // With sleds to spare every copy gets a link of its own, so only the tree shape matters.
  const roomyJobs = fc.record({
    targets: fc.integer({ min: 1, max: 100 }),
    maxSourceFanout: fc.integer({ min: 1, max: 8 }),
    chunks: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 12 })), { minLength: 1, maxLength: 3 }),
  });
  const roomyInput = ({ targets, maxSourceFanout, chunks }: { targets: number; maxSourceFanout: number; chunks: number[] }): Input => ({
    targets,
    maxSourceFanout,
    sledCount: chunks.length * (2 * targets + 2),
    partitions: chunks.map((n, p) => ({ partition: p, chunks: chunksOf(n), sourceSled: p })),
  });

  it('pipelined takes no longer than rounds when sleds are plentiful and partitions hold >= 3 chunks', () => {
    // With 1 or 2 chunks there is nothing to overlap, and the deeper pipelined tree can lose.
    fc.assert(
      fc.property(roomyJobs, (job) => {
        const input = roomyInput(job);
        const rounds = modelJobSeconds(planCopyJob({ ...input, mode: 'rounds' }), oneMiBPerSecond);
        const pipelined = modelJobSeconds(planCopyJob({ ...input, mode: 'pipelined' }), oneMiBPerSecond);
        expect(pipelined).toBeLessThanOrEqual(rounds + 1e-9);
      }),
      { numRuns: 40 },
    );
  });

  it('rounds take no longer than direct copy when sleds are plentiful', () => {
    fc.assert(
      fc.property(roomyJobs, (job) => {
        const input = roomyInput(job);
        const rounds = modelJobSeconds(planCopyJob({ ...input, mode: 'rounds' }), oneMiBPerSecond);
        const direct = modelJobSeconds(planDirectCopy(input), oneMiBPerSecond);
        expect(rounds).toBeLessThanOrEqual(direct + 1e-9);
      }),
      { numRuns: 40 },
    );
  });
});
