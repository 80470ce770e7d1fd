import { beforeAll, describe, expect, it } from 'vitest';
import { FencedError } from '../../lib/errors.js';
import type { Services } from '../../lib/wiring.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { countCommands, useTwoProcesses } from '../support/processes.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const SIZE = 256 * KIB;

/** The first write after a failover is fenced (its head held the old epoch); a client retries it. */
const writeRetrying = (services: Services, volumeId: string, offset: number, data: Buffer) =>
  services.data.write(volumeId, offset, data).catch((error: unknown) => {
    if (!(error instanceof FencedError)) throw error;
    return services.data.write(volumeId, offset, data);
  });

/**
 * Reads [0, before.length) over and over until stopped. A read that began after `acknowledge()`
 * must return `after`; one that began before may return either. Throws on anything else.
 */
function readContinuously(services: Services, volumeId: string, before: Buffer, after: Buffer) {
  let acknowledged = false;
  let reading = true;
  let reads = 0;
  const loop = (async () => {
    while (reading) {
      const mustSeeWrite = acknowledged;
      const got = await services.data.read(volumeId, 0, before.length);
      reads++;
      if (!(got.equals(after) || (!mustSeeWrite && got.equals(before)))) {
        throw new Error(`read ${reads} returned bytes that are neither the old nor the acknowledged ones`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    acknowledge: () => {
      acknowledged = true;
    },
    /** Stops, rethrows a failed read, and returns how many reads there were. */
    stop: async () => {
      reading = false;
      await loop;
      return reads;
    },
  };
}

/**
 * A process keeps a view of each partition it reads (chunk map and extent index) and checks
 * it with one query per read. These tests change the partition from another process — writes,
 * flushes that collect the objects the view names, a failover — and the reader must follow.
 */
describe('a reader that keeps its view of a partition', () => {
  const processes = useTwoProcesses(useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 2 }));
  let writer: Services;
  let reader: Services;
  beforeAll(() => {
    [writer, reader] = processes();
  });

  async function volumeWith(model: Buffer) {
    const volume = await writer.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const write = async (offset: number, data: Buffer) => {
      await writeRetrying(writer, volume.volumeId, offset, data);
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

/**
 * A process that writes a partition steadily takes a lease on its primary log and reads
 * through its own view without asking the log. Writers elsewhere wait the lease out and end
 * it first; a reader that keeps renewing yields to them; a failover ends it too.
 */
describe('a head that holds a lease on its partition', () => {
  const LEASE_MS = 400;
  // Without the head cache, so that the reads' object GETs show (head-flush.test.ts covers the cache).
  const processes = useTwoProcesses(useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 1024, headLeaseMs: LEASE_MS, headCacheMib: 0 }));
  let holder: Services;
  let other: Services;
  beforeAll(() => {
    [holder, other] = processes();
  });

  /** A volume the holder wrote twice (the second write takes the lease); returns the model. */
  async function leased() {
    const volume = await holder.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(SIZE);
    for (const seed of [1, 2]) {
      const data = pattern(SIZE, seed);
      await holder.data.write(volume.volumeId, 0, data);
      data.copy(model);
    }
    return { volumeId: volume.volumeId, model };
  }

  it('reads under its lease without asking the log or the metadata, its own new writes included', async () => {
    const { volumeId, model } = await leased();
    // The first read builds the view (the chunk map and the index).
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    const counts = countCommands(holder.clients);
    expect((await holder.data.read(volumeId, 8 * KIB, 16 * KIB)).equals(model.subarray(8 * KIB, 24 * KIB))).toBe(true);
    expect(Object.fromEntries(counts)).toEqual({ GetObject: 1 });
    const data = pattern(4 * KIB, 9);
    await holder.data.write(volumeId, 12 * KIB, data);
    data.copy(model, 12 * KIB);
    counts.clear();
    expect((await holder.data.read(volumeId, 8 * KIB, 16 * KIB)).equals(model.subarray(8 * KIB, 24 * KIB))).toBe(true);
    // The big note on its sled on both sides of the new 4 KiB one, which is in the table: its
    // payload is the only item read.
    expect(Object.fromEntries(counts)).toEqual({ GetObject: 2, BatchGetItem: 1 });
  });

  it('sees a write that another process made after waiting out its lease', async () => {
    const { volumeId, model } = await leased();
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    const data = pattern(8 * KIB, 3);
    const started = Date.now();
    await writeRetrying(other, volumeId, 16 * KIB, data);
    data.copy(model, 16 * KIB);
    // The other writer could not append before the lease it found had ended.
    expect(Date.now() - started).toBeGreaterThanOrEqual(LEASE_MS / 4);
    expect((await holder.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  it('takes a lease of its own at once after it waited out another head\'s', async () => {
    const { volumeId, model } = await leased();
    const first = pattern(4 * KIB, 6);
    await writeRetrying(other, volumeId, 16 * KIB, first);
    first.copy(model, 16 * KIB);
    // Its next write follows its own op: it takes the lease, although it marked the log as
    // wanted a moment ago (that mark is its own and asks it to yield nothing).
    const second = pattern(4 * KIB, 7);
    await other.data.write(volumeId, 20 * KIB, second);
    second.copy(model, 20 * KIB);
    expect((await other.data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    const counts = countCommands(other.clients);
    expect((await other.data.read(volumeId, 16 * KIB, 8 * KIB)).equals(model.subarray(16 * KIB, 24 * KIB))).toBe(true);
    // Both notes are in the table: one batched read of their payloads, and no log query.
    expect(Object.fromEntries(counts)).toEqual({ BatchGetItem: 1 });
  });

  it('yields to a writer elsewhere while it keeps reading and renewing', async () => {
    const { volumeId, model } = await leased();
    const data = pattern(4 * KIB, 4);
    const before = model.subarray(0, 16 * KIB);
    const after = Buffer.from(before);
    data.copy(after, 4 * KIB);
    const reader = readContinuously(holder, volumeId, before, after);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS)); // renewals happen meanwhile
      await writeRetrying(other, volumeId, 4 * KIB, data);
      reader.acknowledge();
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      expect(await reader.stop()).toBeGreaterThan(10);
    }
    expect((await holder.data.read(volumeId, 0, 16 * KIB)).equals(after)).toBe(true);
  }, 20_000);

  it('stops trusting its view when another process fails its primary over while it reads', async () => {
    const { volumeId, model } = await leased();
    // Flushed, its view names chunk objects that outlive the lost replica's journal.
    await holder.flush.flush({ volumeId, partition: 0, uptoOp: Number.MAX_SAFE_INTEGER });
    const data = pattern(8 * KIB, 5);
    const after = Buffer.from(model);
    data.copy(after, 32 * KIB);
    // It keeps reading (and renewing its lease) through the failover and the write after it.
    const reader = readContinuously(holder, volumeId, model, after);
    try {
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
      await other.rebuild.loseReplica(volumeId, 0, 'primary');
      await writeRetrying(other, volumeId, 32 * KIB, data);
      reader.acknowledge();
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
    } finally {
      expect(await reader.stop()).toBeGreaterThan(10);
    }
  }, 20_000);
});
