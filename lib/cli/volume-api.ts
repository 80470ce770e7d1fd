/**
 * The volume and data calls' wire contract: request bodies, answers, and the zod schemas the
 * client checks answers against.
 */
import { z } from 'zod';
import type { Volume } from '../volumes/volume.js';

/** The body of `POST /volumes`; the API fills in defaults for what is absent. */
export interface CreateVolumeRequest {
  readonly sizeBytes: number;
  readonly chunkSizeBytes?: number;
  readonly partitionChunks?: number;
  readonly name?: string;
}

/** One page of `GET /volumes`. */
export interface VolumeListPage {
  readonly volumes: Volume[];
  readonly nextToken?: string;
}

/** The answer to `DELETE /volumes/{id}`. */
export interface DeleteVolumeResult {
  readonly volumeId: string;
  readonly deleted: boolean;
  readonly objectsRemoved: number;
}

/** The answer to `PUT /volumes/{id}/data`: the op each touched partition committed the write under. */
export interface WriteResult {
  readonly ops: ReadonlyArray<{ readonly partition: number; readonly op: number }>;
}

/** `GET /volumes/{id}/partitions/{p}` answers the domain's own shapes. */
export type { PartitionStatus, ReplicaStatus } from '../notes/partition-status.js';

// Loose objects: a newer API may add fields, and --json should pass them through untouched.
/** A volume as the API answers it (`POST /volumes`, `GET /volumes/{id}`). */
export const volumeSchema = z.looseObject({
  volumeId: z.string(),
  name: z.string().optional(),
  sizeBytes: z.number(),
  chunkSizeBytes: z.number(),
  partitionChunks: z.number(),
  partitionCount: z.number(),
  state: z.enum(['creating', 'hydrating', 'available', 'deleting', 'failed']),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** One page of `GET /volumes`. */
export const pageSchema = z.looseObject({
  volumes: z.array(volumeSchema),
  nextToken: z.string().min(1).optional(),
});

/** The answer to `DELETE /volumes/{id}`. */
export const deleteSchema = z.looseObject({
  volumeId: z.string(),
  deleted: z.boolean(),
  objectsRemoved: z.number(),
});

/** The answer to `PUT /volumes/{id}/data`. */
export const writeResultSchema = z.looseObject({
  ops: z.array(z.looseObject({ partition: z.number(), op: z.number() })),
});

/** One head-node replica in `GET /volumes/{id}/partitions/{p}`. */
export const replicaSchema = z.looseObject({
  role: z.enum(['primary', 'secondary']),
  replicaId: z.string(),
  sled: z.number(),
  epoch: z.number(),
  lastCommittedOp: z.number(),
  pendingNotes: z.array(z.string()),
});

/** The answer to `GET /volumes/{id}/partitions/{p}`. */
export const partitionSchema = z.looseObject({
  volumeId: z.string(),
  partition: z.number(),
  offset: z.number(),
  sizeBytes: z.number(),
  initialized: z.boolean(),
  epoch: z.number(),
  primary: replicaSchema,
  secondary: replicaSchema,
  inSync: z.boolean(),
  flushedOp: z.number(),
  checkpoint: z.looseObject({ op: z.number(), key: z.string(), sha256: z.string() }).nullable(),
  rebuild: z.looseObject({ state: z.enum(['rebuilding', 'idle']), replicaId: z.string().optional(), last: z.unknown().optional() }),
});

/** The path of a volume's data, for reads and writes. */
export const dataPath = (volumeId: string) => `/volumes/${encodeURIComponent(volumeId)}/data`;

/** The body of `POST /volumes/{id}/zero`. */
export interface ZeroRangeRequest {
  readonly offset: number;
  readonly length: number;
}

/** One run of `GET /volumes/{id}/allocation`: bytes that hold data, or read as zeros. */
export const allocationExtentSchema = z.looseObject({
  offset: z.number(),
  length: z.number(),
  type: z.enum(['data', 'zero']),
});

/** The answer to `GET /volumes/{id}/allocation`: merged runs covering the range asked. */
export const allocationSchema = z.looseObject({
  volumeId: z.string(),
  offset: z.number(),
  extents: z.array(allocationExtentSchema),
});

export type AllocationExtent = z.infer<typeof allocationExtentSchema>;
export type Allocation = z.infer<typeof allocationSchema>;
