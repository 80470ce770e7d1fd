import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { modelJobSeconds } from '../../lib/copy-jobs/bandwidth-model.js';
import type { CopyPlan, CopyTask, PlanInput } from '../../lib/copy-jobs/copy-plan.js';
import { physicalBound } from '../../lib/copy-jobs/physical-bound.js';
import { planCopyJob } from '../../lib/copy-jobs/planner.js';
import { checkSwarmSize, MAX_SWARM_CHUNK_COPIES, scheduleSwarm, swarmPlan, type SwarmSchedule } from '../../lib/copy-jobs/swarm-schedule.js';
import { swarmSequence } from '../../lib/copy-jobs/swarm-sequence.js';
import { ValidationError } from '../../lib/errors.js';

type Input = Omit<PlanInput, 'mode'>;
const MIB = 1024 * 1024;
/** bench:copy's case: 8 partitions of 4 chunks on 8 sleds, 128 sleds at 2 MiB/s, F = 4. */
const benchParams = { chunkBytes: MIB, sledBytesPerSecond: 2 * MIB };
const benchInput = (targets: number): Input => ({
  partitions: Array.from({ length: 8 }, (_, p) => ({ partition: p, chunks: [0, 1, 2, 3].map((c) => 4 * p + c), sourceSled: 16 * p })),
  targets,
  sledCount: 128,
  maxSourceFanout: 4,
});

function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(message());
}

/** The schedule's invariants: every target gets every chunk once, from a holder, one copy per sled link per slot. */
function checkSchedule(input: Input, schedule: SwarmSchedule): void {
  const received = new Map<string, number>();
  const sourceSled = new Map(input.partitions.map((p) => [p.partition, p.sourceSled]));
  const sends = new Set<string>();
  const receives = new Set<string>();
  let slot = 0;
  for (const copy of schedule.copies) {
    check(copy.slot >= slot, () => 'copies are not in slot order');
    slot = copy.slot;
    const key = `${copy.partition}/${copy.chunk}/${copy.target}`;
    check(!received.has(key), () => `${key} is copied twice`);
    received.set(key, copy.slot);
    check(copy.toSled === schedule.targetSleds[copy.target]![copy.partition], () => `${key} lands off its target's sled`);
    if (copy.from === 'snapshot') {
      check(copy.fromSled === sourceSled.get(copy.partition), () => `${key} reads the snapshot on the wrong sled`);
    } else {
      const had = received.get(`${copy.partition}/${copy.chunk}/${copy.from}`);
      check(had !== undefined && had < copy.slot, () => `${key} reads target ${String(copy.from)} before it holds the chunk`);
      check(copy.fromSled === schedule.targetSleds[copy.from]![copy.partition], () => `${key} reads target ${String(copy.from)} on the wrong sled`);
    }
    check(input.sledCount === 1 || copy.fromSled !== copy.toSled, () => `${key} copies within sled ${copy.toSled}`);
    check(!sends.has(`${copy.slot}/${copy.fromSled}`), () => `sled ${copy.fromSled} sends twice in slot ${copy.slot}`);
    check(!receives.has(`${copy.slot}/${copy.toSled}`), () => `sled ${copy.toSled} receives twice in slot ${copy.slot}`);
    sends.add(`${copy.slot}/${copy.fromSled}`);
    receives.add(`${copy.slot}/${copy.toSled}`);
  }
  const chunks = input.partitions.reduce((sum, p) => sum + p.chunks.length, 0);
  expect(received.size).toBe(chunks * input.targets);
  expect(schedule.slots).toBe(schedule.copies.length === 0 ? 0 : slot + 1);
}

const inputs = fc
  .record({ targets: fc.integer({ min: 1, max: 40 }), sledCount: fc.integer({ min: 1, max: 48 }), partitionCount: fc.integer({ min: 1, max: 4 }) })
  .chain(({ partitionCount, sledCount, targets }) =>
    fc
      .tuple(
        ...Array.from({ length: partitionCount }, (_, p) =>
          fc.record({ partition: fc.constant(p), chunks: fc.uniqueArray(fc.nat({ max: 63 }), { maxLength: 5 }), sourceSled: fc.nat({ max: sledCount - 1 }) }),
        ),
      )
      .map((partitions): Input => ({ partitions, targets, sledCount, maxSourceFanout: 4 })),
  );

describe('scheduleSwarm', () => {
  it('keeps its invariants for random jobs', () => {
    fc.assert(fc.property(inputs, (input) => checkSchedule(input, scheduleSwarm(input))), { numRuns: 150 });
  });

  it('is deterministic', () => {
    expect(scheduleSwarm(benchInput(32))).toEqual(scheduleSwarm(benchInput(32)));
  });

  it('spreads the target copies evenly over the sleds, off their snapshot sled', () => {
    const input = benchInput(64);
    const { targetSleds } = scheduleSwarm(input);
    const perSled = new Map<number, number>();
    for (const row of targetSleds) for (const [partition, sled] of row.entries()) {
      expect(sled).not.toBe(input.partitions[partition]!.sourceSled);
      perSled.set(sled, (perSled.get(sled) ?? 0) + 1);
    }
    expect(perSled.size).toBe(128);
    expect(Math.max(...perSled.values()) - Math.min(...perSled.values())).toBeLessThanOrEqual(2);
  });

  it('refuses bad input like the planner', () => {
    expect(() => scheduleSwarm({ ...benchInput(0) })).toThrow(ValidationError);
  });
});

describe('the swarm in the planner model', () => {
  it('at N = 64 takes 21 chunk slots, about 1.1x the physical bound, where the pipelined tree takes about 2x', () => {
    const input = benchInput(64);
    const schedule = scheduleSwarm(input);
    const plan = swarmPlan(schedule);
    const swarm = modelJobSeconds(plan, benchParams, { after: swarmSequence(plan) });
    const tree = modelJobSeconds(planCopyJob({ ...input, mode: 'pipelined' }), benchParams);
    const bound = physicalBound({ targets: 64, snapshotChunks: 32, sledCount: 128, maxSourceFanout: 4, ...benchParams }).seconds;
    // Run in order on every link, the fluid model does exactly what the slots say.
    expect(swarm).toBeCloseTo(schedule.slots * 0.5, 6);
    expect(swarm / bound).toBeLessThanOrEqual(1.3);
    expect(tree / bound).toBeGreaterThan(1.9);
  });

  it('needs the executor to keep each link in slot order: copies left to share links land late', () => {
    const plan = swarmPlan(scheduleSwarm(benchInput(64)));
    const ordered = modelJobSeconds(plan, benchParams);
    expect(ordered).toBe(modelJobSeconds(plan, benchParams, { after: swarmSequence(plan) }));
    const shared = modelJobSeconds(plan, benchParams, { after: new Map() });
    expect(shared / ordered).toBeGreaterThan(1.5);
  });

  it('gives each one-chunk task the copy that brought its chunk to the source as parent', () => {
    const plan = swarmPlan(scheduleSwarm(benchInput(8)));
    const byId = new Map(plan.tasks.map((task) => [task.id, task]));
    for (const task of plan.tasks) {
      expect(task.chunks).toHaveLength(1);
      if (task.from.kind === 'snapshot') expect(task.parentTask).toBeUndefined();
      else {
        const parent = byId.get(task.parentTask!)!;
        expect(parent.to).toEqual(task.from);
        expect(parent.chunks).toEqual(task.chunks);
      }
    }
  });
});

describe('modelJobSeconds with an executor order (after)', () => {
  const task = (id: string, chunks: number, from: number, to: number): CopyTask => ({
    id,
    partition: 0,
    chunks: Array.from({ length: chunks }, (_, c) => c),
    from: { kind: 'snapshot', sled: from },
    to: { kind: 'target', target: 0, sled: to },
    round: 1,
    depth: 1,
  });
  const plan = (tasks: CopyTask[]): CopyPlan => ({ mode: 'pipelined', rounds: 1, tasks, intermediaries: [], targetSleds: [], fanoutTree: '' });
  const oneMiBPerSecond = { chunkBytes: MIB, sledBytesPerSecond: MIB };

  it('starts a task only once those it follows have finished', () => {
    // A and B leave different sleds: together 2 s; with B after A, 2 + 2 s.
    const tasks = [task('A', 2, 0, 1), task('B', 2, 2, 3)];
    expect(modelJobSeconds(plan(tasks), oneMiBPerSecond)).toBeCloseTo(2, 9);
    expect(modelJobSeconds(plan(tasks), oneMiBPerSecond, { after: new Map([['B', ['A']]]) })).toBeCloseTo(4, 9);
  });

  it('refuses an order that names a later or unknown task', () => {
    const tasks = [task('A', 1, 0, 1), task('B', 1, 2, 3)];
    expect(() => modelJobSeconds(plan(tasks), oneMiBPerSecond, { after: new Map([['A', ['B']]]) })).toThrow(/must follow B/);
    expect(() => modelJobSeconds(plan(tasks), oneMiBPerSecond, { after: new Map([['B', ['nope']]]) })).toThrow(ValidationError);
  });
});

describe('planCopyJob in swarm mode', () => {
  it('plans one-chunk copies in slot order, each read from a copy that holds the chunk by then, with no intermediaries', () => {
    const input = benchInput(16);
    const plan = planCopyJob({ ...input, mode: 'swarm' });
    expect(plan).toEqual(swarmPlan(scheduleSwarm(input)));
    expect(plan.mode).toBe('swarm');
    expect(plan.intermediaries).toEqual([]);
    expect(plan.tasks).toHaveLength(16 * 32);
    const byId = new Map(plan.tasks.map((task) => [task.id, task]));
    const received = new Set<string>();
    let slot = 0;
    for (const task of plan.tasks) {
      expect(task.round).toBeGreaterThanOrEqual(slot);
      slot = task.round;
      expect(task.id).toBe(`p${task.partition}-t${(task.to as { target: number }).target}-c${task.chunks[0]}`);
      if (task.parentTask) expect(byId.get(task.parentTask)!.round).toBeLessThan(task.round);
      received.add(task.id);
    }
    expect(received.size).toBe(plan.tasks.length);
  });

  it('orders each sled link, and only in swarm plans', () => {
    const swarm = planCopyJob({ ...benchInput(16), mode: 'swarm' });
    const after = swarmSequence(swarm);
    const byId = new Map(swarm.tasks.map((task) => [task.id, task]));
    for (const [id, before] of after) {
      const task = byId.get(id)!;
      for (const earlier of before.map((b) => byId.get(b)!)) {
        expect(earlier.to.sled === task.to.sled || earlier.from.sled === task.from.sled).toBe(true);
        expect(swarm.tasks.indexOf(earlier)).toBeLessThan(swarm.tasks.indexOf(task));
      }
    }
    expect(after.size).toBeGreaterThan(0);
    expect(swarmSequence(planCopyJob({ ...benchInput(16), mode: 'pipelined' })).size).toBe(0);
  });

  it(`refuses more than ${MAX_SWARM_CHUNK_COPIES} chunk copies, so that a plan stays loadable`, () => {
    const input = { ...benchInput(1), partitions: [{ partition: 0, chunks: Array.from({ length: 256 }, (_, c) => c), sourceSled: 0 }] };
    expect(() => planCopyJob({ ...input, targets: 257, mode: 'swarm' })).toThrow(ValidationError);
    expect(() => checkSwarmSize(256, 256)).not.toThrow();
    expect(() => checkSwarmSize(257, 256)).toThrow(/at most 65536 chunk copies; 257 copies of 256 stored chunks would make 65792/);
  });
});
