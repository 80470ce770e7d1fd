import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { KIB, MIB, TIB, formatSize } from '../units/sizes.js';

export const MIN_CHUNK_SIZE = 64 * KIB;
export const MAX_CHUNK_SIZE = 16 * MIB;
export const DEFAULT_CHUNK_SIZE = MIB;
export const MAX_VOLUME_SIZE = 16 * TIB;
export const MIN_PARTITION_CHUNKS = 1;
export const MAX_PARTITION_CHUNKS = 1024;
export const DEFAULT_PARTITION_CHUNKS = 16;
export const MAX_NAME_LENGTH = 128;
/** How many volumes a page of GET /volumes holds unless the request says, and at most. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/**
 * `creating` until a copy job has given the target its borrowed chunk maps (at the copy
 * request); `hydrating` while it serves reads (from its own copy of a chunk once in place, else
 * from the snapshot) and writes, and the job puts its own copy of every chunk; `available` once every chunk is its own and verified;
 * `deleting` once a delete has begun.
 */
export type VolumeState = 'creating' | 'hydrating' | 'available' | 'deleting' | 'failed';

/** States in which a volume serves reads, writes, flushes and snapshots: a hydrating copy is a volume too. */
export const SERVING_STATES: readonly VolumeState[] = ['available', 'hydrating'];

/** True when the volume serves data (available, or a copy target that is still hydrating). */
export function servesData(state: VolumeState): boolean {
  return state === 'available' || state === 'hydrating';
}

/** Where a copy target's borrowed chunks come from, until hydration makes them its own. */
export interface VolumeSource {
  readonly snapshotId: string;
  readonly jobId: string;
}

export interface Volume {
  readonly volumeId: string;
  readonly name?: string;
  readonly sizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly partitionChunks: number;
  readonly partitionCount: number;
  readonly state: VolumeState;
  /** For a copy target: its snapshot and job (kept after hydration, as its lineage). */
  readonly source?: VolumeSource;
  readonly createdAt: string;
  readonly updatedAt: string;
}

const VOLUME_ID = /^vol-[0-9a-f]{17}$/;

/** A new volume id: `vol-` and 17 lowercase hex digits, like an EBS volume id. */
export function newVolumeId(): string {
  return `vol-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** True when `text` has the shape of a volume id. */
export function isVolumeId(text: string): boolean {
  return VOLUME_ID.test(text);
}

export const volumeIdSchema = z
  .string()
  .regex(VOLUME_ID, 'volumeId must be "vol-" followed by 17 lowercase hex digits');

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** The body of `POST /volumes`. Sizes are bytes; the messages say which rule a value breaks. */
export const createVolumeRequestSchema = z
  .strictObject({
    sizeBytes: z
      .number({ error: 'sizeBytes is required and must be a number of bytes' })
      .int('sizeBytes must be a whole number of bytes')
      .positive('sizeBytes must be positive')
      .max(MAX_VOLUME_SIZE, `sizeBytes must be at most ${formatSize(MAX_VOLUME_SIZE)} (${MAX_VOLUME_SIZE})`),
    chunkSizeBytes: z
      .number({ error: 'chunkSizeBytes must be a number of bytes' })
      .int('chunkSizeBytes must be a whole number of bytes')
      .min(MIN_CHUNK_SIZE, `chunkSizeBytes must be at least ${formatSize(MIN_CHUNK_SIZE)}`)
      .max(MAX_CHUNK_SIZE, `chunkSizeBytes must be at most ${formatSize(MAX_CHUNK_SIZE)}`)
      .refine(isPowerOfTwo, 'chunkSizeBytes must be a power of two')
      .default(DEFAULT_CHUNK_SIZE),
    partitionChunks: z
      .number({ error: 'partitionChunks must be a number' })
      .int('partitionChunks must be a whole number')
      .min(MIN_PARTITION_CHUNKS, `partitionChunks must be at least ${MIN_PARTITION_CHUNKS}`)
      .max(MAX_PARTITION_CHUNKS, `partitionChunks must be at most ${MAX_PARTITION_CHUNKS}`)
      .default(DEFAULT_PARTITION_CHUNKS),
    name: z
      .string({ error: 'name must be a string' })
      .trim()
      .min(1, 'name must not be empty')
      .max(MAX_NAME_LENGTH, `name must be at most ${MAX_NAME_LENGTH} characters`)
      .regex(/^[\w .:/@+=-]+$/, 'name may hold letters, digits, spaces and . : / @ + = - _')
      .optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.sizeBytes % spec.chunkSizeBytes !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['sizeBytes'],
        message: `sizeBytes (${spec.sizeBytes}) must be a multiple of chunkSizeBytes (${spec.chunkSizeBytes})`,
      });
    }
  });

export type VolumeSpec = z.output<typeof createVolumeRequestSchema>;

/** Builds a new volume from a validated spec: the geometry is fixed for the volume's life. */
export function newVolume(spec: VolumeSpec, now: Date, state: VolumeState = 'available'): Volume {
  const partitionBytes = spec.chunkSizeBytes * spec.partitionChunks;
  const timestamp = now.toISOString();
  return {
    volumeId: newVolumeId(),
    ...(spec.name === undefined ? {} : { name: spec.name }),
    sizeBytes: spec.sizeBytes,
    chunkSizeBytes: spec.chunkSizeBytes,
    partitionChunks: spec.partitionChunks,
    partitionCount: Math.ceil(spec.sizeBytes / partitionBytes),
    state,
    createdAt: timestamp,
    updatedAt: timestamp,
  };
}

/** Key prefix that holds every object of a volume on every sled. */
export function volumeKeyPrefix(volumeId: string): string {
  return `volumes/${volumeId}/`;
}

/**
 * True when the object under `key` belongs to the volume: only such objects may a flush's
 * garbage collection delete. A copy target's chunk map may name a borrowed chunk, the
 * snapshot's own object, which belongs to the snapshot (and to every other copy of it).
 */
export function ownsObject(volumeId: string, key: string): boolean {
  return key.startsWith(volumeKeyPrefix(volumeId));
}

/** Key prefix of every chunk object of one partition of a volume, flushed or copied. */
export function chunkKeyPrefix(volumeId: string, partition: number): string {
  return `${volumeKeyPrefix(volumeId)}chunks/${partition}/`;
}
