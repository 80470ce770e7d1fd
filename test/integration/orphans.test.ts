import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentModificationError } from '../../lib/errors.js';
import { armFailpoint, FAILPOINTS } from '../../lib/faults.js';
import { FlushService } from '../../lib/flush/flush-service.js';
import { MAX_UNNAMED_MS, ORPHAN_GRACE_MS } from '../../lib/flush/orphans.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;
const SIZE = 256 * KIB;

class Crash extends Error {}
class SledDown extends Error {}

/**
 * Orphans: chunk objects a crashed flush put and no map names, notes a crashed write put and
 * no log names. A sweep removes those older than the grace, and nothing else.
 */
describe('sweeping orphans', () => {
  const cloud = useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 1024 });
  let services: Services;
  let inspector: LogInspector;
  const disarm: Array<() => void> = [];
  const open: Services[] = [];

  beforeAll(() => {
    services = createServices(cloud().config);
    inspector = new LogInspector(cloud().config);
  });
  afterAll(() => {
    services.clients.destroy();
    inspector.close();
  });
  afterEach(() => {
    disarm.splice(0).forEach((d) => d());
    open.splice(0).forEach((process) => process.clients.destroy());
  });

  const process = (options: Parameters<typeof createServices>[1] = {}) => {
    const created = createServices(cloud().config, options);
    open.push(created);
    return created;
  };

  /** The same flush service, with a clock `aheadMs` ahead: what it lists looks that much older. */
  const sweeperAhead = (aheadMs: number) =>
    new FlushService({ ...(services.flush as any).deps, clock: () => new Date(Date.now() + aheadMs) });

  async function written(ops: number) {
    const volume = await services.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(SIZE);
    for (let i = 0; i < ops; i++) await write(volume.volumeId, model, ((i * 7) % 60) * 4096, pattern(4096 * ((i % 3) + 1), i + 1));
    return { volumeId: volume.volumeId, model };
  }

  async function write(volumeId: string, model: Buffer, offset: number, data: Buffer, by: Services = services) {
    await by.data.write(volumeId, offset, data);
    data.copy(model, offset);
  }

  async function journalNotes(volumeId: string): Promise<{ primary: string[]; secondary: string[] }> {
    const meta = await inspector.meta(volumeId, 0);
    const journal = (services.flush as any).deps.journal;
    const list = (role: 'primary' | 'secondary') => journal.list(meta[role].sled, { volumeId, partition: 0, replicaId: meta[role].replicaId });
    return { primary: (await list('primary')).sort(), secondary: (await list('secondary')).sort() };
  }

  it('removes what a crashed flush and a crashed write left once they are older than the grace, and nothing else', async () => {
    const { volumeId, model } = await written(10);
    // A flush that dies after its chunk PUTs: no map names them.
    disarm.push(
      armFailpoint('flush', (context) => {
        if (context.step === 'chunks-written' && context.volumeId === volumeId) throw new Crash('after the chunks');
      }),
    );
    await expect(services.flush.flush({ volumeId, partition: 0, uptoOp: 10 })).rejects.toBeInstanceOf(Crash);
    disarm.splice(0).forEach((d) => d());
    // A write that dies with its note on both journals and no commit, and one made with an
    // Idempotency-Key that dies the same way and is never retried.
    const dying = process();
    disarm.push(armFailpoint(FAILPOINTS.write, ({ step }) => (step === 'after-pending-note' ? Promise.reject(new Crash('after the notes')) : undefined)));
    // (The first is too big for the table: its notes are on the sleds; the keyed one's are in the table.)
    await expect(dying.data.write(volumeId, 0, pattern(12 * KIB, 77))).rejects.toBeInstanceOf(Crash);
    await expect(dying.data.write(volumeId, 4096, pattern(4096, 78), 'orphan-key')).rejects.toBeInstanceOf(Crash);
    disarm.splice(0).forEach((d) => d());
    await write(volumeId, model, 8 * KIB, pattern(8 * KIB, 11));
    await services.flush.flush({ volumeId, partition: 0, uptoOp: 11 });

    const stored = await inspector.storedChunkKeys(volumeId);
    const named = await inspector.namedChunkKeys(volumeId, 0);
    const crashedFlushChunks = stored.filter((key) => !named.includes(key));
    expect(crashedFlushChunks.length).toBeGreaterThan(0);
    const notes = await journalNotes(volumeId);
    const { primary } = await inspector.logsOf(volumeId, 0);
    const committed = new Set(primary.flatMap((entry) => (entry.kind === 'write' ? [entry.noteId] : [])));
    const pendingPrimary = notes.primary.filter((noteId) => !committed.has(noteId));
    expect(pendingPrimary).toHaveLength(2);
    expect(notes.secondary.filter((noteId) => !committed.has(noteId))).toHaveLength(2);

    // Younger than the grace: nothing goes.
    expect(await services.flush.sweep(volumeId, 0)).toEqual({ chunksRemoved: 0, notesRemoved: 0 });
    expect(await sweeperAhead(ORPHAN_GRACE_MS - 60_000).sweep(volumeId, 0)).toEqual({ chunksRemoved: 0, notesRemoved: 0 });
    expect(await inspector.storedChunkKeys(volumeId)).toEqual(stored);

    // Older: the crashed flush's chunks and both crashed writes' notes go; nothing named does.
    const later = sweeperAhead(ORPHAN_GRACE_MS + 60_000);
    expect(await later.sweep(volumeId, 0)).toEqual({ chunksRemoved: crashedFlushChunks.length, notesRemoved: 4 });
    expect(await inspector.storedChunkKeys(volumeId)).toEqual(named);
    const after = await journalNotes(volumeId);
    expect(after.primary).toEqual(notes.primary.filter((noteId) => committed.has(noteId)));
    expect(after.secondary).toEqual(notes.secondary.filter((noteId) => committed.has(noteId)));
    expect(await later.sweep(volumeId, 0)).toEqual({ chunksRemoved: 0, notesRemoved: 0 });

    // The keyed write, retried after all: its attempt puts a note of its own and commits it.
    const { ops } = await services.data.write(volumeId, 4096, pattern(4096, 78), 'orphan-key');
    pattern(4096, 78).copy(model, 4096);
    expect(ops).toEqual([{ partition: 0, op: 12 }]);
    const retried = await journalNotes(volumeId);
    expect(retried.primary.filter((noteId) => !after.primary.includes(noteId))).toEqual([expect.stringMatching(/^k[0-9a-f]{24}-[0-9a-f]{12}\.t$/)]);

    // Every byte reads back, from a process that never saw the volume, and the replicas agree.
    expect((await process().data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(12);
    await write(volumeId, model, 12 * KIB, pattern(4096, 12));
    await services.flush.flush({ volumeId, partition: 0, uptoOp: 13 });
    expect((await process().data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  it('keeps the notes of an op only the primary committed, which a later write copies to the secondary', async () => {
    const { volumeId, model } = await written(3);
    const dying = process();
    disarm.push(armFailpoint(FAILPOINTS.write, ({ step }) => (step === 'after-primary-commit' ? Promise.reject(new Crash('between the commits')) : undefined)));
    const data = pattern(4096, 40);
    await expect(dying.data.write(volumeId, 16 * KIB, data)).rejects.toBeInstanceOf(Crash);
    disarm.splice(0).forEach((d) => d());
    data.copy(model, 16 * KIB);
    expect(await sweeperAhead(ORPHAN_GRACE_MS + 60_000).sweep(volumeId, 0)).toEqual({ chunksRemoved: 0, notesRemoved: 0 });
    await write(volumeId, model, 20 * KIB, pattern(4096, 41), process());
    expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(5);
    await services.flush.flush({ volumeId, partition: 0, uptoOp: 5 });
    expect((await process().data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  for (const failing of ['primary', 'secondary'] as const) {
    const landed = failing === 'primary' ? 'secondary' : 'primary';
    it(`sweeps the copy a sled note left in the ${landed}'s journal alone when its put to the ${failing}'s failed`, async () => {
      const { volumeId, model } = await written(3);
      const meta = await inspector.meta(volumeId, 0);
      const failingBucket = cloud().config.sledBuckets[meta[failing].sled];
      const failingPrefix = `journal/0/${meta[failing].replicaId}/`;
      // A process whose PutObjects to the failing replica's journal fail (a sled that is down),
      // while its puts to the other replica's journal go through.
      const dying = process();
      let failedPuts = 0;
      let landedPuts = 0;
      dying.clients.s3.middlewareStack.add(
        (next, context) => async (args) => {
          const input = args.input as { Bucket?: string; Key?: string };
          if (context.commandName === 'PutObjectCommand' && input.Key?.includes(volumeId)) {
            if (input.Bucket === failingBucket && input.Key.includes(failingPrefix)) {
              failedPuts++;
              throw new SledDown(`sled ${meta[failing].sled} is down`);
            }
            const result = await next(args);
            landedPuts++;
            return result;
          }
          return next(args);
        },
        { step: 'initialize', name: 'failOneSled' },
      );
      // 12 KiB: too big for the table, so a sled note.
      await expect(dying.data.write(volumeId, 0, pattern(12 * KIB, 77))).rejects.toBeInstanceOf(SledDown);
      // The write waited for the other put before it failed: nothing of it is still in flight.
      expect([failedPuts, landedPuts]).toEqual([1, 1]);
      expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(3);

      const { primary } = await inspector.logsOf(volumeId, 0);
      const committed = new Set(primary.flatMap((entry) => (entry.kind === 'write' ? [entry.noteId] : [])));
      const notes = await journalNotes(volumeId);
      const pending = { primary: notes.primary.filter((id) => !committed.has(id)), secondary: notes.secondary.filter((id) => !committed.has(id)) };
      expect(pending[failing]).toEqual([]);
      expect(pending[landed]).toHaveLength(1);

      // Younger than the grace it stays; older, it goes, and nothing named does.
      expect(await sweeperAhead(ORPHAN_GRACE_MS - 60_000).sweep(volumeId, 0)).toEqual({ chunksRemoved: 0, notesRemoved: 0 });
      expect(await sweeperAhead(ORPHAN_GRACE_MS + 60_000).sweep(volumeId, 0)).toEqual({ chunksRemoved: 0, notesRemoved: 1 });
      const after = await journalNotes(volumeId);
      expect(after.primary).toEqual(notes.primary.filter((id) => committed.has(id)));
      expect(after.secondary).toEqual(notes.secondary.filter((id) => committed.has(id)));

      // The failed write was never acknowledged and is not visible; the next one takes op 4 on both replicas.
      expect((await process().data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
      await write(volumeId, model, 0, pattern(12 * KIB, 78));
      expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(4);
      expect((await process().data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
    });
  }

  it('leaves a volume alone while a snapshot holds it', async () => {
    const { volumeId } = await written(2);
    disarm.push(
      armFailpoint('flush', (context) => {
        if (context.step === 'chunks-written' && context.volumeId === volumeId) throw new Crash('after the chunks');
      }),
    );
    await expect(services.flush.flush({ volumeId, partition: 0, uptoOp: 2 })).rejects.toBeInstanceOf(Crash);
    const repository = (services.flush as any).deps.volumes;
    await repository.addHold(volumeId, 'snap-test');
    expect(await repository.holds(volumeId)).toEqual(['snap-test']);
    const before = await inspector.storedChunkKeys(volumeId);
    expect(await sweeperAhead(ORPHAN_GRACE_MS + 60_000).sweep(volumeId, 0)).toMatchObject({ skipped: 'a snapshot is being taken', chunksRemoved: 0 });
    expect(await inspector.storedChunkKeys(volumeId)).toEqual(before);
  });

  it('removes the chunks of a flush whose map writes both lost to another flush, at once', async () => {
    const { volumeId, model } = await written(8);
    const other = process();
    let raced = false;
    disarm.push(
      armFailpoint('flush', async (context) => {
        if (context.volumeId !== volumeId || context.step !== 'chunks-written' || raced) return;
        raced = true;
        // While this flush (to op 8) put its chunks, one more write lands and another process
        // flushes to op 9: both maps move past what this flush read.
        await write(volumeId, model, 40 * KIB, pattern(4096, 90));
        expect((await other.flush.flush({ volumeId, partition: 0, uptoOp: 9 })).flushedOp).toBe(9);
      }),
    );
    await expect(services.flush.flush({ volumeId, partition: 0, uptoOp: 8 })).rejects.toThrow(/flushed by someone else/);
    expect(await inspector.storedChunkKeys(volumeId)).toEqual(await inspector.namedChunkKeys(volumeId, 0));
    expect((await process().data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });

  it('sweeps on demand over the API, and answers a bad request with a 4xx', async () => {
    const { volumeId } = await written(2);
    const post = (path: string) => fetch(`${cloud().apiUrl}${path}`, { method: 'POST' }).then(async (r) => [r.status, await r.json()]);
    expect(await post(`/volumes/${volumeId}/partitions/0/sweeps`)).toEqual([200, { chunksRemoved: 0, notesRemoved: 0 }]);
    const code = async (path: string) => ((await post(path))[1] as any).error?.code;
    expect(await post(`/volumes/${volumeId}/partitions/9/sweeps`)).toMatchObject([404, { error: { code: 'PartitionNotFound' } }]);
    expect(await code(`/volumes/${volumeId}/partitions/x/sweeps`)).toBe('ValidationError');
    expect(await post(`/volumes/vol-0123456789abcdef0/partitions/0/sweeps`)).toMatchObject([404, { error: { code: 'VolumeNotFound' } }]);
  });

  it('gives up a flush that took longer than a sweep allows between its chunk PUTs and its map, and a write likewise', async () => {
    const { volumeId, model } = await written(4);
    let skew = 0;
    const slowFlush = new FlushService({ ...(services.flush as any).deps, clock: () => new Date(Date.now() + skew) });
    disarm.push(
      armFailpoint('flush', (context) => {
        if (context.step === 'chunks-written' && context.volumeId === volumeId) skew = MAX_UNNAMED_MS + 1000;
      }),
    );
    await expect(slowFlush.flush({ volumeId, partition: 0, uptoOp: 4 })).rejects.toThrow(/took too long/);
    disarm.splice(0).forEach((d) => d());
    expect((await inspector.chunkMap(volumeId, 0))?.baseOp ?? 0).toBe(0);
    expect((await services.flush.flush({ volumeId, partition: 0, uptoOp: 4 })).flushedOp).toBe(4);

    let now = Date.now();
    const slowWriter = process({ clock: () => now });
    disarm.push(
      armFailpoint(FAILPOINTS.write, ({ step }) => {
        if (step === 'after-pending-note') now += MAX_UNNAMED_MS + 1000;
      }),
    );
    await expect(slowWriter.data.write(volumeId, 0, pattern(4096, 50))).rejects.toBeInstanceOf(ConcurrentModificationError);
    disarm.splice(0).forEach((d) => d());
    expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(4);
    expect((await process().data.read(volumeId, 0, SIZE)).equals(model)).toBe(true);
  });
});
