import type { ChunkLocation } from '../sleds/ports.js';
import { snapshotChunkKey } from '../snapshots/snapshot.js';
import { chunkKeyPrefix } from '../volumes/volume.js';
import type { CopyJob } from './copy-job.js';
import type { CopyNode } from './copy-plan.js';

/**
 * Where one chunk of one copy of a partition lives: snapshot chunks under the snapshot's keys,
 * intermediaries under the job's own prefix (so a failed job removes them by prefix), and
 * targets under the target volume's chunk keys, suffixed with the job id.
 */
export function chunkLocation(job: CopyJob, node: CopyNode, partition: number, chunk: number): ChunkLocation {
  switch (node.kind) {
    case 'snapshot':
      return { sled: node.sled, key: snapshotChunkKey(job.snapshotId, partition, chunk) };
    case 'intermediary':
      return { sled: node.sled, key: `copy-jobs/${job.jobId}/intermediaries/${node.id}/${chunk}` };
    case 'target':
      return { sled: node.sled, key: `${chunkKeyPrefix(String(job.volumeIds[node.target]), partition)}${chunk}-${job.jobId}` };
  }
}
