/** The console's view of the Sleds API's JSON, and how the page reaches it (through /api on its own server). */

export interface Volume {
  readonly volumeId: string;
  readonly name?: string;
  readonly sizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly partitionChunks: number;
  readonly partitionCount: number;
  readonly state: string;
  readonly createdAt: string;
  /** Not in the API yet; shown when a later API adds it. */
  readonly allocatedBytes?: number;
  /** Not in the API yet: a copy target's hydration, 0 to 1. */
  readonly hydration?: number;
}

export interface Replica {
  readonly role: string;
  readonly replicaId: string;
  readonly sled: number;
  readonly epoch: number;
  readonly lastCommittedOp: number;
  readonly pendingNotes: readonly string[];
}

export interface Partition {
  readonly partition: number;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly initialized?: boolean;
  readonly epoch: number;
  readonly primary: Replica;
  readonly secondary: Replica;
  readonly inSync: boolean;
  readonly flushedOp?: number;
  readonly checkpoint?: { readonly op: number; readonly key: string } | null;
  readonly rebuild?: { readonly state: string; readonly replicaId?: string };
}

export interface Snapshot {
  readonly snapshotId: string;
  readonly volumeId: string;
  readonly state: string;
  readonly sizeBytes: number;
  readonly partitionCount: number;
  readonly progress: { readonly partitionsDone: number; readonly partitionsTotal: number; readonly chunksStored: number; readonly bytesStored: number };
  readonly createdAt: string;
  readonly completedAt?: string;
}

export interface TreeNode {
  readonly id: string;
  readonly partition: number;
  readonly kind: 'snapshot' | 'intermediary' | 'target';
  readonly sled: number;
  readonly depth: number;
  readonly round: number;
  readonly parent?: string;
  readonly volumeId?: string;
  readonly chunks: number;
  readonly chunksDone: number | null;
}

export interface CopyJob {
  readonly jobId: string;
  readonly snapshotId: string;
  readonly volumeIds: readonly string[];
  readonly maxSourceFanout: number;
  readonly mode: string;
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly progress: {
    readonly roundsPlanned: number;
    readonly roundsDone: number;
    readonly intermediariesCreated: number;
    readonly intermediariesRemoved: number;
    readonly chunksCopied: number;
    readonly chunksTotal: number;
    readonly bytesCopied: number;
    readonly bytesTotal: number;
    readonly targetsVerified: number;
  };
  readonly error?: string;
  readonly createdAt: string;
  readonly finishedAt?: string;
  readonly percent: number;
  readonly throughputBytesPerSecond: number;
  readonly etaSeconds: number | null;
  readonly tree?: { readonly mode: string; readonly rounds: number; readonly nodes: readonly TreeNode[] } | null;
}

export interface JobEvent {
  readonly timestamp: string;
  readonly type: string;
  readonly state?: string;
  readonly index?: number;
  readonly error?: string;
  readonly cause?: string;
}

export interface Known {
  readonly snapshots: ReadonlyArray<{ readonly snapshotId: string; readonly volumeId?: string; readonly seenAt: string }>;
  readonly copyJobs: ReadonlyArray<{ readonly jobId: string; readonly snapshotId?: string; readonly seenAt: string }>;
}

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

async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: {
      accept: 'application/json',
      ...(method === 'GET' ? {} : { 'x-sleds-console': '1' }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let value: unknown;
  try {
    value = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ApiError(response.status, `Http${response.status}`, `${method} ${path} answered ${response.status} with a body that is not JSON.`);
  }
  if (!response.ok) {
    const error = (value as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(response.status, error?.code ?? `Http${response.status}`, error?.message ?? `${method} ${path} answered ${response.status}.`);
  }
  return value as T;
}

const id = encodeURIComponent;

/** The calls the pages make. */
export const api = {
  listVolumes: (nextToken?: string) =>
    call<{ volumes: Volume[]; nextToken?: string }>('GET', `/api/volumes?limit=100${nextToken ? `&nextToken=${id(nextToken)}` : ''}`),
  getVolume: (volumeId: string) => call<Volume>('GET', `/api/volumes/${id(volumeId)}`),
  createVolume: (request: { sizeBytes: number; name?: string }) => call<Volume>('POST', '/api/volumes', request),
  getPartition: (volumeId: string, partition: number) => call<Partition>('GET', `/api/volumes/${id(volumeId)}/partitions/${partition}`),
  createSnapshot: (volumeId: string) => call<Snapshot>('POST', `/api/volumes/${id(volumeId)}/snapshots`),
  getSnapshot: (snapshotId: string) => call<Snapshot>('GET', `/api/snapshots/${id(snapshotId)}`),
  createCopyJob: (snapshotId: string, request: { count: number; maxSourceFanout?: number; mode?: string }) =>
    call<{ jobId: string; volumeIds: string[] }>('POST', `/api/snapshots/${id(snapshotId)}/copies`, request),
  getCopyJob: (jobId: string) => call<CopyJob>('GET', `/api/copy-jobs/${id(jobId)}?include=tree`),
  getCopyJobSummary: (jobId: string) => call<CopyJob>('GET', `/api/copy-jobs/${id(jobId)}`),
  listCopyJobEvents: (jobId: string) => call<{ jobId: string; events: JobEvent[] }>('GET', `/api/copy-jobs/${id(jobId)}/events`),
  known: () => call<Known>('GET', '/console/known'),
};
