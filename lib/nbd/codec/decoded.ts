/**
 * The result of decoding one message from a ByteQueue: the message, a request for more
 * bytes (nothing was consumed), or a violation of the protocol (the connection is dropped).
 */
export type Decoded<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'invalid'; readonly message: string };

/** Wraps a decoded message. */
export function ok<T>(value: T): Decoded<T> {
  return { kind: 'ok', value };
}

/** Asks for at least `bytes` queued bytes in total before decoding again. */
export function need<T>(bytes: number): Decoded<T> {
  return { kind: 'need', bytes };
}

/** Reports a protocol violation. */
export function invalid<T>(message: string): Decoded<T> {
  return { kind: 'invalid', message };
}
