import { z } from 'zod';
import { SledsError } from '../errors.js';
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
  state: z.enum(['creating', 'available', 'deleting', 'failed']),
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

const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

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
    return this.request('POST', '/volumes', volumeSchema, request);
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

  private async request<T>(method: Method, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const url = `${this.endpoint}${path}`;
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        throw new ApiUnreachableError(this.endpoint, `no answer within ${this.timeoutMs / 1000} s`, { cause: error });
      }
      throw new ApiUnreachableError(this.endpoint, networkDetail(error, this.endpoint), { cause: error });
    }
    const text = await response.text();
    let value: unknown;
    try {
      value = text === '' ? undefined : JSON.parse(text);
    } catch (error) {
      value = undefined;
      if (response.ok) {
        throw new UnexpectedResponseError(
          `${method} ${url} answered ${response.status} with a body that is not JSON; is ${this.endpoint} a Sleds API?`,
          { cause: error },
        );
      }
    }
    if (!response.ok) {
      const parsed = errorBodySchema.safeParse(value);
      if (parsed.success) {
        throw new ApiError(parsed.data.error.code, response.status, parsed.data.error.message);
      }
      const reason = response.statusText ? ` ${response.statusText}` : '';
      throw new ApiError(`Http${response.status}`, response.status, `${method} ${url} answered ${response.status}${reason}.`);
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
