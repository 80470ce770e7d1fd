/** A work queue (SQS): messages are JSON bodies. */
export interface WorkQueue {
  /** Sends every body; resolves once all are accepted. With `delaySeconds` (at most 900), they are delivered no sooner. */
  sendAll(bodies: readonly unknown[], options?: { readonly delaySeconds?: number }): Promise<void>;
}
