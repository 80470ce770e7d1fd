/**
 * The HTTP transport under the CLI's API client: one request with a deadline, JSON or binary
 * bodies, and the mapping of every failure onto the errors in api-errors.ts, so that the calls
 * in api-client.ts only name a method, a path and the schema of the answer.
 */
import { z } from 'zod';
import { ApiError, ApiUnreachableError, UnexpectedResponseError } from './api-errors.js';

/** Where the client sends requests, and how. */
export interface ApiClientOptions {
  /** Base URL of the API, without a trailing slash; may carry a path (an API Gateway stage). */
  readonly endpoint: string;
  /** Injected for tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
  /** Per-request deadline. Deleting a large volume removes many objects, so it is generous. */
  readonly timeoutMs?: number;
}

/** Per-request deadline unless ApiClientOptions says otherwise. */
export const DEFAULT_TIMEOUT_MS = 120_000;

const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

/** The HTTP methods the API uses. */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

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
 * Sends requests to the Sleds API and parses what comes back: the parsed body, or a SledsError.
 * SledsApiClient extends it with one method per API call.
 */
export class ApiTransport {
  readonly endpoint: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: ApiClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Sends one request; nothing answering becomes ApiUnreachableError. */
  protected async send(method: Method, path: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<Response> {
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
  protected async fail(method: Method, path: string, response: Response, text: string): Promise<never> {
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

  /** Sends one request and parses its JSON answer with `schema`. */
  protected async request<T>(
    method: Method,
    path: string,
    schema: z.ZodType<T>,
    body?: { json: unknown; headers?: Record<string, string> } | { binary: Uint8Array; headers?: Record<string, string> },
  ): Promise<T> {
    const url = `${this.endpoint}${path}`;
    let response: Response;
    if (body === undefined) {
      response = await this.send(method, path, { accept: 'application/json' });
    } else if ('json' in body) {
      response = await this.send(
        method,
        path,
        { accept: 'application/json', 'content-type': 'application/json', ...body.headers },
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
