/**
 * Placement of copies on sleds: intermediaries and targets go where they add the least load
 * to the busiest sled link, so that duplication actually spreads reads over more links.
 */
import type { DraftNode, DraftTask } from './plan-drafts.js';

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
export function place(
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
