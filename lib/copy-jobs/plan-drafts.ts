/**
 * Plan drafts: each partition's tree as mutable nodes and tasks, before sleds are chosen.
 * Placement fills in the sleds, then the drafts are frozen into the CopyNode and CopyTask
 * objects of the plan.
 */
import type { CopyNode } from './copy-plan.js';

/** One copy of one partition while the plan is being built; `sled` is -1 until placed. */
export interface DraftNode {
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

/** One copy task while the plan is being built. */
export interface DraftTask {
  readonly id: string;
  readonly partition: number;
  readonly chunks: readonly number[];
  readonly from: DraftNode;
  readonly to: DraftNode;
  readonly round: number;
}

/** What a tree shape uses to add copies and tasks to one partition's draft. */
export interface PartitionBuilder {
  intermediary(depth: number): DraftNode;
  target(target: number, depth: number): DraftNode;
  addTask(from: DraftNode, to: DraftNode, round: number): void;
}

/** Draws one partition's tree from its snapshot copy. */
export type TreeShape = (builder: PartitionBuilder, snapshot: DraftNode) => void;

/** A new draft copy with no reads yet. */
export function draftNode(kind: CopyNode['kind'], id: string, target: number, depth: number, weight: number, sled: number): DraftNode {
  return { kind, id, target, depth, weight, sled, reads: new Map() };
}

/** The plan's node for a placed draft copy. */
export function copyNode(node: DraftNode): CopyNode {
  // One object per copy, shared by the task that writes it and the tasks that read it.
  node.out ??=
    node.kind === 'snapshot'
      ? { kind: 'snapshot', sled: node.sled }
      : node.kind === 'intermediary'
        ? { kind: 'intermediary', id: node.id, sled: node.sled }
        : { kind: 'target', target: node.target, sled: node.sled };
  return node.out;
}
