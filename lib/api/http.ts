import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { apiLogKeys, invocation } from './lambda.js';
import { MalformedJsonError, MethodNotAllowedError, SledsError, UnsupportedMediaTypeError, ValidationError } from '../errors.js';

export type ApiEvent = APIGatewayProxyEvent;
export type ApiResult = APIGatewayProxyResult;
export type ApiHandler = (event: ApiEvent, context?: Context) => Promise<ApiResult>;

/** Largest JSON body any route accepts. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

/** A JSON response. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** A binary response; API Gateway decodes the base64 for clients that accept octet-stream. */
export function binary(statusCode: number, body: Buffer): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/octet-stream' },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** A header's value, whatever case the client sent its name in. */
export function header(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** The body as bytes; it must be sent as application/octet-stream. */
export function requireBinaryBody(event: ApiEvent): Buffer {
  const type = header(event, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (event.body && type !== 'application/octet-stream') {
    throw new UnsupportedMediaTypeError(type ?? 'none', 'application/octet-stream');
  }
  if (!event.body) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'binary');
}

/** An empty response, such as 204. */
export function empty(statusCode: number): ApiResult {
  return { statusCode, headers: {}, body: '' };
}

/**
 * The one place that turns errors into responses. Domain errors keep their status and code;
 * anything else is logged and answered with a 500 that does not leak internals.
 */
export function errorResponse(error: unknown): ApiResult {
  if (error instanceof SledsError) {
    const headers: Record<string, string> =
      error instanceof MethodNotAllowedError ? { allow: error.allowed.join(', ') } : {};
    if (error.status >= 500) console.error(error);
    return json(error.status, { error: { code: error.code, message: error.message } }, headers);
  }
  console.error(error);
  return json(500, { error: { code: 'InternalError', message: 'The service failed to handle the request.' } });
}

/**
 * Wraps a handler body so every thrown error becomes a JSON error response, its log lines carry
 * the volume, partition and job of the path, and its metrics are sent when it ends.
 */
export function apiHandler(body: (event: ApiEvent) => Promise<ApiResult>): ApiHandler {
  return (event, context) =>
    invocation(context, apiLogKeys(event), async () => {
      try {
        return await body(event);
      } catch (error) {
        return errorResponse(error);
      }
    });
}

function describeIssues(error: z.ZodError, what: string): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return `${what} has unknown field(s): ${issue.keys.join(', ')}`;
      return issue.message;
    })
    .join('; ');
}

/** Parses the body as JSON and validates it; ValidationError says exactly which rule failed. */
export function parseJsonBody<S extends z.ZodType>(event: ApiEvent, schema: S): z.output<S> {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > MAX_JSON_BODY_BYTES) {
    throw new ValidationError(`The JSON body exceeds ${MAX_JSON_BODY_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new MalformedJsonError();
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MalformedJsonError('The request body must be a JSON object.');
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(describeIssues(result.error, 'The body'));
  return result.data;
}

/** Validates the query string. */
export function parseQuery<S extends z.ZodType>(event: ApiEvent, schema: S): z.output<S> {
  const result = schema.safeParse(event.queryStringParameters ?? {});
  if (!result.success) throw new ValidationError(describeIssues(result.error, 'The query'));
  return result.data;
}

/** Validates one path parameter. */
export function pathParameter<S extends z.ZodType>(event: ApiEvent, name: string, schema: S): z.output<S> {
  const result = schema.safeParse(event.pathParameters?.[name]);
  if (!result.success) throw new ValidationError(describeIssues(result.error, name));
  return result.data;
}
