/**
 * The swarm schedule of a copy job, the plan of `mode: "swarm"` (issue 19: "schedule chunk copies
 * from every holder that has spare outbound bandwidth, the way swarm distributors such as Kraken
 * do, rather than from a fixed tree").
 *
 * Every copy of a chunk, the snapshot's or a target's own hydration copy (an immutable object,
 * verified at finalize like any other), serves that chunk as soon as it is complete. Time goes in
 * slots of one chunk time (a chunk crossing one link at the full rate). In each slot every sled
 * sends at most one chunk and receives at most one, as its full-duplex link allows, and the slot's
 * copies are a maximum matching of receiving sleds to sending sleds (Kuhn's augmenting paths),
 * each receiving sled trying the rarest chunks it needs first, as BitTorrent's rarest-first does.
 * A chunk received in one slot is served from the next (store and forward). A holder then serves
 * one read at a time, so the plan keeps within any F >= 1.
 *
 * Target copies are spread evenly over the sleds, never on their partition's snapshot sled when
 * there is another. The schedule is deterministic: same input, same schedule.
 */
import { ValidationError } from '../errors.js';
import type { CopyNode, CopyPlan, CopyTask, PlanInput } from './copy-plan.js';
import { validate } from './plan-validation.js';

/**
 * The most chunk copies one swarm job makes: each is a task of its own in the stored plan, which
 * every copy step loads (65,536 copies: about 12 MB of plan, scheduled in about 1.5 s here; 200
 * targets of a 256-chunk snapshot take 51,200). Larger jobs run as 'pipelined' trees.
 */
export const MAX_SWARM_CHUNK_COPIES = 65_536;

/** Refuses a swarm job with more chunk copies than MAX_SWARM_CHUNK_COPIES. */
export function checkSwarmSize(targets: number, chunks: number): void {
  if (targets * chunks > MAX_SWARM_CHUNK_COPIES) {
    throw new ValidationError(
      `A swarm copy job makes at most ${MAX_SWARM_CHUNK_COPIES} chunk copies; ${targets} copies of ${chunks} stored chunks would make ${targets * chunks}. Use mode "pipelined".`,
    );
  }
}

/** One chunk copy of the schedule. */
export interface SwarmCopy {
  /** 0-based slot: the copy runs from slot × chunk time to (slot + 1) × chunk time. */
  readonly slot: number;
  readonly partition: number;
  readonly chunk: number;
  /** The snapshot's copy, or target `from`'s hydration copy. */
  readonly from: 'snapshot' | number;
  readonly fromSled: number;
  readonly target: number;
  readonly toSled: number;
}

export interface SwarmSchedule {
  /** Slots until every target holds every chunk; 0 when there is nothing to copy. */
  readonly slots: number;
  /** In slot order. */
  readonly copies: readonly SwarmCopy[];
  /** `[target][partition number]` -> sled, -1 for a partition number not listed, as CopyPlan.targetSleds. */
  readonly targetSleds: ReadonlyArray<ReadonlyArray<number>>;
}

interface Need {
  readonly partition: number;
  readonly chunk: number;
  readonly target: number;
  /** (partition, chunk) -> its holders' sleds: index into `holders`. */
  readonly key: string;
}

/** Spreads the target copies evenly: partition by partition, target by target, round-robin over the sleds. */
function placeTargets(input: Omit<PlanInput, 'mode'>): number[][] {
  const partitions = [...input.partitions].sort((a, b) => a.partition - b.partition);
  const columns = (partitions.at(-1)?.partition ?? -1) + 1;
  const sleds = Array.from({ length: input.targets }, () => new Array<number>(columns).fill(-1));
  let next = 0;
  for (const { partition, sourceSled } of partitions) {
    for (let t = 0; t < input.targets; t++) {
      if (input.sledCount > 1 && next % input.sledCount === sourceSled) next++;
      sleds[t]![partition] = next % input.sledCount;
      next++;
    }
  }
  return sleds;
}

/** Schedules the copies of every chunk to every target in slots (see the module comment). */
export function scheduleSwarm(input: Omit<PlanInput, 'mode'>): SwarmSchedule {
  validate(input);
  checkSwarmSize(input.targets, input.partitions.reduce((sum, p) => sum + p.chunks.length, 0));
  const targetSleds = placeTargets(input);
  // Holders of each (partition, chunk): sled -> who holds it there (the snapshot or a target).
  const holders = new Map<string, Map<number, 'snapshot' | number>>();
  const needsBySled = new Map<number, Need[]>();
  for (const { partition, chunks, sourceSled } of input.partitions) {
    for (const chunk of chunks) {
      const key = `${partition}/${chunk}`;
      holders.set(key, new Map([[sourceSled, 'snapshot']]));
      for (let target = 0; target < input.targets; target++) {
        const sled = targetSleds[target]![partition]!;
        const needs = needsBySled.get(sled) ?? [];
        needs.push({ partition, chunk, target, key });
        needsBySled.set(sled, needs);
      }
    }
  }
  const receivers = [...needsBySled.keys()].sort((a, b) => a - b);
  const copies: SwarmCopy[] = [];
  let slot = 0;
  let left = [...needsBySled.values()].reduce((sum, needs) => sum + needs.length, 0);
  while (left > 0) {
    // Rarest first: each receiving sled tries the needs with the fewest holders first.
    const rarity = new Map([...holders].map(([key, held]) => [key, held.size]));
    for (const sled of receivers) needsBySled.get(sled)!.sort((a, b) => rarity.get(a.key)! - rarity.get(b.key)!);
    const senderMatch = new Map<number, { receiver: number; need: Need }>();
    const tryReceiver = (receiver: number, seen: Set<number>): boolean => {
      for (const need of needsBySled.get(receiver)!) {
        for (const sender of holders.get(need.key)!.keys()) {
          if (sender === receiver && input.sledCount > 1) continue;
          if (seen.has(sender)) continue;
          seen.add(sender);
          const current = senderMatch.get(sender);
          if (!current || tryReceiver(current.receiver, seen)) {
            senderMatch.set(sender, { receiver, need });
            return true;
          }
        }
      }
      return false;
    };
    // Sleds with the most left to receive go first: each needs its ingress in every slot to come,
    // and a sled that receives its first chunk becomes a sender, which spreads the swarm fastest.
    const order = receivers.filter((r) => needsBySled.get(r)!.length > 0).sort((a, b) => needsBySled.get(b)!.length - needsBySled.get(a)!.length || a - b);
    // First each receiver takes the rarest need a free sender holds, then augmenting paths
    // find the rest. A search that fails leaves its senders marked: with the matching unchanged,
    // no augmenting path runs through them, so later searches skip them (Kuhn's algorithm with
    // the visited set kept until a search succeeds).
    const matched = new Set<number>();
    for (const receiver of order) {
      const free = needsBySled.get(receiver)!.find((need) => [...holders.get(need.key)!.keys()].some((sender) => !senderMatch.has(sender) && (sender !== receiver || input.sledCount === 1)));
      if (!free) continue;
      const sender = [...holders.get(free.key)!.keys()].find((candidate) => !senderMatch.has(candidate) && (candidate !== receiver || input.sledCount === 1))!;
      senderMatch.set(sender, { receiver, need: free });
      matched.add(receiver);
    }
    let seen = new Set<number>();
    for (const receiver of order) {
      if (matched.has(receiver)) continue;
      if (tryReceiver(receiver, seen)) seen = new Set();
    }
    if (senderMatch.size === 0) throw new Error('Swarm schedule stalled: no holder can serve any need.');
    const received: Array<{ sled: number; need: Need }> = [];
    for (const [sender, { receiver, need }] of [...senderMatch].sort((a, b) => a[0] - b[0])) {
      const from = holders.get(need.key)!.get(sender)!;
      copies.push({ slot, partition: need.partition, chunk: need.chunk, from, fromSled: sender, target: need.target, toSled: receiver });
      const needs = needsBySled.get(receiver)!;
      needs.splice(needs.indexOf(need), 1);
      received.push({ sled: receiver, need });
      left--;
    }
    // Store and forward: what arrived in this slot serves from the next. A sled already holding
    // the chunk (another target's copy) keeps its first holder.
    for (const { sled, need } of received) {
      const held = holders.get(need.key)!;
      if (!held.has(sled)) held.set(sled, need.target);
    }
    slot++;
  }
  return { slots: slot, copies, targetSleds };
}

/**
 * The schedule as a 'swarm' CopyPlan of one-chunk tasks in slot order, each naming as parent the
 * copy that brought the chunk to its source. The job runs it (batch-copier.ts keeps each sled's
 * copies in this order, swarm-sequence.ts), and the planner's model times it.
 */
export function swarmPlan(schedule: SwarmSchedule): CopyPlan {
  const writer = new Map<string, string>();
  const tasks: CopyTask[] = schedule.copies.map((copy) => {
    const id = `p${copy.partition}-t${copy.target}-c${copy.chunk}`;
    const from: CopyNode =
      copy.from === 'snapshot' ? { kind: 'snapshot', sled: copy.fromSled } : { kind: 'target', target: copy.from, sled: copy.fromSled };
    const parentTask = copy.from === 'snapshot' ? undefined : writer.get(`${copy.partition}/${copy.chunk}/${copy.from}`);
    if (copy.from !== 'snapshot' && parentTask === undefined) throw new Error(`${id} reads a chunk its source does not hold yet`);
    writer.set(`${copy.partition}/${copy.chunk}/${copy.target}`, id);
    return {
      id,
      partition: copy.partition,
      chunks: [copy.chunk],
      from,
      to: { kind: 'target', target: copy.target, sled: copy.toSled },
      round: copy.slot + 1,
      depth: copy.slot + 1,
      ...(parentTask ? { parentTask } : {}),
    };
  });
  const fromSnapshot = tasks.filter((task) => task.from.kind === 'snapshot').length;
  const fanoutTree =
    `Swarm: ${tasks.length} chunk copies in ${schedule.slots} slots of one chunk time, no intermediaries; ` +
    `${fromSnapshot} read the snapshot and ${tasks.length - fromSnapshot} read another target's copy. ` +
    'Each sled sends and receives one chunk at a time, in slot order.';
  return { mode: 'swarm', rounds: schedule.slots, tasks, intermediaries: [], targetSleds: schedule.targetSleds, fanoutTree };
}
