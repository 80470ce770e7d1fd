import type { Clock } from '../../../lib/shared/clock.js';

/** Lets every promise continuation that is ready run (a macrotask turn, not a sleep). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A clock that moves only when the test says so: `sleep` registers a sleeper, `advance` moves
 * time forward and wakes the sleepers that are due, in due order, letting each run on before
 * the next wakes. No test using it ever waits for real time.
 */
export class ManualClock implements Clock {
  private sleepers: Array<{ readonly at: number; readonly wake: () => void }> = [];

  constructor(private current = 1_000_000) {}

  /** The time the test has moved the clock to. */
  now(): number {
    return this.current;
  }

  /** Resolves when a later `advance` passes `ms` from now. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ at: this.current + Math.max(0, ms), wake: resolve });
      this.sleepers.sort((a, b) => a.at - b.at);
    });
  }

  /** How many sleepers wait now. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  /** Moves time forward by `ms`, waking each sleeper due meanwhile at its own time. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    for (;;) {
      const next = this.sleepers[0];
      if (!next || next.at > until) break;
      this.sleepers.shift();
      this.current = next.at;
      next.wake();
      await settle();
    }
    this.current = until;
    await settle();
  }
}

/** Lets the event loop turn until `check` holds (at most `turns` times): waiting on work, never on time. */
export async function until(check: () => boolean | Promise<boolean>, turns = 1000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await check()) return;
    await settle();
  }
  throw new Error(`the condition did not hold after ${turns} turns of the event loop`);
}
