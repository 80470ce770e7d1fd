/** Items per BatchWriteItem (DynamoDB's limit). */
export const BATCH_WRITE_ITEMS = 25;
/** Batches out at once when full batches are waiting: the bound that lets batches fill never caps throughput below this. */
const MAX_FULL_BATCHES_IN_FLIGHT = 16;

interface Waiting {
  readonly items: ReadonlyArray<Record<string, unknown>>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Unconditional item puts from every partition of a process, sent together: while `maxInFlight`
 * batches are out, new puts queue, and the next batch takes everything queued up to 25 items
 * (a full batch goes at once, up to 16 out, so the bound never caps throughput).
 * An idle batcher sends a put at once (no added latency); under load a BatchWriteItem carries
 * the notes of many partitions' groups where each took a request of its own. A caller's items
 * always travel in one batch (both replicas' copies of a note), and its promise settles with
 * that batch. The items of one batch must have distinct keys: note ids are never reused.
 */
export class ItemPutBatcher {
  private readonly queue: Waiting[] = [];
  private queuedItems = 0;
  private inFlight = 0;

  constructor(
    /** Writes the items (at most 25), resending what DynamoDB leaves unprocessed. */
    private readonly send: (items: ReadonlyArray<Record<string, unknown>>) => Promise<void>,
    private readonly maxInFlight: number,
  ) {}

  /** Puts `items` (at most 25) in the next batch; resolves once they are written. */
  put(items: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    if (items.length > BATCH_WRITE_ITEMS) return Promise.reject(new Error(`at most ${BATCH_WRITE_ITEMS} items travel together; got ${items.length}`));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queuedItems += items.length;
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && (this.inFlight < this.maxInFlight || (this.queuedItems >= BATCH_WRITE_ITEMS && this.inFlight < MAX_FULL_BATCHES_IN_FLIGHT))) {
      const batch: Waiting[] = [];
      let count = 0;
      while (this.queue.length > 0 && count + this.queue[0]!.items.length <= BATCH_WRITE_ITEMS) {
        const next = this.queue.shift()!;
        batch.push(next);
        count += next.items.length;
      }
      this.queuedItems -= count;
      this.inFlight++;
      this.send(batch.flatMap((waiting) => waiting.items))
        .then(
          () => batch.forEach((waiting) => waiting.resolve()),
          (error: unknown) => batch.forEach((waiting) => waiting.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
