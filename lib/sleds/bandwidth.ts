/**
 * The sled bandwidth model: each sled has a full-duplex link, egress and ingress, each capped
 * at `bytesPerSecond`. A transfer reserves its bytes on the links it crosses; a link serves
 * reservations back to back at its rate, so a sled's bytes can never leave (or arrive) faster
 * than the cap, however many copies share it. This stands in for a storage server's network
 * link, so that fan-out can be measured on one machine.
 */
export class SledBandwidth {
  private readonly egressFree: number[] = [];
  private readonly ingressFree: number[] = [];

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(bytesPerSecond > 0)) throw new Error('a sled bandwidth cap must be positive');
  }

  private reserve(links: number[], sled: number, bytes: number): number {
    const start = Math.max(this.now(), links[sled] ?? 0);
    const end = start + (bytes / this.bytesPerSecond) * 1000;
    links[sled] = end;
    return end;
  }

  /**
   * Waits until `bytes` may move from sled `from` to sled `to` (either may be absent for a
   * one-ended transfer such as an upload or a download).
   */
  async transfer(from: number | undefined, to: number | undefined, bytes: number): Promise<void> {
    let until = this.now();
    if (from !== undefined) until = Math.max(until, this.reserve(this.egressFree, from, bytes));
    if (to !== undefined) until = Math.max(until, this.reserve(this.ingressFree, to, bytes));
    const wait = until - this.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
