import { beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../lib/wiring.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { useTwoProcesses } from '../support/processes.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const SIZE = 128 * KIB;

/**
 * Found by the torture runner (seed 1): a head remembers the tail of the primary's log it last
 * appended. Once its lease is over, another process may append many ops, and a flush's garbage
 * collection then trims the log below its oldest retained checkpoint, freeing the very slot
 * after the remembered tail. The conditional append there succeeded: an acknowledged write
 * under an op below the chunk map's base, which no reader ever sees.
 */
describe('a head whose remembered log tail was trimmed away', () => {
  const processes = useTwoProcesses(useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 1 }));
  let early: Services;
  let busy: Services;
  beforeAll(() => {
    [early, busy] = processes();
  });

  it('appends after the real tail, and its write is read back', async () => {
    const volume = await busy.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 2 });
    const { volumeId } = volume;
    const model = Buffer.alloc(SIZE);
    // The early process writes once and remembers op 1 as its tail.
    await early.data.write(volumeId, 0, pattern(4 * KIB, 1));
    pattern(4 * KIB, 1).copy(model, 0);
    // The other one waits out the lease, writes on, and flushes and checkpoints after each
    // write: the oldest checkpoints retire and the log is trimmed below them (op 2 included).
    for (let i = 0; i < 8; i++) {
      const data = pattern(4 * KIB, 10 + i);
      await busy.data.write(volumeId, 8 * KIB + i * 4 * KIB, data);
      data.copy(model, 8 * KIB + i * 4 * KIB);
      await busy.flush.flush({ volumeId, partition: 0, uptoOp: Number.MAX_SAFE_INTEGER });
    }
    const data = pattern(4 * KIB, 2);
    const { ops } = await early.data.write(volumeId, 4 * KIB, data);
    data.copy(model, 4 * KIB);
    expect(ops[0]?.op).toBeGreaterThan(9);
    expect((await busy.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });
});
