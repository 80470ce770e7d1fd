import type { ChunkLocation, ChunkStore } from '../sleds/ports.js';
import { TransientCopyError } from './errors.js';
import { transient } from './transient.js';

/** How long a pipelined child waits for its parent's chunk before its batch fails (and is retried). */
const PARENT_WAIT_MS = 120_000;

/** The key by which a chunk is tracked: sled and object key. */
const keyOf = (at: ChunkLocation): string => `${at.sled}/${at.key}`;

/**
 * Chunk arrivals within one process, for pipelined plans: which chunks this process has
 * written, which its running copy tasks are about to write, and the child tasks waiting for
 * them. It lets a child start on a chunk the moment its parent wrote it, without polling the
 * sled, when both run in the same Lambda.
 */
export class ChunkArrivals {
  /** Chunks this process has written, and tasks waiting for them (pipelining within a process). */
  private readonly written = new Set<string>();
  private readonly waiters = new Map<string, Array<() => void>>();
  /** Chunks that copy tasks running in this process are about to write. */
  private readonly pending = new Set<string>();

  constructor(private readonly chunks: ChunkStore) {}

  /** Notes that a task of this process is about to write `at` (unless it already did). */
  expect(at: ChunkLocation): void {
    if (!this.written.has(keyOf(at))) this.pending.add(keyOf(at));
  }

  /** `at` is no longer on its way from this process: waiting children go back to asking the sled. */
  settle(at: ChunkLocation): void {
    const key = keyOf(at);
    if (!this.pending.delete(key)) return;
    // Copies waiting for their turn behind this one (waitTurn) go on; children look again.
    for (const wake of this.waiters.get(key) ?? []) wake();
    this.waiters.delete(key);
  }

  /** Whether this process wrote `at`. */
  has(at: ChunkLocation): boolean {
    return this.written.has(keyOf(at));
  }

  /** Wakes every waiting child, so that each looks again at whether its job still runs. */
  wakeAll(): void {
    for (const [key, wakes] of this.waiters) {
      this.waiters.delete(key);
      for (const wake of wakes) wake();
    }
  }

  /**
   * Waits until a parent's chunk exists: with pipelining a child starts before its parent is
   * done. A parent copied by this process wakes the child at once; otherwise (another Lambda)
   * the child polls the sled with backoff.
   */
  async waitFor(at: ChunkLocation, stillRunning: () => Promise<void>): Promise<void> {
    const key = keyOf(at);
    if (this.written.has(key)) return;
    const deadline = Date.now() + PARENT_WAIT_MS;
    // A parent that this process is copying wakes the child itself: asking the sled would only
    // add load. Now and then it asks anyway, in case that copy failed and ran again elsewhere.
    const local = this.pending.has(key);
    for (let delay = local ? 1000 : 20, round = 0; ; delay = Math.min(delay * 2, local ? 4000 : 1000), round++) {
      if ((!local || round > 0) && (await transient('look for a parent chunk', () => this.chunks.sha256(at))) !== undefined) return;
      if (Date.now() > deadline) throw new TransientCopyError(`parent chunk ${at.key} did not appear within ${PARENT_WAIT_MS} ms`);
      // A parent that failed never writes; the job's state says so.
      await stillRunning();
      await this.sleepUntilWoken(key, delay);
      if (this.written.has(key)) return;
    }
  }

  /**
   * Waits until the copy that writes `at` has finished, for a copy that must follow it on a
   * sled's link (a swarm plan's order, swarm-sequence.ts). The order only paces the links, and
   * no data depends on it, so the wait ends as well when that copy ended here without writing,
   * or after `maxMs` when it runs elsewhere (another Lambda) and never shows up.
   */
  async waitTurn(at: ChunkLocation, maxMs: number, stillRunning: () => Promise<void>): Promise<void> {
    const key = keyOf(at);
    const deadline = Date.now() + maxMs;
    for (let delay = 20; !this.written.has(key); delay = Math.min(delay * 2, 1000)) {
      const local = this.pending.has(key);
      if (!local && (await transient('look for the copy before this one', () => this.chunks.sha256(at))) !== undefined) return;
      if (Date.now() > deadline) return;
      await stillRunning();
      await this.sleepUntilWoken(key, local ? 4000 : delay);
      // It ended here without writing (its task failed): nothing to wait for.
      if (local && !this.pending.has(key) && !this.written.has(key)) return;
    }
  }

  private async sleepUntilWoken(key: string, ms: number): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const waiters = this.waiters.get(key) ?? [];
    waiters.push(wake);
    this.waiters.set(key, waiters);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([woken, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** Records that this process wrote a chunk, and wakes the tasks waiting for it. */
  wrote(at: ChunkLocation): void {
    const key = keyOf(at);
    this.written.add(key);
    this.pending.delete(key);
    for (const wake of this.waiters.get(key) ?? []) wake();
    this.waiters.delete(key);
  }

  /** Forgets the chunks whose keys contain `part` (a job's copies, removed by its catch): a retry must not take them for written. */
  forget(part: string): void {
    for (const key of this.written) if (key.includes(part)) this.written.delete(key);
  }
}
