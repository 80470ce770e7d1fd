import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { loadObservabilityConfig, type ObservabilityConfig } from '../config.js';
import { METRICS_SERVICE } from './metrics.js';

/** The keys a Sleds log line is searched by; each is present only where it is known. */
export interface LogKeys {
  readonly volumeId?: string;
  readonly partition?: number;
  readonly op?: number;
  readonly jobId?: string;
  readonly [key: string]: unknown;
}

/**
 * Keys of the work in progress (a request, a queue message, a copy task). They are kept per
 * async context, not appended to the shared Logger: the embedded cloud serves many requests at
 * once in one process, and appended keys would leak from one request into another's lines.
 */
const scope = new AsyncLocalStorage<LogKeys>();

let built: Logger | undefined;

/** Builds the process's Powertools Logger (service `sleds`) from config, once. */
export function createLogger(config: Pick<ObservabilityConfig, 'logLevel'> = loadObservabilityConfig()): Logger {
  return new Logger({ serviceName: METRICS_SERVICE, logLevel: config.logLevel });
}

/** The process-wide logger, built from the environment on first use (a Lambda cold start). */
export function processLogger(): Logger {
  built ??= createLogger();
  return built;
}

/** Drops the process-wide logger so the next line reads SLEDS_LOG_LEVEL again (the embedded cloud and tests). */
export function resetProcessLogger(): void {
  built = undefined;
}

/** Runs `work` with `keys` on every line it logs, nested inside the caller's keys. */
export function withLogKeys<T>(keys: LogKeys, work: () => T): T {
  return scope.run({ ...scope.getStore(), ...keys }, work);
}

/** The keys of the work in progress. */
export function currentLogKeys(): LogKeys {
  return scope.getStore() ?? {};
}

/** Adds a Lambda invocation's context (request id, function name, cold start) to the process's lines. */
export function addLambdaContext(context: Context | undefined): void {
  if (context) processLogger().addContext(context);
}

type Level = 'debug' | 'info' | 'warn' | 'error';

function write(level: Level, message: string, keys: LogKeys = {}): void {
  processLogger()[level]({ message, ...currentLogKeys(), ...keys });
}

/** Structured log lines with the keys of the work in progress: `log.info('flushed', { flushedOp })`. */
export const log = Object.freeze({
  debug: (message: string, keys?: LogKeys) => write('debug', message, keys),
  info: (message: string, keys?: LogKeys) => write('info', message, keys),
  warn: (message: string, keys?: LogKeys) => write('warn', message, keys),
  error: (message: string, keys?: LogKeys) => write('error', message, keys),
});
