/**
 * The Sleds API's JSON as the console reads it (the domain's own types: `import type` vanishes
 * from the bundle), and how the page reaches it: through /api on the console's own server.
 */
import type { CopyJobStatus, CopyJobTree, CopyTreeNode } from '../../copy-jobs/copy-job';
import type { WorkflowEvent } from '../../copy-jobs/ports';
import type { CopyJobSummary } from '../../listings/copy-job-listing';
import type { PartitionStatus } from '../../notes/partition-status';
import type { Snapshot } from '../../snapshots/snapshot';
import type { Volume } from '../../volumes/volume';


/** A copy target's hydration in `GET /volumes/{id}`: HydrationProgress of lib/copy-jobs/hydration.ts, whose module pulls in more than the browser build can type-check. */
export interface Hydration {
  readonly jobId: string;
  readonly snapshotId: string;
  readonly chunksInPlace: number;
  readonly chunksTotal: number;
  readonly percent: number;
  readonly etaSeconds: number | null;
  readonly jobState: CopyJob['state'];
}

/** `GET /volumes/{id}`: a copy target adds its hydration. */
export type VolumeDetails = Volume & { readonly hydration?: Hydration };

/** One run of `GET /volumes/{id}/allocation`. */
export interface AllocationExtent {
  readonly offset: number;
  readonly length: number;
  readonly type: 'data' | 'zero';
}

export type Partition = PartitionStatus;
export type Replica = PartitionStatus['primary'];
export type CopyJob = CopyJobStatus & { readonly tree?: CopyJobTree | null };
export type TreeNode = CopyTreeNode;
export type JobEvent = WorkflowEvent;
export type { CopyJobSummary, Snapshot, Volume };

/** An error answer of the API (or of the console's proxy). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function send(method: 'GET' | 'POST' | 'DELETE', path: string, accept: string, body?: unknown): Promise<{ response: Response; text: string }> {
  const response = await fetch(path, {
    method,
    headers: {
      accept,
      ...(method === 'GET' ? {} : { 'x-sleds-console': '1' }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { response, text: await response.text() };
}

/** The API's `{"error": {code, message}}`, or what the status says when the body is not that. */
function failure(method: string, path: string, status: number, text: string): ApiError {
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } } | undefined)?.error;
  } catch {
    // not JSON: the status alone
  }
  return new ApiError(status, error?.code ?? `Http${status}`, error?.message ?? `${method} ${path} answered ${status}.`);
}

async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const { response, text } = await send(method, path, 'application/json', body);
  if (!response.ok) throw failure(method, path, response.status, text);
  try {
    return (text === '' ? undefined : JSON.parse(text)) as T;
  } catch {
    throw new ApiError(response.status, `Http${response.status}`, `${method} ${path} answered ${response.status} with a body that is not JSON.`);
  }
}

async function callText(path: string): Promise<string> {
  const { response, text } = await send('GET', path, 'text/plain');
  if (!response.ok) throw failure('GET', path, response.status, text);
  return text;
}

const id = encodeURIComponent;
const page = (nextToken: string | undefined) => (nextToken ? `&nextToken=${id(nextToken)}` : '');

/** The calls the pages make. */
export const api = {
  listVolumes: (nextToken?: string) => call<{ volumes: Volume[]; nextToken?: string }>('GET', `/api/volumes?limit=100${page(nextToken)}`),
  getVolume: (volumeId: string) => call<VolumeDetails>('GET', `/api/volumes/${id(volumeId)}`),
  getAllocation: (volumeId: string) => call<{ volumeId: string; extents: AllocationExtent[] }>('GET', `/api/volumes/${id(volumeId)}/allocation`),
  createVolume: (request: { sizeBytes: number; name?: string }) => call<Volume>('POST', '/api/volumes', request),
  getPartition: (volumeId: string, partition: number) => call<Partition>('GET', `/api/volumes/${id(volumeId)}/partitions/${partition}`),
  createSnapshot: (volumeId: string) => call<Snapshot>('POST', `/api/volumes/${id(volumeId)}/snapshots`),
  listSnapshots: (nextToken?: string) => call<{ snapshots: Snapshot[]; nextToken?: string }>('GET', `/api/snapshots?limit=100${page(nextToken)}`),
  getSnapshot: (snapshotId: string) => call<Snapshot>('GET', `/api/snapshots/${id(snapshotId)}`),
  createCopyJob: (snapshotId: string, request: { count: number; maxSourceFanout?: number; mode?: string }) =>
    call<{ jobId: string; volumeIds: string[] }>('POST', `/api/snapshots/${id(snapshotId)}/copies`, request),
  listCopyJobs: (nextToken?: string) => call<{ copyJobs: CopyJobSummary[]; nextToken?: string }>('GET', `/api/copy-jobs?limit=100${page(nextToken)}`),
  getCopyJob: (jobId: string) => call<CopyJob>('GET', `/api/copy-jobs/${id(jobId)}?include=tree`),
  listCopyJobEvents: (jobId: string) => call<{ jobId: string; events: JobEvent[] }>('GET', `/api/copy-jobs/${id(jobId)}/events`),
  /** The embedded cloud's GET /metrics, in the Prometheus text format. */
  metrics: () => callText('/api/metrics'),
};

/** Every item of a listing, newest first, up to `maxPages` pages (a console shows what fits; the CLI lists the rest). */
export async function everyPage<T extends { readonly createdAt: string }>(load: (nextToken?: string) => Promise<{ nextToken?: string; items: T[] }>, maxPages = 10): Promise<T[]> {
  const all: T[] = [];
  let token: string | undefined;
  for (let n = 0; n < maxPages; n++) {
    const answer = await load(token);
    all.push(...answer.items);
    token = answer.nextToken;
    if (!token) break;
  }
  return all.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
