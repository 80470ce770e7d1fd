/**
 * The errors the CLI's API client throws, apart from the answers themselves: the CLI tells a
 * user "the API said no" (ApiError), "nothing is listening" (ApiUnreachableError) and "that is
 * not a Sleds API" (UnexpectedResponseError) apart, because each needs a different fix.
 */
import { SledsError } from '../errors.js';

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
