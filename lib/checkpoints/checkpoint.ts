import { SledsError } from '../errors.js';
import type { ChunkRef } from '../notes/ports.js';

/** Where a checkpoint is and what it must hash to. */
export interface CheckpointRecord {
  readonly volumeId: string;
  readonly partition: number;
  readonly op: number;
  readonly epoch: number;
  readonly sled: number;
  readonly key: string;
  /** SHA-256 (hex) of the checkpoint object's bytes. */
  readonly sha256: string;
  readonly createdAt: string;
}

/** A checkpoint: the partition metadata (its chunk map) as of `op`, under `epoch`. */
export interface Checkpoint {
  readonly volumeId: string;
  readonly partition: number;
  readonly op: number;
  readonly epoch: number;
  readonly chunks: Readonly<Record<string, ChunkRef>>;
  readonly createdAt: string;
}

/** A checkpoint's bytes do not match its recorded SHA-256 (or it is gone). */
export class CorruptCheckpointError extends SledsError {
  constructor(record: CheckpointRecord, why: string) {
    super('CorruptCheckpoint', 500, `Checkpoint of partition ${record.partition} at op ${record.op} is unusable: ${why}.`);
  }
}

/** Checkpoints kept per partition; notes are trimmed only below the oldest of them. */
export const RETAINED_CHECKPOINTS = 3;

/** Checkpoint objects (S3) and their records (DynamoDB). */
export interface CheckpointStore {
  /** Stores the checkpoint object on `sled` and records it; returns the record. */
  write(checkpoint: Checkpoint, sled: number): Promise<CheckpointRecord>;
  /** Records of a partition's checkpoints, newest first. */
  list(volumeId: string, partition: number): Promise<CheckpointRecord[]>;
  /** Reads and verifies a checkpoint; throws CorruptCheckpointError when its SHA-256 does not match. */
  read(record: CheckpointRecord): Promise<Checkpoint>;
  remove(record: CheckpointRecord): Promise<void>;
}
