import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError, IdempotencyInProgressError, IdempotencyKeyMismatchError } from '../../lib/errors.js';
import { armFailpoint, FAILPOINTS } from '../../lib/faults.js';
import type { CrashPoint } from '../../lib/notes/partition-head.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;
const MIB = 1024 * KIB;

class Crash extends Error {}

describe('write path on the embedded cloud', () => {
  const cloud = useLocalCloud();
  let services: Services;
  let inspector: LogInspector;
  const extra: Services[] = [];

  /** Another "process": its own clients and caches, the same emulators. */
  function process(options: Parameters<typeof createServices>[1] = {}): Services {
    const created = createServices(cloud().config, options);
    extra.push(created);
    return created;
  }

  beforeAll(() => {
    services = process();
    inspector = new LogInspector(cloud().config);
  });

  afterAll(() => {
    for (const s of extra) s.clients.destroy();
    inspector.close();
  });

  async function smallVolume(sizeBytes = 512 * KIB, partitionChunks = 1) {
    return services.volumes.create({ sizeBytes, chunkSizeBytes: 64 * KIB, partitionChunks });
  }

  it('matches an in-memory model for random overlapping writes across partition boundaries', async () => {
    // 64 KiB partitions, writes up to 160 KiB: many writes span two or three partitions.
    const write = fc.record({ block: fc.nat(127), blocks: fc.integer({ min: 1, max: 40 }), seed: fc.nat() });
    await fc.assert(
      fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 10 }), async (writes) => {
        const volume = await smallVolume();
        const model = Buffer.alloc(volume.sizeBytes);
        for (const w of writes) {
          const offset = w.block * 4096;
          const length = Math.min(w.blocks * 4096, volume.sizeBytes - offset);
          const data = pattern(length, w.seed);
          const result = await services.data.write(volume.volumeId, offset, data);
          expect(result.ops.length).toBe(Math.ceil((offset + length) / (64 * KIB)) - Math.floor(offset / (64 * KIB)));
          data.copy(model, offset);
          // A read after every step, over the whole volume in two halves (4 MiB max per read is not the limit here).
          const read = await services.data.read(volume.volumeId, 0, volume.sizeBytes);
          expect(read.equals(model)).toBe(true);
        }
        // A fresh process, with no cache, reads the same bytes.
        const fresh = process();
        expect((await fresh.data.read(volume.volumeId, 0, volume.sizeBytes)).equals(model)).toBe(true);
      }),
      { numRuns: 12 },
    );
  });

  it('gives 32 concurrent writers to one partition dense ops and identical replicas, from 4 processes', async () => {
    const volume = await smallVolume(1 * MIB, 16); // one partition of 1 MiB
    // Each write its own op, so the race is between the processes' appends: group commit off in
    // these four (test/integration/group-commit.test.ts covers writes grouped into one op).
    const solo = () => {
      const created = createServices({ ...cloud().config, groupCommitMaxWrites: 1 });
      extra.push(created);
      return created;
    };
    const processes = [solo(), solo(), solo(), solo()];
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        processes[i % 4]!.data.write(volume.volumeId, (i % 16) * 64 * KIB, pattern(64 * KIB, i + 1)),
      ),
    );
    const ops = results.map((r) => r.ops[0]!.op).sort((a, b) => a - b);
    expect(ops).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    expect(await inspector.expectReplicasIdentical(volume.volumeId, 0)).toBe(32);
    // For each 64 KiB slot the writer with the higher op wins; both wrote acknowledged data.
    const byOp = new Map(results.map((r, i) => [r.ops[0]!.op, i]));
    for (let slot = 0; slot < 16; slot++) {
      const writers = [slot, slot + 16];
      const winner = writers.reduce((a, b) => (results[a]!.ops[0]!.op > results[b]!.ops[0]!.op ? a : b));
      const read = await services.data.read(volume.volumeId, slot * 64 * KIB, 64 * KIB);
      expect(read.equals(pattern(64 * KIB, winner + 1))).toBe(true);
    }
    expect(byOp.size).toBe(32);
  });

  const points: CrashPoint[] = ['after-payload', 'after-pending-note', 'after-primary-commit', 'after-secondary-commit'];

  it.each(points)('keeps every invariant after a crash %s', async (point) => {
    const volume = await smallVolume(256 * KIB, 4); // one partition of 256 KiB
    const before = pattern(64 * KIB, 1);
    await services.data.write(volume.volumeId, 0, before);

    let armed = true;
    const crashing = process();
    const disarm = armFailpoint(FAILPOINTS.write, ({ step }) => {
      if (armed && step === point) {
        armed = false;
        throw new Crash(point);
      }
    });
    const lost = pattern(64 * KIB, 2);
    try {
      await expect(crashing.data.write(volume.volumeId, 0, lost)).rejects.toBeInstanceOf(Crash);
    } finally {
      disarm();
    }

    const committedOnPrimary = point === 'after-primary-commit' || point === 'after-secondary-commit';
    const { primary, secondary } = await inspector.logsOf(volume.volumeId, 0);
    expect(primary.length).toBe(committedOnPrimary ? 2 : 1);
    expect(secondary.length).toBe(point === 'after-secondary-commit' ? 2 : 1);

    // The restarted process: a pending note is never visible; a committed one is.
    const restarted = process();
    const seen = await restarted.data.read(volume.volumeId, 0, 64 * KIB);
    expect(seen.equals(committedOnPrimary ? lost : before)).toBe(true);
    const status = await restarted.data.partitionStatus(volume.volumeId, 0);
    const pending = { 'after-payload': [1, 1], 'after-pending-note': [1, 1], 'after-primary-commit': [0, 1], 'after-secondary-commit': [0, 0] };
    expect([status.primary.pendingNotes.length, status.secondary.pendingNotes.length]).toEqual(pending[point]);
    expect(status.inSync).toBe(point !== 'after-primary-commit');

    // The next write repairs the secondary and continues the dense sequence.
    const next = pattern(64 * KIB, 3);
    const result = await restarted.data.write(volume.volumeId, 64 * KIB, next);
    expect(result.ops[0]!.op).toBe(committedOnPrimary ? 3 : 2);
    expect(await inspector.expectReplicasIdentical(volume.volumeId, 0)).toBe(committedOnPrimary ? 3 : 2);
    const all = await restarted.data.read(volume.volumeId, 0, 128 * KIB);
    expect(all.equals(Buffer.concat([committedOnPrimary ? lost : before, next]))).toBe(true);
  });

  it('makes no second op for a retried Idempotency-Key, even after a crash between the commits', async () => {
    const volume = await smallVolume(256 * KIB, 4);
    const data = pattern(8 * KIB, 9);
    const first = await services.data.write(volume.volumeId, 0, data, 'retry-1');
    expect(await services.data.write(volume.volumeId, 0, data, 'retry-1')).toEqual(first);
    await expect(services.data.write(volume.volumeId, 4096, data, 'retry-1')).rejects.toBeInstanceOf(IdempotencyKeyMismatchError);

    // A process that dies after its primary commit: it never returns, never releases its claim.
    let now = 1_000_000;
    const dying = process({ clock: () => now });
    const disarm = armFailpoint(FAILPOINTS.write, ({ step }) => (step === 'after-primary-commit' ? new Promise<void>(() => {}) : undefined));
    try {
      void dying.data.write(volume.volumeId, 8192, data, 'retry-2');
      await expect.poll(async () => (await inspector.logsOf(volume.volumeId, 0)).primary.length).toBe(2);
    } finally {
      disarm();
    }

    const retrying = process({ clock: () => now });
    await expect(retrying.data.write(volume.volumeId, 8192, data, 'retry-2')).rejects.toBeInstanceOf(IdempotencyInProgressError);
    // Once the claim's lease has run out, a retry takes it over, finds the commit by its note key and finishes it.
    now += 61_000;
    const retried = await retrying.data.write(volume.volumeId, 8192, data, 'retry-2');
    expect(retried.ops).toEqual([{ partition: 0, op: 2 }]);
    expect(await inspector.expectReplicasIdentical(volume.volumeId, 0)).toBe(2);
  });

  it('remembers the ops of notes named after an Idempotency-Key only, so a head does not grow with every write', async () => {
    const volume = await smallVolume(256 * KIB, 4);
    const writer = process();
    for (let i = 0; i < 40; i++) await writer.data.write(volume.volumeId, (i % 16) * 4096, pattern(4096, i));
    for (let i = 0; i < 3; i++) await writer.data.write(volume.volumeId, i * 4096, pattern(4096, 100 + i), `remember-${i}`);
    const head = writer.data.existingHead(volume.volumeId, 0) as unknown as { noteOps: Map<string, number> };
    expect([...head.noteOps.values()].sort((a, b) => a - b)).toEqual([41, 42, 43]);
    // A retry of a keyed write still finds its op, and makes no new one.
    const again = await writer.data.write(volume.volumeId, 0, pattern(4096, 100), 'remember-0');
    expect(again.ops).toEqual([{ partition: 0, op: 41 }]);
  });

  it('fences a primary whose epoch was superseded: it commits nothing and says so', async () => {
    const volume = await smallVolume(256 * KIB, 4);
    const stale = process();
    await stale.data.write(volume.volumeId, 0, pattern(4 * KIB, 1));

    // A failover elsewhere: epoch 2 claims the next op of the log and the metadata.
    const meta = await inspector.meta(volume.volumeId, 0);
    const log = { volumeId: volume.volumeId, partition: 0, replicaId: meta.primary.replicaId };
    const secondaryLog = { ...log, replicaId: meta.secondary.replicaId };
    expect(await inspector.logs.append(log, { kind: 'epoch', op: 2, epoch: 2 })).toBe(true);
    expect(await inspector.logs.append(secondaryLog, { kind: 'epoch', op: 2, epoch: 2 })).toBe(true);
    expect(await inspector.metas.replace({ ...meta, epoch: 2 }, 1)).toBe(true);

    const attempt = stale.data.write(volume.volumeId, 0, pattern(4 * KIB, 2));
    await expect(attempt).rejects.toBeInstanceOf(FencedError);
    await expect(attempt).rejects.toThrow(/epoch 1 was superseded by epoch 2/);
    const { primary } = await inspector.logsOf(volume.volumeId, 0);
    expect(primary.map((e) => e.kind)).toEqual(['write', 'epoch']);
    expect((await process().data.read(volume.volumeId, 0, 4096)).equals(pattern(4 * KIB, 1))).toBe(true);

    // Having been told, the same process writes under the new epoch.
    const result = await stale.data.write(volume.volumeId, 0, pattern(4 * KIB, 3));
    expect(result.ops).toEqual([{ partition: 0, op: 3 }]);
    expect(await inspector.expectReplicasIdentical(volume.volumeId, 0)).toBe(3);
  });
});
