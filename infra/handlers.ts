import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ROUTES } from '../lib/api/routes.js';
import { COPY_JOB_TASKS } from '../lib/copy-jobs/states.js';
import { QUEUES } from '../lib/resources.js';
import type { QueueName } from './constructs/work-queues.js';

/** Where the handler files live: `functions/<handler>.ts`, each exporting `handler`. */
export const FUNCTIONS_DIR = fileURLToPath(new URL('../functions/', import.meta.url));

/** The entry file of a handler. */
export function handlerEntry(handler: string): string {
  return `${FUNCTIONS_DIR}${handler}.ts`;
}

/** What runs a handler: API Gateway, the copy-job state machine, or an SQS queue. */
export type HandlerKind = 'api' | 'task' | 'consumer';

/** Memory and time of one function; API timeouts stay under API Gateway's 29 s. */
export interface HandlerSizing {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
}

export interface HandlerDefinition extends HandlerSizing {
  readonly name: string;
  readonly kind: HandlerKind;
  /** For consumers: the queue whose messages the function handles. */
  readonly queue?: QueueName;
}

const API_DEFAULT: HandlerSizing = { memoryMb: 1024, timeoutSeconds: 29 };

/** Data routes move up to 4 MiB per request and hash it: a whole vCPU (1,769 MB) pays for itself. */
const API_SIZING: Readonly<Record<string, HandlerSizing>> = {
  'write-data': { memoryMb: 1769, timeoutSeconds: 29 },
  'read-data': { memoryMb: 1769, timeoutSeconds: 29 },
};

const MINUTE = 60;

/**
 * Task sizing. A copy batch runs up to 32 partition copies with server-side CopyObject and may
 * wait up to 2 minutes for a pipelined parent, so it gets Lambda's full 15 minutes; the
 * planner holds the whole fan-out tree in memory, hence the most memory.
 */
export const TASK_SIZING: Readonly<Record<keyof typeof COPY_JOB_TASKS, HandlerSizing>> = {
  plan: { memoryMb: 3008, timeoutSeconds: 5 * MINUTE },
  copyBatch: { memoryMb: 1024, timeoutSeconds: 15 * MINUTE },
  finalize: { memoryMb: 1769, timeoutSeconds: 15 * MINUTE },
  cleanUp: { memoryMb: 1024, timeoutSeconds: 15 * MINUTE },
  markFailed: { memoryMb: 1024, timeoutSeconds: 15 * MINUTE },
};

/**
 * SQS consumers and their queues: `materialize-snapshot` takes the snapshot queue, and
 * `flush-partition` the flush queue (flushes and the orphan sweeps that checkpoints queue).
 */
export const QUEUE_CONSUMERS: ReadonlyArray<{ readonly handler: string; readonly queue: QueueName; readonly memoryMb: number }> = [
  { handler: 'materialize-snapshot', queue: 'snapshot', memoryMb: 1769 },
  { handler: 'flush-partition', queue: 'flush', memoryMb: 1769 },
];

/**
 * A consumer's timeout: a sixth of its queue's visibility timeout, as AWS advises for SQS event
 * sources, so a message is not redelivered while a throttled batch is still being retried.
 */
export function consumerTimeoutSeconds(queue: QueueName): number {
  return Math.floor(QUEUES[queue].visibilityTimeoutSeconds / 6);
}

/**
 * Every handler the stateless stack deploys: one per distinct ROUTES handler, one per copy-job
 * task, and each queue consumer whose file exists. `exists` is injectable for tests.
 */
export function handlerDefinitions(exists: (file: string) => boolean = existsSync): HandlerDefinition[] {
  const api = [...new Set(ROUTES.map((route) => route.handler))].map(
    (name): HandlerDefinition => ({ name, kind: 'api', ...(API_SIZING[name] ?? API_DEFAULT) }),
  );
  const tasks = (Object.keys(COPY_JOB_TASKS) as Array<keyof typeof COPY_JOB_TASKS>).map(
    (task): HandlerDefinition => ({ name: COPY_JOB_TASKS[task].handler, kind: 'task', ...TASK_SIZING[task] }),
  );
  const consumers = QUEUE_CONSUMERS.filter(({ handler }) => exists(handlerEntry(handler))).map(
    ({ handler, queue, memoryMb }): HandlerDefinition => ({
      name: handler,
      kind: 'consumer',
      queue,
      memoryMb,
      timeoutSeconds: consumerTimeoutSeconds(queue),
    }),
  );
  return [...api, ...tasks, ...consumers];
}
