/**
 * The snapshot and copy-job calls' wire contract: request bodies, answers, and the zod schemas
 * the client checks answers against. Snapshots sit here because copy jobs start from them.
 */
import { z } from 'zod';
import { COPY_MODES, type CopyMode } from '../copy-jobs/copy-job.js';
import type { WorkflowEvent } from '../copy-jobs/ports.js';
import type { CopyJobSummary } from '../listings/copy-job-listing.js';
import type { Snapshot } from '../snapshots/snapshot.js';

/** The body of `POST /snapshots/{id}/copies`; the API fills in defaults for what is absent. */
export interface CreateCopyJobRequest {
  readonly count: number;
  readonly maxSourceFanout?: number;
  readonly mode?: CopyMode;
  /** Makes the request idempotent: the same token returns the job it started first. */
  readonly clientToken?: string;
}

/** The answer to `POST /snapshots/{id}/copies` (202): the job runs on after it. */
export interface CopyJobStarted {
  readonly jobId: string;
  readonly volumeIds: string[];
  readonly executionArn: string;
}

/** The answer to `GET /copy-jobs/{id}/events`. */
export interface CopyJobEvents {
  readonly jobId: string;
  readonly events: WorkflowEvent[];
}

// Loose objects: a newer API may add fields, and --json should pass them through untouched.
/** A snapshot as the API answers it (`POST /volumes/{id}/snapshots`, `GET /snapshots/{id}`). */
export const snapshotSchema = z.looseObject({
  snapshotId: z.string(),
  volumeId: z.string(),
  state: z.enum(['creating', 'completed', 'failed']),
  sizeBytes: z.number(),
  chunkSizeBytes: z.number(),
  partitionChunks: z.number(),
  partitionCount: z.number(),
  ops: z.record(z.string(), z.number()),
  sleds: z.record(z.string(), z.number()),
  progress: z.looseObject({
    partitionsDone: z.number(),
    partitionsTotal: z.number(),
    chunksStored: z.number(),
    bytesStored: z.number(),
  }),
  createdAt: z.string(),
  completedAt: z.string().optional(),
});

/** The answer to `POST /snapshots/{id}/copies`. */
export const copyJobStartedSchema = z.looseObject({
  jobId: z.string(),
  volumeIds: z.array(z.string()),
  executionArn: z.string(),
});

/** The answer to `GET /copy-jobs/{id}`: the job with its rate and ETA. */
export const copyJobSchema = z.looseObject({
  jobId: z.string(),
  snapshotId: z.string(),
  volumeIds: z.array(z.string()),
  maxSourceFanout: z.number(),
  mode: z.enum(COPY_MODES),
  state: z.enum(['running', 'succeeded', 'failed']),
  executionArn: z.string(),
  progress: z.looseObject({
    roundsPlanned: z.number(),
    roundsDone: z.number(),
    intermediariesCreated: z.number(),
    intermediariesRemoved: z.number(),
    chunksCopied: z.number(),
    chunksTotal: z.number(),
    bytesCopied: z.number(),
    bytesTotal: z.number(),
    targetsVerified: z.number(),
  }),
  plan: z.string().optional(),
  error: z.string().optional(),
  createdAt: z.string(),
  startedCopyingAt: z.string().optional(),
  finishedAt: z.string().optional(),
  percent: z.number(),
  throughputBytesPerSecond: z.number(),
  etaSeconds: z.number().nullable(),
});

/** One page of `GET /snapshots`. */
export const snapshotPageSchema = z.looseObject({
  snapshots: z.array(snapshotSchema),
  nextToken: z.string().min(1).optional(),
});

/** One page of `GET /copy-jobs`: each job as `GET /copy-jobs/{id}` shows it, without the plan. */
export const copyJobPageSchema = z.looseObject({
  copyJobs: z.array(copyJobSchema.omit({ plan: true })),
  nextToken: z.string().min(1).optional(),
});

/** One page of `GET /snapshots`. */
export interface SnapshotListPage {
  readonly snapshots: Snapshot[];
  readonly nextToken?: string;
}

/** One page of `GET /copy-jobs`. */
export interface CopyJobListPage {
  readonly copyJobs: CopyJobSummary[];
  readonly nextToken?: string;
}

/** The answer to `GET /copy-jobs/{id}/events`. */
export const copyJobEventsSchema = z.looseObject({
  jobId: z.string(),
  events: z.array(
    z.looseObject({
      timestamp: z.string(),
      type: z.string(),
      state: z.string().optional(),
      index: z.number().optional(),
      error: z.string().optional(),
      cause: z.string().optional(),
    }),
  ),
});
