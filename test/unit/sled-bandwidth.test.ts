import { describe, expect, it } from 'vitest';
import { SledBandwidth } from '../../lib/sleds/bandwidth.js';

const KIB = 1024;
const MIB = 1024 * KIB;
/** 10 MiB/s: a 1 MiB copy takes 100 ms on a link, a 4 KiB read 0.4 ms. */
const CAP = 10 * MIB;

/** Milliseconds from now until `promise` settles. */
async function timed(promise: Promise<void>): Promise<number> {
  const began = performance.now();
  await promise;
  return performance.now() - began;
}

describe('the sled bandwidth model', () => {
  it('fair: a small read beside a copy takes a share of the link, not the copy’s time', async () => {
    const links = new SledBandwidth(CAP, 'fair');
    const copy = timed(links.transfer(3, 5, MIB));
    const read = await timed(links.transfer(3, undefined, 4 * KIB));
    expect(read).toBeLessThan(40);
    expect(await copy).toBeGreaterThanOrEqual(97);
  });

  it('fifo: a small read waits behind the copy reserved before it', async () => {
    const links = new SledBandwidth(CAP, 'fifo');
    const copy = timed(links.transfer(3, 5, MIB));
    const read = await timed(links.transfer(3, undefined, 4 * KIB));
    expect(read).toBeGreaterThanOrEqual(97);
    expect(await copy).toBeGreaterThanOrEqual(97);
  });

  for (const sharing of ['fair', 'fifo'] as const) {
    it(`${sharing}: transfers sharing a link never beat the cap together, and other sleds' links are apart`, async () => {
      const links = new SledBandwidth(CAP, sharing);
      const began = performance.now();
      const ends: number[] = [];
      const shared = [0, 1, 2].map((to) => links.transfer(7, to, MIB).then(() => ends.push(performance.now() - began)));
      const apart = timed(links.transfer(8, 9, MIB));
      await Promise.all(shared);
      // Three MiB through one egress: 300 ms at least (less the model's millisecond grain); the last one not much later.
      expect(Math.max(...ends)).toBeGreaterThanOrEqual(297);
      expect(Math.max(...ends)).toBeLessThan(600);
      if (sharing === 'fair') expect(Math.min(...ends)).toBeGreaterThanOrEqual(297);
      else expect(Math.min(...ends)).toBeLessThan(200);
      const alone = await apart;
      expect(alone).toBeGreaterThanOrEqual(97);
      expect(alone).toBeLessThan(250);
    });
  }

  it('fair: a copy ends when the busier of its two links has carried it', async () => {
    const links = new SledBandwidth(CAP, 'fair');
    // The receiving sled is also receiving another MiB: the copy gets half its ingress.
    const other = links.transfer(1, 2, MIB);
    const copy = await timed(links.transfer(3, 2, MIB));
    await other;
    expect(copy).toBeGreaterThanOrEqual(197);
  });

  it('refuses a cap that is not positive', () => {
    expect(() => new SledBandwidth(0)).toThrow('positive');
  });
});
