/**
 * Following work that the service does in the background: a snapshot being stored and a
 * copy job running. Each watcher polls the API, feeds a ProgressBar and returns the final
 * state. The client and the sleep are injected, so unit tests drive them without a clock.
 */
import type { CopyJobStatus } from '../copy-jobs/copy-job.js';
import { SledsError } from '../errors.js';
import type { Snapshot } from '../snapshots/snapshot.js';
import type { SledsApiClient } from './api-client.js';
import { copyJobStatusText, isPlanned, snapshotStatusText } from './copy-format.js';
import type { ProgressBar } from './progress.js';
import { withRetries } from './transfer.js';

/** How often a watcher asks: a few times a second is live enough and costs the API little. */
export const POLL_INTERVAL_MS = 250;

export interface WatchOptions {
  readonly intervalMs?: number;
  /** Injected by tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Options for the retries of each poll; injected by tests. */
  readonly retry?: Parameters<typeof withRetries>[1];
}

/** Storing the snapshot's partitions failed; the service says so, there is nothing to retry here. */
export class SnapshotFailedError extends SledsError {
  constructor(snapshot: Snapshot) {
    super(
      'SnapshotFailed',
      500,
      `Snapshot ${snapshot.snapshotId} of ${snapshot.volumeId} failed after storing ` +
        `${snapshot.progress.partitionsDone} of ${snapshot.progress.partitionsTotal} partitions; take a new one.`,
    );
  }
}

/** The copy job ended `failed`; its targets and intermediaries were removed by the job's catch. */
export class CopyJobFailedError extends SledsError {
  constructor(job: CopyJobStatus) {
    super('CopyJobFailed', 500, `Copy job ${job.jobId} failed: ${job.error ?? 'the job recorded no error'}`);
  }
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls the snapshot until it is no longer `creating`, drawing partitions stored on `bar`.
 * Returns the last snapshot, completed or failed; the caller decides what a failure means.
 */
export async function waitForSnapshot(
  client: Pick<SledsApiClient, 'getSnapshot'>,
  first: Snapshot,
  bar: ProgressBar,
  options: WatchOptions = {},
): Promise<Snapshot> {
  const sleep = options.sleep ?? sleepMs;
  let snapshot = first;
  try {
    for (;;) {
      const { partitionsDone, partitionsTotal } = snapshot.progress;
      bar.update(partitionsDone, { total: partitionsTotal, status: snapshotStatusText(snapshot) });
      if (snapshot.state !== 'creating') break;
      await sleep(options.intervalMs ?? POLL_INTERVAL_MS);
      const { snapshotId } = snapshot;
      // One lost answer or 503 should not end a long wait; what retries cure is retried.
      snapshot = await withRetries(() => client.getSnapshot(snapshotId), options.retry);
    }
  } catch (error) {
    bar.abort();
    throw error;
  }
  if (snapshot.state === 'completed') bar.finish();
  else bar.abort();
  return snapshot;
}

/**
 * Polls the copy job until it ends, drawing bytes copied against the plan's total, the
 * server's throughput and ETA, and a status ("round 2/3, 12 intermediaries") on `bar`.
 * Until the job is planned the bar shows only the status. Returns the final job.
 */
export async function watchCopyJob(
  client: Pick<SledsApiClient, 'getCopyJob'>,
  jobId: string,
  bar: ProgressBar,
  options: WatchOptions = {},
): Promise<CopyJobStatus> {
  const sleep = options.sleep ?? sleepMs;
  try {
    for (;;) {
      const job = await withRetries(() => client.getCopyJob(jobId), options.retry);
      if (isPlanned(job)) {
        bar.update(job.progress.bytesCopied, {
          total: job.progress.bytesTotal,
          status: copyJobStatusText(job),
          // Before the first copy starts the server's throughput is a placeholder 0, not a measurement.
          rate: job.startedCopyingAt === undefined ? Number.NaN : job.throughputBytesPerSecond,
          // The server says 0 for any job that ended; a failed one has no time left, it has none at all.
          etaSeconds: job.state === 'failed' ? null : job.etaSeconds,
        });
      } else {
        bar.wait(copyJobStatusText(job));
      }
      if (job.state !== 'running') {
        if (job.state === 'succeeded') bar.finish();
        else bar.abort();
        return job;
      }
      await sleep(options.intervalMs ?? POLL_INTERVAL_MS);
    }
  } catch (error) {
    bar.abort();
    throw error;
  }
}
