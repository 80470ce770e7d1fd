/**
 * The physical bound of a copy job on capped sled links, whatever the plan: every target must
 * receive every chunk of the snapshot, and all of that arrives through the sleds' ingress
 * links, so no plan can finish sooner than those bytes divided by the aggregate ingress of all
 * the sleds; and a chunk reaches the deepest target only after crossing the pipeline's depth
 * of links, one chunk time each. `bench:copy` prints it beside the planner's model
 * (bandwidth-model.ts), which times one particular plan.
 *
 * It is the issue's yardstick (copies usable at once), not a proof: it ignores that a sled's
 * egress is capped too and that the two terms may overlap, so it is a target to approach, and
 * a plan that beats it would point at a bug in the model or the executor.
 */
import { ValidationError } from '../errors.js';
import { pipelinedDepth } from './fanout-trees.js';
import { requireCount } from './plan-validation.js';

export interface BoundInput {
  /** N: target volumes. */
  readonly targets: number;
  /** Chunks that hold data in the snapshot (all partitions), which each target must receive. */
  readonly snapshotChunks: number;
  /** S: every sled's ingress counts. */
  readonly sledCount: number;
  /** F: the depth is that of the shallowest tree whose copies feed at most F others. */
  readonly maxSourceFanout: number;
  readonly chunkBytes: number;
  /** Each sled's ingress cap (and egress cap), bytes per second. */
  readonly sledBytesPerSecond: number;
}

export interface PhysicalBound {
  /** transferSeconds + pipelineSeconds. */
  readonly seconds: number;
  /** N × snapshot bytes / (S × link rate). */
  readonly transferSeconds: number;
  /** depth × one chunk time (chunkBytes / link rate). */
  readonly pipelineSeconds: number;
  readonly depth: number;
  /** Bytes every target together must receive. */
  readonly targetBytes: number;
}

export function physicalBound(input: BoundInput): PhysicalBound {
  requireCount('targets', input.targets);
  requireCount('sledCount', input.sledCount);
  requireCount('maxSourceFanout', input.maxSourceFanout);
  if (!Number.isSafeInteger(input.snapshotChunks) || input.snapshotChunks < 0) {
    throw new ValidationError(`snapshotChunks must be a whole number of at least 0; got ${String(input.snapshotChunks)}.`);
  }
  for (const name of ['chunkBytes', 'sledBytesPerSecond'] as const) {
    if (!Number.isFinite(input[name]) || input[name] <= 0) throw new ValidationError(`${name} must be a positive number; got ${String(input[name])}.`);
  }
  if (input.snapshotChunks === 0) return { seconds: 0, transferSeconds: 0, pipelineSeconds: 0, depth: 0, targetBytes: 0 };
  const targetBytes = input.targets * input.snapshotChunks * input.chunkBytes;
  const transferSeconds = targetBytes / (input.sledCount * input.sledBytesPerSecond);
  // With F = 1 each holder serves one reader at a time, so the holders (snapshot included) at
  // best double every chunk time: the depth is the smallest D with 2^D - 1 >= N.
  const depth = input.maxSourceFanout === 1 ? Math.ceil(Math.log2(input.targets + 1)) : pipelinedDepth(input.targets, input.maxSourceFanout);
  const pipelineSeconds = (depth * input.chunkBytes) / input.sledBytesPerSecond;
  return { seconds: transferSeconds + pipelineSeconds, transferSeconds, pipelineSeconds, depth, targetBytes };
}
