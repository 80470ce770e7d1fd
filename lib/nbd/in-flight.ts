/**
 * Caps the requests and payload bytes one connection has in flight. While the cap is reached
 * the connection stops decoding requests, its receive queue fills and the socket is paused.
 */
export class InFlight {
  private count = 0;
  private bytes = 0;
  private waiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly maxRequests: number,
    private readonly maxBytes: number,
  ) {}

  /** Requests currently in flight. */
  get requests(): number {
    return this.count;
  }

  /**
   * Waits for room for one more request of `cost` bytes. A request larger than the byte cap
   * still runs, alone, so that it cannot wait forever.
   */
  async acquire(cost: number): Promise<void> {
    while (this.count >= this.maxRequests || (this.count > 0 && this.bytes + cost > this.maxBytes)) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.count += 1;
    this.bytes += cost;
  }

  /** Returns the room a finished request held. */
  release(cost: number): void {
    this.count -= 1;
    this.bytes -= cost;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    if (this.count === 0) {
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of idle) wake();
    }
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
