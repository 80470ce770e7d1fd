import type { ApiHandler } from '../api/http.js';
import type { CopyJobTask } from '../copy-jobs/states.js';
import type { TaskHandler } from './local-workflow-runner.js';

/**
 * The handler modules the embedded cloud can invoke, by the `handler` name used in ROUTES.
 * Imported lazily, like a Lambda cold start; a unit test checks it matches ROUTES.
 */
export const HANDLER_MODULES: Record<string, () => Promise<{ handler: ApiHandler }>> = {
  health: () => import('../../functions/health.js'),
  'create-volume': () => import('../../functions/create-volume.js'),
  'list-volumes': () => import('../../functions/list-volumes.js'),
  'list-snapshots': () => import('../../functions/list-snapshots.js'),
  'list-copy-jobs': () => import('../../functions/list-copy-jobs.js'),
  'get-volume': () => import('../../functions/get-volume.js'),
  'delete-volume': () => import('../../functions/delete-volume.js'),
  'write-data': () => import('../../functions/write-data.js'),
  'read-data': () => import('../../functions/read-data.js'),
  'zero-data': () => import('../../functions/zero-data.js'),
  'get-allocation': () => import('../../functions/get-allocation.js'),
  'get-partition': () => import('../../functions/get-partition.js'),
  'create-checkpoint': () => import('../../functions/create-checkpoint.js'),
  'create-sweep': () => import('../../functions/create-sweep.js'),
  'fail-replica': () => import('../../functions/fail-replica.js'),
  'rebuild-partition': () => import('../../functions/rebuild-partition.js'),
  'create-snapshot': () => import('../../functions/create-snapshot.js'),
  'get-snapshot': () => import('../../functions/get-snapshot.js'),
  'delete-snapshot': () => import('../../functions/delete-snapshot.js'),
  'create-copy-job': () => import('../../functions/create-copy-job.js'),
  'get-copy-job': () => import('../../functions/get-copy-job.js'),
  'retry-copy-job': () => import('../../functions/retry-copy-job.js'),
  'list-copy-job-events': () => import('../../functions/list-copy-job-events.js'),
};

/** The Step Functions task handlers, by task; the local runner calls them for their Task states. */
export const TASK_HANDLER_MODULES: Record<CopyJobTask, () => Promise<TaskHandler>> = {
  plan: async () => (await import('../../functions/plan-copy-job.js')).handler,
  copyBatch: async () => (await import('../../functions/copy-partition-batch.js')).handler,
  finalize: async () => (await import('../../functions/finalize-copy-job.js')).handler,
  cleanUp: async () => (await import('../../functions/clean-up-copy-job.js')).handler,
  markFailed: async () => (await import('../../functions/fail-copy-job.js')).handler,
};
