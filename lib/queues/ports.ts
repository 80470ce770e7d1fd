/** A work queue (SQS): messages are JSON bodies. */
export interface WorkQueue {
  /** Sends every body; resolves once all are accepted. */
  sendAll(bodies: readonly unknown[]): Promise<void>;
}
