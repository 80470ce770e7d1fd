import type { Context } from 'aws-lambda';
import { addLambdaContext, log, withLogKeys, type LogKeys } from '../observability/logger.js';
import { processTelemetry } from '../observability/process-telemetry.js';
import type { ApiEvent } from './http.js';

export { log, type LogKeys };

/**
 * Runs one Lambda invocation (or one embedded-cloud request): its log lines carry `keys` and
 * the invocation's context, and its metrics are sent when it ends (EMF is buffered per
 * invocation), whether it succeeded or not.
 */
export async function invocation<T>(context: Context | undefined, keys: LogKeys, work: () => Promise<T>): Promise<T> {
  addLambdaContext(context);
  try {
    return await withLogKeys(keys, work);
  } finally {
    processTelemetry.flush();
  }
}

/** The volume, partition and copy job an API request names in its path, as log keys. */
export function apiLogKeys(event: ApiEvent): LogKeys {
  const path = event.pathParameters ?? {};
  const partition = path.partition === undefined ? undefined : Number(path.partition);
  return {
    ...(path.volumeId ? { volumeId: path.volumeId } : {}),
    ...(partition !== undefined && Number.isSafeInteger(partition) ? { partition } : {}),
    ...(path.jobId ? { jobId: path.jobId } : {}),
  };
}

/**
 * Reports a partition's flush lag after a flush: its primary's last committed op against the op
 * the flush reached. It reads the partition's status (its logs are short right after a flush);
 * a failure to read it is logged and never fails the flush.
 */
export async function reportFlushLag(
  services: {
    readonly data: { partitionStatus(volumeId: string, partition: number): Promise<{ primary: { lastCommittedOp: number }; flushedOp: number }> };
    readonly telemetry: { flushLag(event: { volumeId: string; partition: number; committedOp: number; flushedOp: number }): void };
  },
  volumeId: string,
  partition: number,
): Promise<void> {
  try {
    const status = await services.data.partitionStatus(volumeId, partition);
    services.telemetry.flushLag({ volumeId, partition, committedOp: status.primary.lastCommittedOp, flushedOp: status.flushedOp });
  } catch (error) {
    log.warn('could not measure the flush lag', { volumeId, partition, error: String(error) });
  }
}
