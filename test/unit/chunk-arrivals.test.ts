import { describe, expect, it } from 'vitest';
import { ChunkArrivals } from '../../lib/copy-jobs/chunk-arrivals.js';
import type { ChunkLocation, ChunkStore } from '../../lib/sleds/ports.js';

const at: ChunkLocation = { sled: 1, key: 'vols/v/0/3-job' };

/** A chunk store that only answers sha256: present once `stored` says so (the sled, for copies in other processes). */
function sled(stored: () => boolean): { store: ChunkStore; asked: () => number } {
  let asked = 0;
  const store = {
    sha256: async () => {
      asked++;
      return stored() ? 'ab' : undefined;
    },
  } as unknown as ChunkStore;
  return { store, asked: () => asked };
}

const running = async (): Promise<void> => {};
const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'late'> =>
  Promise.race([promise, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), ms))]);

describe('ChunkArrivals.waitTurn (a swarm copy waiting for the copy before it on its sled)', () => {
  it('goes at once when that copy was written here', async () => {
    const { store, asked } = sled(() => false);
    const arrivals = new ChunkArrivals(store);
    arrivals.wrote(at);
    await arrivals.waitTurn(at, 10_000, running);
    expect(asked()).toBe(0);
  });

  it('waits for a copy running here, without asking the sled, and goes the moment it is written', async () => {
    const { store, asked } = sled(() => false);
    const arrivals = new ChunkArrivals(store);
    arrivals.expect(at);
    let done = false;
    const waiting = arrivals.waitTurn(at, 10_000, running).then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(done).toBe(false);
    arrivals.wrote(at);
    expect(await within(waiting, 100)).toBe(true);
    expect(asked()).toBe(0);
  });

  it('goes when that copy ends here without writing (its task failed): no data depends on the order', async () => {
    const { store } = sled(() => false);
    const arrivals = new ChunkArrivals(store);
    arrivals.expect(at);
    const waiting = arrivals.waitTurn(at, 10_000, running).then(() => 'went');
    await new Promise((resolve) => setTimeout(resolve, 20));
    arrivals.settle(at);
    expect(await within(waiting, 100)).toBe('went');
  });

  it('asks the sled for a copy running elsewhere, and goes once it is there', async () => {
    let present = false;
    const { store, asked } = sled(() => present);
    const arrivals = new ChunkArrivals(store);
    const waiting = arrivals.waitTurn(at, 10_000, running).then(() => 'went');
    setTimeout(() => (present = true), 60);
    expect(await within(waiting, 2_000)).toBe('went');
    expect(asked()).toBeGreaterThan(1);
  });

  it('gives up after maxMs on a copy that never shows up', async () => {
    const { store } = sled(() => false);
    const arrivals = new ChunkArrivals(store);
    const began = performance.now();
    await arrivals.waitTurn(at, 150, running);
    expect(performance.now() - began).toBeGreaterThanOrEqual(150);
  });

  it('stops when the job has ended', async () => {
    const { store } = sled(() => false);
    const arrivals = new ChunkArrivals(store);
    arrivals.expect(at);
    const ended = async (): Promise<void> => {
      throw new Error('the job has ended');
    };
    await expect(arrivals.waitTurn(at, 10_000, ended)).rejects.toThrow('the job has ended');
  });
});
