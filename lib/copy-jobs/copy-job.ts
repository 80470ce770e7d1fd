import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { PlanMode } from './copy-plan.js';

/** How a job copies: the planner's modes, or `direct` (every target from the snapshot; a baseline). */
export type CopyMode = PlanMode | 'direct';

/** Every copy mode, the default first. */
export const COPY_MODES = ['pipelined', 'swarm', 'rounds', 'direct'] as const satisfies readonly CopyMode[];

export type CopyJobState = 'running' | 'succeeded' | 'failed';

export interface CopyJobProgress {
  readonly roundsPlanned: number;
  readonly roundsDone: number;
  readonly intermediariesCreated: number;
  readonly intermediariesRemoved: number;
  readonly chunksCopied: number;
  readonly chunksTotal: number;
  readonly bytesCopied: number;
  readonly bytesTotal: number;
  readonly targetsVerified: number;
}

export interface CopyJob {
  readonly jobId: string;
  readonly snapshotId: string;
  readonly volumeIds: readonly string[];
  readonly maxSourceFanout: number;
  readonly mode: CopyMode;
  readonly state: CopyJobState;
  readonly executionArn: string;
  readonly progress: CopyJobProgress;
  /** The fan-out tree, as the planner drew it. */
  readonly plan?: string;
  /** Tasks per round (1-based rounds at index r-1), and how many of them finished. */
  readonly roundTaskCounts?: readonly number[];
  readonly roundTasksDone?: Readonly<Record<string, number>>;
  /**
   * Chunks copied per task id (`p3-t12`), for drawing the fan-out tree; kept only for plans of at
   * most MAX_TRACKED_TASKS tasks, so the job item stays far below DynamoDB's 400 KB.
   */
  readonly taskChunksDone?: Readonly<Record<string, number>>;
  readonly error?: string;
  /** How many times `POST /copy-jobs/{id}/retry` restarted the job. */
  readonly attempts?: number;
  readonly createdAt: string;
  readonly startedCopyingAt?: string;
  readonly finishedAt?: string;
}

/** What `GET /copy-jobs/{jobId}` adds to the stored job: rates and the ETA. */
export interface CopyJobStatus extends CopyJob {
  readonly percent: number;
  readonly throughputBytesPerSecond: number;
  readonly etaSeconds: number | null;
}

/** One node of the fan-out tree of `GET /copy-jobs/{jobId}?include=tree`: the copy a task writes. */
export interface CopyTreeNode {
  /** The task id (`p3-i7`, `p3-t12`); the snapshot's node of partition p is `p3-s`. */
  readonly id: string;
  readonly partition: number;
  readonly kind: 'snapshot' | 'intermediary' | 'target';
  readonly sled: number;
  /** 0 for the snapshot, else the distance from it. */
  readonly depth: number;
  readonly round: number;
  /** The node it copies from; absent for the snapshot. */
  readonly parent?: string;
  /** For targets: the volume it becomes part of. */
  readonly volumeId?: string;
  readonly chunks: number;
  /** Chunks copied so far; null when the job does not track per-task progress (a large plan). */
  readonly chunksDone: number | null;
}

/** The fan-out tree of a planned job, read-only, for the console. */
export interface CopyJobTree {
  readonly mode: string;
  readonly rounds: number;
  readonly nodes: readonly CopyTreeNode[];
}

/** Plans with more tasks than this do not record chunks per task (the job item would grow too large). */
export const MAX_TRACKED_TASKS = 4096;

export const MAX_COPY_COUNT = 1000;
export const DEFAULT_MAX_SOURCE_FANOUT = 4;
export const MAX_SOURCE_FANOUT = 64;

const JOB_ID = /^copy-[0-9a-f]{17}$/;

/** A new job id: `copy-` and 17 lowercase hex digits. */
export function newCopyJobId(): string {
  return `copy-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

export const copyJobIdSchema = z.string().regex(JOB_ID, 'jobId must be "copy-" followed by 17 lowercase hex digits');

/** The body of `POST /snapshots/{snapshotId}/copies`. */
export const copyRequestSchema = z.strictObject({
  count: z
    .number({ error: 'count is required and must be a number' })
    .int('count must be a whole number')
    .min(1, 'count must be at least 1')
    .max(MAX_COPY_COUNT, `count must be at most ${MAX_COPY_COUNT}`),
  maxSourceFanout: z
    .number({ error: 'maxSourceFanout must be a number' })
    .int('maxSourceFanout must be a whole number')
    .min(1, 'maxSourceFanout must be at least 1')
    .max(MAX_SOURCE_FANOUT, `maxSourceFanout must be at most ${MAX_SOURCE_FANOUT}`)
    .default(DEFAULT_MAX_SOURCE_FANOUT),
  mode: z.enum(COPY_MODES, { error: `mode must be one of ${COPY_MODES.map((mode) => `"${mode}"`).join(', ')}` }).default('pipelined'),
  clientToken: z
    .string({ error: 'clientToken must be a string' })
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'clientToken must be 1 to 64 letters, digits or _ . : -')
    .optional(),
});

export type CopyRequest = z.output<typeof copyRequestSchema>;

/** Progress, throughput and ETA from the stored counters. */
export function copyJobStatus(job: CopyJob, now: Date): CopyJobStatus {
  const { bytesCopied, bytesTotal } = job.progress;
  const started = job.startedCopyingAt ? Date.parse(job.startedCopyingAt) : undefined;
  const end = job.finishedAt ? Date.parse(job.finishedAt) : now.getTime();
  const seconds = started === undefined ? 0 : Math.max(0.001, (end - started) / 1000);
  const throughput = seconds > 0 ? bytesCopied / seconds : 0;
  const remaining = Math.max(0, bytesTotal - bytesCopied);
  const eta = job.state !== 'running' ? 0 : throughput > 0 ? remaining / throughput : null;
  const counts = job.roundTaskCounts ?? [];
  const roundsDone =
    job.state === 'succeeded' ? job.progress.roundsPlanned : counts.filter((count, i) => (job.roundTasksDone?.[`r${i + 1}`] ?? 0) >= count).length;
  const { roundTaskCounts: _counts, roundTasksDone: _done, taskChunksDone: _tasks, ...shown } = job;
  void _counts;
  void _done;
  void _tasks;
  return {
    ...shown,
    progress: {
      ...job.progress,
      roundsDone,
      chunksCopied: Math.min(job.progress.chunksCopied, job.progress.chunksTotal || Infinity),
      // An ended job's clean-up removed every intermediary by prefix, including any that a
      // straggling task counted after the clean-up read the counter.
      intermediariesRemoved: job.state === 'running' ? job.progress.intermediariesRemoved : job.progress.intermediariesCreated,
    },
    percent: bytesTotal > 0 ? Math.min(100, Math.round((bytesCopied / bytesTotal) * 1000) / 10) : job.state === 'succeeded' ? 100 : 0,
    throughputBytesPerSecond: Math.round(throughput),
    etaSeconds: eta === null ? null : Math.round(eta * 10) / 10,
  };
}
