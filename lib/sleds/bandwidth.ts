/**
 * The sled bandwidth model: each sled has a full-duplex link, egress and ingress, each capped
 * at `bytesPerSecond`, so a sled's bytes can never leave (or arrive) faster than the cap, however
 * many copies share it. This stands in for a storage server's network link, so that fan-out can
 * be measured on one machine. A transfer crosses the links at its ends and is done when both
 * have carried its bytes.
 *
 * How a link shares itself between the transfers on it:
 * - 'fair' (the default): equally among the transfers on it at each moment (processor sharing),
 *   as TCP flows share a link, and as the planner's model assumes (copy-jobs/bandwidth-model.ts).
 *   A 4 KiB read beside a 1 MiB copy takes about twice its own time on the link, not the copy's.
 * - 'fifo': whole transfers back to back in the order they came, so a small read waits behind
 *   every copy reserved before it. The model of earlier benchmarks (docs/benchmarks.md), kept to
 *   compare with.
 */
export type LinkSharing = 'fair' | 'fifo';

export const LINK_SHARINGS: readonly LinkSharing[] = ['fair', 'fifo'];

export class SledBandwidth {
  private readonly egress = new Map<number, Link>();
  private readonly ingress = new Map<number, Link>();

  constructor(
    readonly bytesPerSecond: number,
    readonly sharing: LinkSharing = 'fair',
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(bytesPerSecond > 0)) throw new Error('a sled bandwidth cap must be positive');
  }

  private link(links: Map<number, Link>, sled: number): Link {
    let link = links.get(sled);
    if (!link) {
      const bytesPerMs = this.bytesPerSecond / 1000;
      link = this.sharing === 'fair' ? new FairLink(bytesPerMs, this.now) : new FifoLink(bytesPerMs, this.now);
      links.set(sled, link);
    }
    return link;
  }

  /**
   * Waits until `bytes` have moved from sled `from` to sled `to` (either may be absent for a
   * one-ended transfer such as an upload or a download).
   */
  async transfer(from: number | undefined, to: number | undefined, bytes: number): Promise<void> {
    const legs: Array<Promise<void>> = [];
    if (from !== undefined) legs.push(this.link(this.egress, from).carry(bytes));
    if (to !== undefined) legs.push(this.link(this.ingress, to).carry(bytes));
    await Promise.all(legs);
  }
}

/** One direction of one sled's link. */
interface Link {
  /** Resolves once the link has carried `bytes` for this transfer. */
  carry(bytes: number): Promise<void>;
}

/** Whole transfers back to back, in the order they came. */
class FifoLink implements Link {
  private freeAt = 0;

  constructor(
    private readonly bytesPerMs: number,
    private readonly now: () => number,
  ) {}

  async carry(bytes: number): Promise<void> {
    const start = Math.max(this.now(), this.freeAt);
    this.freeAt = start + bytes / this.bytesPerMs;
    const wait = this.freeAt - this.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Equal shares for the transfers on the link at each moment (processor sharing). */
class FairLink implements Link {
  private readonly flows: Array<{ left: number; done: () => void }> = [];
  private updatedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bytesPerMs: number,
    private readonly now: () => number,
  ) {}

  carry(bytes: number): Promise<void> {
    if (!(bytes > 0)) return Promise.resolve();
    this.advance();
    return new Promise((resolve) => {
      this.flows.push({ left: bytes, done: resolve });
      this.schedule();
    });
  }

  /** Serves every flow its share of the time since the last update; ends those served in full. */
  private advance(): void {
    const now = this.now();
    if (this.flows.length > 0) {
      const share = ((now - this.updatedAt) * this.bytesPerMs) / this.flows.length;
      // Within a millisecond's worth of done is done: timers have millisecond grain.
      const slack = this.bytesPerMs;
      for (let i = this.flows.length - 1; i >= 0; i--) {
        const flow = this.flows[i]!;
        flow.left -= share;
        if (flow.left <= slack) {
          this.flows.splice(i, 1);
          flow.done();
        }
      }
    }
    this.updatedAt = now;
  }

  /** Wakes when the flow with the least left would end at the current shares. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flows.length === 0) return;
    const least = Math.min(...this.flows.map((flow) => flow.left));
    const wait = (least * this.flows.length) / this.bytesPerMs;
    this.timer = setTimeout(() => {
      this.advance();
      this.schedule();
    }, wait);
  }
}
