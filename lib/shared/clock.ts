/**
 * The one port through which code that waits or measures time reads the clock, so that unit
 * tests drive time by hand (a manual clock) instead of sleeping, and processes can be skewed.
 */
export interface Clock {
  /** Milliseconds since the epoch, by this clock. */
  now(): number;
  /** Resolves once `ms` have passed by this clock. */
  sleep(ms: number): Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The machine's clock: what the wiring gives every component unless a test sets another. */
export const realClock: Clock = { now: () => Date.now(), sleep: realSleep };

/**
 * A clock that reads time from `now` but sleeps for real: what a process gets when a test only
 * skews or freezes its notion of "now" (VolumeDataOptions.clock), as before the Clock port.
 */
export function clockReading(now: () => number): Clock {
  return { now, sleep: realSleep };
}
