import { loadObservabilityConfig } from '../config.js';
import { EmfTelemetry } from './emf-telemetry.js';
import { log } from './logger.js';
import { PrometheusTelemetry } from './prometheus-telemetry.js';
import { fanOut, type Telemetry } from './telemetry.js';

/**
 * Each event as a log line. A write or a read is logged at debug, not info: a disk takes
 * thousands of small writes a second, and a line per write at info would cost more log volume
 * (CloudWatch Logs bills per GB ingested) than the data of a 4 KiB write, and would drown the
 * lines an operator looks for. `SLEDS_LOG_LEVEL=debug` shows them. Flushes are as frequent
 * (every 64 ops by default), so they are debug too; rebuilds, copy batches and deletes are rare: info.
 */
export const logTelemetry: Telemetry = Object.freeze<Telemetry>({
  writeCommitted: ({ volumeId, partition, op, latencyMs, groupSize, bytes }) =>
    log.debug('write committed', { volumeId, partition, op, operation: 'write', latencyMs: round(latencyMs), groupSize, bytes }),
  readServed: ({ volumeId, partition, partitions, latencyMs, bytes }) =>
    log.debug('read served', { volumeId, partition, operation: 'read', partitions, latencyMs: round(latencyMs), bytes }),
  flushLag: ({ volumeId, partition, committedOp, flushedOp }) =>
    log.debug('partition flushed', { volumeId, partition, op: flushedOp, operation: 'flush', committedOp, flushedOp, lagOps: Math.max(0, committedOp - flushedOp) }),
  rebuildFinished: ({ volumeId, partition, millis, source, opsCopied }) =>
    log.info('replica rebuilt', { volumeId, partition, operation: 'rebuild', millis, source, opsCopied }),
  copyProgress: ({ jobId, round: copyRound, batch, bytes, millis }) =>
    log.info('copy batch done', { jobId, operation: 'copy', round: copyRound, batch, bytes, millis }),
  // As frequent as reads: the counters say it (GET /metrics), not a log line.
  hydrationRead: () => undefined,
  volumeDeleted: ({ volumeId }) => log.info('volume deleted', { volumeId, operation: 'delete' }),
  flush: () => undefined,
});

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The in-process registry that the embedded cloud serves at GET /metrics. */
export const localMetrics = new PrometheusTelemetry();

let sink: Telemetry | undefined;

function current(): Telemetry {
  sink ??= fanOut(logTelemetry, loadObservabilityConfig().metrics === 'emf' ? new EmfTelemetry() : localMetrics);
  return sink;
}

/**
 * The process's telemetry: log lines plus EMF in a Lambda, plus the in-process registry
 * elsewhere (SLEDS_METRICS). A stable object that resolves its sink on each call, so services
 * wired once keep reporting after resetProcessTelemetry().
 */
export const processTelemetry: Telemetry = Object.freeze<Telemetry>({
  writeCommitted: (event) => current().writeCommitted(event),
  readServed: (event) => current().readServed(event),
  flushLag: (event) => current().flushLag(event),
  rebuildFinished: (event) => current().rebuildFinished(event),
  copyProgress: (event) => current().copyProgress(event),
  hydrationRead: (event) => current().hydrationRead(event),
  volumeDeleted: (event) => current().volumeDeleted(event),
  flush: () => current().flush(),
});

/** Reads SLEDS_METRICS again on next use (the embedded cloud rewrites its environment; tests). */
export function resetProcessTelemetry(): void {
  sink = undefined;
}
