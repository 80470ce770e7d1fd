/**
 * Fan-out tree shapes: how one partition's snapshot copy multiplies into N targets, either
 * round by round (each round's sources feed the next) or as one pipelined tree of minimal
 * depth. Shapes only draft nodes and tasks; sleds are chosen later (sled-placement.ts).
 */
import type { DraftNode, PartitionBuilder } from './plan-drafts.js';

/** Minimal depth D of a tree whose copies feed at most F others: the smallest D >= 1 with F^D >= N. */
export function pipelinedDepth(N: number, F: number): number {
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
export function pipelinedArity(N: number, F: number, depth: number): number {
  for (let f = 1; f < F; f++) if (f ** depth >= N) return f;
  return F;
}

/**
 * A heap-shaped tree of arity f: copies are numbered in breadth-first order, copy k feeds
 * copies kf+1..kf+f, the first I copies (the snapshot and I-1 intermediaries) are inner
 * nodes and the rest are the N targets. I = ceil((N-1)/(f-1)) is the fewest inner nodes that
 * can have N leaves, and a heap keeps every leaf within depth ceil(log_f N).
 */
export function buildPipelinedTree(builder: PartitionBuilder, snapshot: DraftNode, N: number, arity: number): void {
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
export function buildRoundsTree(builder: PartitionBuilder, snapshot: DraftNode, N: number, F: number): void {
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
