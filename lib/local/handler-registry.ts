import type { ApiHandler } from '../api/http.js';

/**
 * The handler modules the embedded cloud can invoke, by the `handler` name used in ROUTES.
 * Imported lazily, like a Lambda cold start; a unit test checks it matches ROUTES.
 */
export const HANDLER_MODULES: Record<string, () => Promise<{ handler: ApiHandler }>> = {
  health: () => import('../../functions/health.js'),
  'create-volume': () => import('../../functions/create-volume.js'),
  'list-volumes': () => import('../../functions/list-volumes.js'),
  'get-volume': () => import('../../functions/get-volume.js'),
  'delete-volume': () => import('../../functions/delete-volume.js'),
  'write-data': () => import('../../functions/write-data.js'),
  'read-data': () => import('../../functions/read-data.js'),
  'get-partition': () => import('../../functions/get-partition.js'),
  'create-snapshot': () => import('../../functions/create-snapshot.js'),
  'get-snapshot': () => import('../../functions/get-snapshot.js'),
};
