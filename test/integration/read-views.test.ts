import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError } from '../../lib/errors.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const SIZE = 256 * KIB;

/** Counts the SDK commands a set of clients sends, by name. */
function countCommands(clients: Services['clients']): Map<string, number> {
  const counts = new Map<string, number>();
  for (const client of [clients.s3, clients.documents] as Array<{ middlewareStack: any }>) {
    client.middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => {
        const name = (context.commandName ?? '?').replace(/Command$/, '');
        counts.set(name, (counts.get(name) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'testCommandCounter' },
    );
  }
  return counts;
}

/**
 * A process keeps a view of each partition it reads (chunk map and extent index) and checks
 * it with one query per read. These tests change the partition from another process — writes,
 * flushes that collect the objects the view names, a failover — and the reader must follow.
 */
describe('a reader that keeps its view of a partition', () => {
  const cloud = useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 2 });
  let writer: Services;
  let reader: Services;

  beforeAll(() => {
    writer = createServices(cloud().config);
    reader = createServices(cloud().config);
  });
  afterAll(() => {
    writer.clients.destroy();
    reader.clients.destroy();
  });

  async function volumeWith(model: Buffer) {
    const volume = await writer.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const write = async (offset: number, data: Buffer) => {
      // The first write after a failover is fenced (its head held the old epoch); a client retries it.
      await writer.data.write(volume.volumeId, offset, data).catch((error: unknown) => {
        if (!(error instanceof FencedError)) throw error;
        return writer.data.write(volume.volumeId, offset, data);
      });
      data.copy(model, offset);
    };
    await write(0, pattern(SIZE, 1));
    return { volumeId: volume.volumeId, write };
  }

  it('reads a warm partition with one DynamoDB query and the object reads', async () => {
    const model = Buffer.alloc(SIZE);
    const { volumeId } = await volumeWith(model);
    expect((await reader.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    const counts = countCommands(reader.clients);
    expect((await reader.data.read(volumeId, 8 * KIB, 16 * KIB)).equals(model.subarray(8 * KIB, 24 * KIB))).toBe(true);
    expect(Object.fromEntries(counts)).toEqual({ Query: 1, GetObject: 1 });
  });

  it('sees writes, flushes and their collected objects made by another process', async () => {
    const model = Buffer.alloc(SIZE);
    const { volumeId, write } = await volumeWith(model);
    expect((await reader.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    for (let round = 0; round < 4; round++) {
      // A write into the range the reader reads next: its speculative read must be thrown away.
      await write(round * 32 * KIB, pattern(12 * KIB, 10 + round));
      expect((await reader.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
      // A flush moves the base and collects the chunk versions the reader's view still names.
      await writer.flush.flush({ volumeId, partition: 0, uptoOp: Number.MAX_SAFE_INTEGER });
      await write(round * 32 * KIB + 60 * KIB, pattern(4 * KIB, 20 + round));
      expect((await reader.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    }
  });

  it('follows a failover made by another process to the new primary', async () => {
    const model = Buffer.alloc(SIZE);
    const { volumeId, write } = await volumeWith(model);
    await write(4 * KIB, pattern(8 * KIB, 2));
    // Flushed, the reader's view names chunk objects the new primary shares: only the retired
    // mark on the old primary's log can tell it that a newer op exists elsewhere.
    await writer.flush.flush({ volumeId, partition: 0, uptoOp: Number.MAX_SAFE_INTEGER });
    expect((await reader.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    await writer.rebuild.loseReplica(volumeId, 0, 'primary');
    await write(4 * KIB, pattern(8 * KIB, 3));
    expect((await reader.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    await writer.rebuild.loseReplica(volumeId, 0, 'primary');
    await write(100 * KIB, pattern(8 * KIB, 4));
    expect((await reader.data.read(volumeId, 96 * KIB, 16 * KIB)).equals(model.subarray(96 * KIB, 112 * KIB))).toBe(true);
  });
});
