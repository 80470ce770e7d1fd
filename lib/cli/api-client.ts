import { z } from 'zod';
import { SledsError } from '../errors.js';
import type { CopyJobStatus } from '../copy-jobs/copy-job.js';
import type { WorkflowEvent } from '../copy-jobs/ports.js';
import type { Snapshot } from '../snapshots/snapshot.js';
import type { Volume } from '../volumes/volume.js';

/** The API answered with an error body (`{"error":{"code","message"}}`) or a bare HTTP error. */
export class ApiError extends SledsError {
  constructor(code: string, status: number, message: string) {
    super(code, status, message);
  }
}

/** Nothing answered at the endpoint: refused, unresolvable, reset or timed out. */
export class ApiUnreachableError extends SledsError {
  readonly endpoint: string;

  constructor(endpoint: string, detail: string, options?: { cause?: unknown }) {
    super(
      'ApiUnreachable',
      503,
      `No Sleds API answers at ${endpoint} (${detail}). Start one with \`npm start\`, ` +
        'or set SLEDS_ENDPOINT (or --endpoint) to the URL of a running Sleds API.',
      options,
    );
    this.endpoint = endpoint;
  }
}

/** Something answered, but not with what the Sleds API sends: likely the wrong endpoint. */
export class UnexpectedResponseError extends SledsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UnexpectedResponse', 502, message, options);
  }
}

/** The body of `POST /volumes`; the API fills in defaults for what is absent. */
export interface CreateVolumeRequest {
  readonly sizeBytes: number;
  readonly chunkSizeBytes?: number;
  readonly partitionChunks?: number;
  readonly name?: string;
}

/** One page of `GET /volumes`. */
export interface VolumeListPage {
  readonly volumes: Volume[];
  readonly nextToken?: string;
}

/** The answer to `DELETE /volumes/{id}`. */
export interface DeleteVolumeResult {
  readonly volumeId: string;
  readonly deleted: boolean;
  readonly objectsRemoved: number;
}

/** The answer to `PUT /volumes/{id}/data`: the op each touched partition committed the write under. */
export interface WriteResult {
  readonly ops: ReadonlyArray<{ readonly partition: number; readonly op: number }>;
}

/** One head-node replica in `GET /volumes/{id}/partitions/{p}`. */
export interface ReplicaStatus {
  readonly role: string;
  readonly replicaId: string;
  readonly sled: number;
  readonly epoch: number;
  readonly lastCommittedOp: number;
  /** Notes recorded on the replica's journal but not committed. */
  readonly pendingNotes: readonly string[];
}

/** The answer to `GET /volumes/{id}/partitions/{p}`. */
export interface PartitionStatus {
  readonly volumeId: string;
  readonly partition: number;
  /** Volume byte offset where the partition starts. */
  readonly offset: number;
  readonly sizeBytes: number;
  /** False until the first write places the replicas. */
  readonly initialized?: boolean;
  readonly epoch: number;
  readonly primary: ReplicaStatus;
  readonly secondary: ReplicaStatus;
  readonly inSync: boolean;
}

/** The body of `POST /snapshots/{id}/copies`; the API fills in defaults for what is absent. */
export interface CreateCopyJobRequest {
  readonly count: number;
  readonly maxSourceFanout?: number;
  readonly mode?: 'pipelined' | 'rounds' | 'direct';
  /** Makes the request idempotent: the same token returns the job it started first. */
  readonly clientToken?: string;
}

/** The answer to `POST /snapshots/{id}/copies` (202): the job runs on after it. */
export interface CopyJobStarted {
  readonly jobId: string;
  readonly volumeIds: string[];
  readonly executionArn: string;
}

/** The answer to `GET /copy-jobs/{id}/events`. */
export interface CopyJobEvents {
  readonly jobId: string;
  readonly events: WorkflowEvent[];
}

export interface ApiClientOptions {
  /** Base URL of the API, without a trailing slash; may carry a path (an API Gateway stage). */
  readonly endpoint: string;
  /** Injected for tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
  /** Per-request deadline. Deleting a large volume removes many objects, so it is generous. */
  readonly timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 120_000;

// Loose objects: a newer API may add fields, and --json should pass them through untouched.
const volumeSchema = z.looseObject({
  volumeId: z.string(),
  name: z.string().optional(),
  sizeBytes: z.number(),
  chunkSizeBytes: z.number(),
  partitionChunks: z.number(),
  partitionCount: z.number(),
  state: z.enum(['creating', 'hydrating', 'available', 'deleting', 'failed']),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const pageSchema = z.looseObject({
  volumes: z.array(volumeSchema),
  nextToken: z.string().min(1).optional(),
});

const deleteSchema = z.looseObject({
  volumeId: z.string(),
  deleted: z.boolean(),
  objectsRemoved: z.number(),
});

const writeResultSchema = z.looseObject({
  ops: z.array(z.looseObject({ partition: z.number(), op: z.number() })),
});

const replicaSchema = z.looseObject({
  role: z.string(),
  replicaId: z.string(),
  sled: z.number(),
  epoch: z.number(),
  lastCommittedOp: z.number(),
  pendingNotes: z.array(z.string()),
});

const partitionSchema = z.looseObject({
  volumeId: z.string(),
  partition: z.number(),
  offset: z.number(),
  sizeBytes: z.number(),
  initialized: z.boolean().optional(),
  epoch: z.number(),
  primary: replicaSchema,
  secondary: replicaSchema,
  inSync: z.boolean(),
});

const snapshotSchema = z.looseObject({
  snapshotId: z.string(),
  volumeId: z.string(),
  state: z.enum(['creating', 'completed', 'failed']),
  sizeBytes: z.number(),
  chunkSizeBytes: z.number(),
  partitionChunks: z.number(),
  partitionCount: z.number(),
  ops: z.record(z.string(), z.number()),
  sleds: z.record(z.string(), z.number()),
  progress: z.looseObject({
    partitionsDone: z.number(),
    partitionsTotal: z.number(),
    chunksStored: z.number(),
    bytesStored: z.number(),
  }),
  createdAt: z.string(),
  completedAt: z.string().optional(),
});

const copyJobStartedSchema = z.looseObject({
  jobId: z.string(),
  volumeIds: z.array(z.string()),
  executionArn: z.string(),
});

const copyJobSchema = z.looseObject({
  jobId: z.string(),
  snapshotId: z.string(),
  volumeIds: z.array(z.string()),
  maxSourceFanout: z.number(),
  mode: z.enum(['pipelined', 'rounds', 'direct']),
  state: z.enum(['running', 'succeeded', 'failed']),
  executionArn: z.string(),
  progress: z.looseObject({
    roundsPlanned: z.number(),
    roundsDone: z.number(),
    intermediariesCreated: z.number(),
    intermediariesRemoved: z.number(),
    chunksCopied: z.number(),
    chunksTotal: z.number(),
    bytesCopied: z.number(),
    bytesTotal: z.number(),
    targetsVerified: z.number(),
  }),
  plan: z.string().optional(),
  error: z.string().optional(),
  createdAt: z.string(),
  startedCopyingAt: z.string().optional(),
  finishedAt: z.string().optional(),
  percent: z.number(),
  throughputBytesPerSecond: z.number(),
  etaSeconds: z.number().nullable(),
});

const copyJobEventsSchema = z.looseObject({
  jobId: z.string(),
  events: z.array(
    z.looseObject({
      timestamp: z.string(),
      type: z.string(),
      state: z.string().optional(),
      index: z.number().optional(),
      error: z.string().optional(),
      cause: z.string().optional(),
    }),
  ),
});

const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

const dataPath = (volumeId: string) => `/volumes/${encodeURIComponent(volumeId)}/data`;

function networkDetail(error: unknown, endpoint: string): string {
  // undici wraps the socket error as `cause`; happy-eyeballs wraps several in an AggregateError.
  const cause = (error as { cause?: unknown }).cause as
    | { code?: string; message?: string; errors?: Array<{ code?: string }> }
    | undefined;
  if (cause?.message === 'bad port') {
    // The Fetch standard blocks some ports (1, 25, 6000, ...) before any connection is tried.
    return `fetch refuses to connect to port ${new URL(endpoint).port}, a port the Fetch standard blocks`;
  }
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).message;
}

/**
 * A small client for the Sleds HTTP API. Every method either returns the parsed body or
 * throws a SledsError: ApiError for answers from the API, ApiUnreachableError when nothing
 * answers, UnexpectedResponseError when something that is not the API answers.
 */
export class SledsApiClient {
  readonly endpoint: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: ApiClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Creates a volume; returns it as the API stored it. */
  createVolume(request: CreateVolumeRequest): Promise<Volume> {
    return this.request('POST', '/volumes', volumeSchema, { json: request });
  }

  /** Fetches one page of volumes. */
  listVolumes(options: { limit?: number; nextToken?: string } = {}): Promise<VolumeListPage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.nextToken !== undefined) query.set('nextToken', options.nextToken);
    const search = query.size > 0 ? `?${query}` : '';
    return this.request('GET', `/volumes${search}`, pageSchema);
  }

  /** Yields every page of volumes, following nextToken until the last page. */
  async *listVolumePages(options: { limit?: number } = {}): AsyncGenerator<VolumeListPage> {
    const seen = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await this.listVolumes({ ...options, ...(nextToken ? { nextToken } : {}) });
      yield page;
      nextToken = page.nextToken;
      // A token seen before would loop forever; the API never does that, a stand-in might.
      if (nextToken !== undefined) {
        if (seen.has(nextToken)) {
          throw new UnexpectedResponseError(`${this.endpoint} returned the same nextToken twice while listing volumes.`);
        }
        seen.add(nextToken);
      }
    } while (nextToken !== undefined);
  }

  /** Fetches one volume; throws ApiError with code VolumeNotFound when it does not exist. */
  getVolume(volumeId: string): Promise<Volume> {
    return this.request('GET', `/volumes/${encodeURIComponent(volumeId)}`, volumeSchema);
  }

  /** Deletes a volume and its data. */
  deleteVolume(volumeId: string): Promise<DeleteVolumeResult> {
    return this.request('DELETE', `/volumes/${encodeURIComponent(volumeId)}`, deleteSchema);
  }

  /**
   * Writes `data` at `offset` (both multiples of 4096, at most 4 MiB). With an
   * idempotency key a retry of the same write returns the first result instead of writing again.
   */
  writeData(volumeId: string, offset: number, data: Uint8Array, options: { idempotencyKey?: string } = {}): Promise<WriteResult> {
    return this.request('PUT', `${dataPath(volumeId)}?offset=${offset}`, writeResultSchema, {
      binary: data,
      headers: options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey },
    });
  }

  /** Reads `length` bytes at `offset`: the newest committed data, zeros where nothing was written. */
  async readData(volumeId: string, offset: number, length: number): Promise<Buffer> {
    const method = 'GET';
    const path = `${dataPath(volumeId)}?offset=${offset}&length=${length}`;
    const response = await this.send(method, path, { accept: 'application/octet-stream' });
    if (!response.ok) await this.fail(method, path, response, await response.text());
    const type = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    const bytes = Buffer.from(await response.arrayBuffer());
    if (type !== 'application/octet-stream' || bytes.length !== length) {
      throw new UnexpectedResponseError(
        `${method} ${this.endpoint}${path} answered ${bytes.length} bytes of ${type ?? 'no content type'} ` +
          `instead of ${length} bytes of application/octet-stream; is ${this.endpoint} a Sleds API?`,
      );
    }
    return bytes;
  }

  /** Fetches the head-node replicas of one partition: epochs, committed ops, pending notes. */
  getPartition(volumeId: string, partition: number): Promise<PartitionStatus> {
    return this.request('GET', `/volumes/${encodeURIComponent(volumeId)}/partitions/${partition}`, partitionSchema);
  }

  /** Snapshots the volume at its committed ops; the chunks are stored in the background. */
  createSnapshot(volumeId: string): Promise<Snapshot> {
    return this.request('POST', `/volumes/${encodeURIComponent(volumeId)}/snapshots`, snapshotSchema);
  }

  /** Fetches a snapshot: its state and how far storing its partitions has got. */
  getSnapshot(snapshotId: string): Promise<Snapshot> {
    return this.request('GET', `/snapshots/${encodeURIComponent(snapshotId)}`, snapshotSchema);
  }

  /** Starts a copy job that makes `count` new volumes from a completed snapshot. */
  createCopyJob(snapshotId: string, request: CreateCopyJobRequest): Promise<CopyJobStarted> {
    return this.request('POST', `/snapshots/${encodeURIComponent(snapshotId)}/copies`, copyJobStartedSchema, { json: request });
  }

  /** Fetches a copy job: state, rounds, intermediaries, bytes, throughput and ETA. */
  getCopyJob(jobId: string): Promise<CopyJobStatus> {
    return this.request('GET', `/copy-jobs/${encodeURIComponent(jobId)}`, copyJobSchema);
  }

  /** Fetches the state transitions of a copy job's execution. */
  listCopyJobEvents(jobId: string): Promise<CopyJobEvents> {
    return this.request('GET', `/copy-jobs/${encodeURIComponent(jobId)}/events`, copyJobEventsSchema);
  }

  private async send(method: Method, path: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<Response> {
    try {
      return await this.fetch(`${this.endpoint}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        throw new ApiUnreachableError(this.endpoint, `no answer within ${this.timeoutMs / 1000} s`, { cause: error });
      }
      throw new ApiUnreachableError(this.endpoint, networkDetail(error, this.endpoint), { cause: error });
    }
  }

  /** Throws the ApiError that a non-2xx answer stands for. */
  private async fail(method: Method, path: string, response: Response, text: string): Promise<never> {
    let value: unknown;
    try {
      value = text === '' ? undefined : JSON.parse(text);
    } catch {
      value = undefined;
    }
    const parsed = errorBodySchema.safeParse(value);
    if (parsed.success) {
      throw new ApiError(parsed.data.error.code, response.status, parsed.data.error.message);
    }
    const reason = response.statusText ? ` ${response.statusText}` : '';
    throw new ApiError(
      `Http${response.status}`,
      response.status,
      `${method} ${this.endpoint}${path} answered ${response.status}${reason}.`,
    );
  }

  private async request<T>(
    method: Method,
    path: string,
    schema: z.ZodType<T>,
    body?: { json: unknown } | { binary: Uint8Array; headers?: Record<string, string> },
  ): Promise<T> {
    const url = `${this.endpoint}${path}`;
    let response: Response;
    if (body === undefined) {
      response = await this.send(method, path, { accept: 'application/json' });
    } else if ('json' in body) {
      response = await this.send(
        method,
        path,
        { accept: 'application/json', 'content-type': 'application/json' },
        JSON.stringify(body.json),
      );
    } else {
      response = await this.send(
        method,
        path,
        { accept: 'application/json', 'content-type': 'application/octet-stream', ...body.headers },
        body.binary,
      );
    }
    const text = await response.text();
    if (!response.ok) return this.fail(method, path, response, text);
    let value: unknown;
    try {
      value = text === '' ? undefined : JSON.parse(text);
    } catch (error) {
      throw new UnexpectedResponseError(
        `${method} ${url} answered ${response.status} with a body that is not JSON; is ${this.endpoint} a Sleds API?`,
        { cause: error },
      );
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
      throw new UnexpectedResponseError(
        `${method} ${url} answered with JSON the CLI does not understand (${issue?.message ?? 'invalid'}${where}); ` +
          `is ${this.endpoint} a Sleds API of the same version?`,
      );
    }
    return parsed.data;
  }
}
