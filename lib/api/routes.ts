/**
 * The API's routes, declared once: the embedded cloud's HTTP adapter dispatches from this
 * table, and the CDK stack builds API Gateway resources from it. `handler` names the file in
 * `functions/` that serves the route.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteDefinition {
  readonly method: HttpMethod;
  /** API Gateway resource path, with `{name}` parameters. */
  readonly resource: string;
  readonly handler: string;
  readonly summary: string;
}

export const ROUTES: readonly RouteDefinition[] = [
  { method: 'GET', resource: '/health', handler: 'health', summary: 'state of each backing service' },
  { method: 'POST', resource: '/volumes', handler: 'create-volume', summary: 'create a volume' },
  { method: 'GET', resource: '/volumes', handler: 'list-volumes', summary: 'list volumes, paginated with nextToken' },
  { method: 'GET', resource: '/volumes/{volumeId}', handler: 'get-volume', summary: 'show one volume' },
  { method: 'DELETE', resource: '/volumes/{volumeId}', handler: 'delete-volume', summary: 'delete a volume and its data' },
  { method: 'PUT', resource: '/volumes/{volumeId}/data', handler: 'write-data', summary: 'write bytes at ?offset= (octet-stream body)' },
  { method: 'GET', resource: '/volumes/{volumeId}/data', handler: 'read-data', summary: 'read ?offset=&length= bytes' },
  { method: 'POST', resource: '/volumes/{volumeId}/zero', handler: 'zero-data', summary: 'make {"offset", "length"} read as zeros (one op per partition, nothing stored)' },
  { method: 'GET', resource: '/volumes/{volumeId}/allocation', handler: 'get-allocation', summary: 'which runs of ?offset=&length= (default: all) hold data or zeros' },
  {
    method: 'GET',
    resource: '/volumes/{volumeId}/partitions/{partition}',
    handler: 'get-partition',
    summary: 'both head-node replicas of a partition',
  },
  {
    method: 'POST',
    resource: '/volumes/{volumeId}/partitions/{partition}/checkpoints',
    handler: 'create-checkpoint',
    summary: 'flush the partition and checkpoint its metadata now',
  },
  {
    method: 'POST',
    resource: '/volumes/{volumeId}/partitions/{partition}/sweeps',
    handler: 'create-sweep',
    summary: 'remove the orphans older than an hour that no map, checkpoint or log names, now',
  },
  {
    method: 'POST',
    resource: '/volumes/{volumeId}/partitions/{partition}/failures',
    handler: 'fail-replica',
    summary: 'lose a head-node replica ({"replica": "primary"|"secondary"}) and rebuild it',
  },
  {
    method: 'POST',
    resource: '/volumes/{volumeId}/partitions/{partition}/rebuild',
    handler: 'rebuild-partition',
    summary: 'finish an interrupted rebuild',
  },
  { method: 'POST', resource: '/volumes/{volumeId}/snapshots', handler: 'create-snapshot', summary: 'snapshot the volume at its committed ops' },
  { method: 'GET', resource: '/snapshots', handler: 'list-snapshots', summary: 'list snapshots, paginated with nextToken' },
  { method: 'GET', resource: '/snapshots/{snapshotId}', handler: 'get-snapshot', summary: 'snapshot state and progress' },
  { method: 'DELETE', resource: '/snapshots/{snapshotId}', handler: 'delete-snapshot', summary: 'delete a snapshot no hydrating volume needs' },
  { method: 'POST', resource: '/snapshots/{snapshotId}/copies', handler: 'create-copy-job', summary: 'copy a snapshot into N new volumes' },
  { method: 'GET', resource: '/copy-jobs', handler: 'list-copy-jobs', summary: 'list copy jobs with their progress, paginated with nextToken' },
  { method: 'GET', resource: '/copy-jobs/{jobId}', handler: 'get-copy-job', summary: 'copy job progress, throughput and ETA' },
  { method: 'POST', resource: '/copy-jobs/{jobId}/retry', handler: 'retry-copy-job', summary: "finish a failed job's hydration" },
  { method: 'GET', resource: '/copy-jobs/{jobId}/events', handler: 'list-copy-job-events', summary: "the execution's state transitions" },
];

export interface RouteMatch {
  readonly route: RouteDefinition;
  readonly pathParameters: Record<string, string>;
}

/** Matches a concrete path against a resource template; returns the parameters or undefined. */
export function matchResource(resource: string, path: string): Record<string, string> | undefined {
  const want = resource.split('/').filter(Boolean);
  const have = path.split('/').filter(Boolean);
  if (want.length !== have.length) return undefined;
  const parameters: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const template = want[i] as string;
    const segment = have[i] as string;
    const name = /^\{(\w+)\}$/.exec(template)?.[1];
    if (name) {
      try {
        parameters[name] = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
    } else if (template !== segment) {
      return undefined;
    }
  }
  return parameters;
}

/**
 * Finds the route for a method and path. Returns the route, or the methods the path does
 * accept (empty when no route has this path at all).
 */
export function findRoute(method: string, path: string): RouteMatch | { allowed: HttpMethod[] } {
  const allowed: HttpMethod[] = [];
  for (const route of ROUTES) {
    const pathParameters = matchResource(route.resource, path);
    if (!pathParameters) continue;
    if (route.method === method) return { route, pathParameters };
    allowed.push(route.method);
  }
  return { allowed };
}

/** Content types passed to handlers base64-encoded, as API Gateway's binary media types. */
export const BINARY_MEDIA_TYPES: readonly string[] = ['application/octet-stream'];

/** Largest request body API Gateway accepts (10 MB); the local adapter enforces the same. */
export const MAX_REQUEST_BODY_BYTES = 10 * 1000 * 1000;
