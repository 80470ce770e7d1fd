import { describe, expect, it } from 'vitest';
import { FencedError, VolumeNotFoundError } from '../../lib/errors.js';
import { retryUncommitted } from '../../lib/notes/retry-uncommitted.js';

/** A write that fails with the fences listed, then succeeds; counts its attempts. */
function fencedWrite(fences: Array<'no' | 'unknown'>) {
  const write = async () => {
    write.attempts++;
    const committed = fences.shift();
    if (committed) throw new FencedError('epoch 1 was superseded by epoch 2', committed);
    return 'acknowledged';
  };
  write.attempts = 0;
  return write;
}

describe('retryUncommitted', () => {
  it('sends again a write a failover fenced before its commit, until it is acknowledged', async () => {
    const write = fencedWrite(['no', 'no']);
    expect(await retryUncommitted(write, 60_000)).toBe('acknowledged');
    expect(write.attempts).toBe(3);
  });

  it('does not send again a write fenced after its commit on the primary: its outcome is unknown', async () => {
    const write = fencedWrite(['unknown']);
    const failed = await retryUncommitted(write, 60_000).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(FencedError);
    expect(write.attempts).toBe(1);
  });

  it('gives up with the fence once its time budget is spent', async () => {
    let attempts = 0;
    const started = Date.now();
    const failed = await retryUncommitted(async () => {
      attempts++;
      throw new FencedError('rebuilding', 'no');
    }, 100).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(FencedError);
    expect(attempts).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('passes any other error through at once', async () => {
    let attempts = 0;
    const failed = await retryUncommitted(async () => {
      attempts++;
      throw new VolumeNotFoundError('vol-x');
    }, 60_000).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(VolumeNotFoundError);
    expect(attempts).toBe(1);
  });
});
