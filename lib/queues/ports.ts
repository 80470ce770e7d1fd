/**
 * A work queue (SQS): messages are JSON bodies. `M` is the message type the queue carries
 * (its zod schema sits beside it, and the consumer parses every body with that schema).
 */
export interface WorkQueue<M = unknown> {
  /** Sends every body; resolves once all are accepted. With `delaySeconds` (at most 900), they are delivered no sooner. */
  sendAll(bodies: readonly M[], options?: { readonly delaySeconds?: number }): Promise<void>;
}
