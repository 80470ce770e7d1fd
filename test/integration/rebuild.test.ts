import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { FencedError } from '../../lib/errors.js';
import { armFailpoint, FAILPOINTS } from '../../lib/faults.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;
const SIZE = 256 * KIB;

class Crash extends Error {}

describe('losing and rebuilding head-node replicas', () => {
  const cloud = useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 4 });
  let services: Services;
  let inspector: LogInspector;
  const disarm: Array<() => void> = [];

  beforeAll(() => {
    services = createServices(cloud().config);
    inspector = new LogInspector(cloud().config);
  });
  afterAll(() => {
    services.clients.destroy();
    inspector.close();
  });
  afterEach(() => disarm.splice(0).forEach((d) => d()));

  const fresh = () => createServices(cloud().config);

  /** One 256 KiB partition with a few flushed and checkpointed ops and a tail. */
  async function volumeWithHistory() {
    const volume = await services.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(SIZE);
    const write = async (i: number) => {
      const offset = ((i * 5) % 60) * 4096;
      const data = pattern(8192, i + 1);
      await services.data.write(volume.volumeId, offset, data);
      data.copy(model, offset);
    };
    for (let i = 0; i < 10; i++) await write(i);
    await services.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 8 });
    for (let i = 10; i < 14; i++) await write(i);
    return { volume, model };
  }

  /** The invariants after any loss: same digest, dense ops, every byte as written. */
  async function expectHealthy(volumeId: string, model: Buffer) {
    const { meta, primary, secondary } = await inspector.logsOf(volumeId, 0);
    expect(meta.rebuild).toBeUndefined();
    for (const log of [primary, secondary]) {
      expect(log.map((e) => e.op)).toEqual(log.map((_, i) => log[0]!.op + i));
    }
    // The secondary may start later (its base is a checkpoint); from there it equals the primary.
    expect(primary.filter((e) => e.op >= (secondary[0]?.op ?? Infinity))).toEqual(secondary);
    expect(primary.at(-1)?.op).toBe(secondary.at(-1)?.op);
    const got = await fresh().data.read(volumeId, 0, SIZE);
    const wrong = Array.from({ length: SIZE / 4096 }, (_, b) => b).filter((b) => !got.subarray(b * 4096, (b + 1) * 4096).equals(model.subarray(b * 4096, (b + 1) * 4096)));
    const first = wrong[0] ?? 0;
    const peek = (buffer: Buffer) => buffer.subarray(first * 4096, first * 4096 + 16).toString('hex');
    expect(wrong, `blocks read back wrong (block ${first}: got ${peek(got)}, wrote ${peek(model)})`).toEqual([]);
  }

  it('answers bad failure and rebuild requests with a 4xx and changes nothing', async () => {
    const { volume } = await volumeWithHistory();
    const { apiUrl } = cloud();
    const post = (path: string, body?: unknown) =>
      fetch(`${apiUrl}${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => [r.status, ((await r.json()) as any).error?.code]);
    const before = await inspector.logsOf(volume.volumeId, 0);
    expect(await post(`/volumes/${volume.volumeId}/partitions/0/failures`, { replica: 'tertiary' })).toEqual([400, 'ValidationError']);
    expect(await post(`/volumes/${volume.volumeId}/partitions/0/failures`, {})).toEqual([400, 'ValidationError']);
    expect(await post(`/volumes/${volume.volumeId}/partitions/0/failures`, 'nope')).toEqual([400, 'MalformedJson']);
    expect(await post(`/volumes/${volume.volumeId}/partitions/9/failures`, { replica: 'primary' })).toEqual([404, 'PartitionNotFound']);
    expect(await post(`/volumes/vol-0123456789abcdef0/partitions/0/failures`, { replica: 'primary' })).toEqual([404, 'VolumeNotFound']);
    expect(await post(`/volumes/${volume.volumeId}/partitions/0/rebuild`)).toEqual([400, 'ValidationError']);
    expect(await post(`/volumes/${volume.volumeId}/partitions/x/checkpoints`)).toEqual([400, 'ValidationError']);
    expect(await inspector.logsOf(volume.volumeId, 0)).toEqual(before);
  });

  it('rebuilds a lost secondary from the latest checkpoint plus the tail', async () => {
    const { volume, model } = await volumeWithHistory();
    const report = await services.rebuild.loseReplica(volume.volumeId, 0, 'secondary');
    expect(report.source).toBe('checkpoint');
    expect(report.checkpointOp).toBe(8);
    expect(report.opsCopied).toBe(7); // ops 9..14 and the epoch entry
    await expectHealthy(volume.volumeId, model);
    const status = await services.data.partitionStatus(volume.volumeId, 0);
    expect(status).toMatchObject({ epoch: 2, flushedOp: 8, checkpoint: { op: 8 }, rebuild: { state: 'idle' }, inSync: true });
    expect(status.primary.replicaId).toBe('r1');
    expect(status.secondary.replicaId).toBe('r3');
  });

  it.each(['another process', 'the writer that holds the lease'])(
    'never flushes past the ops the secondary holds (flush by %s): a failover then keeps every later write',
    async (flusher) => {
      const { volume, model } = await volumeWithHistory();
      // Two writes die between their two commits: ops 15 and 16 are on the primary only.
      let dying = true;
      const writer = createServices(cloud().config);
      disarm.push(
        armFailpoint(FAILPOINTS.write, ({ step }) => {
          if (dying && step === 'after-primary-commit') throw new Crash(step);
        }),
      );
      for (const seed of [80, 81]) await expect(writer.data.write(volume.volumeId, 0, pattern(4096, seed))).rejects.toBeInstanceOf(Crash);
      dying = false;
      disarm.splice(0).forEach((d) => d());
      const flushing = flusher === 'another process' ? fresh() : writer;
      const flushed = await flushing.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: Number.MAX_SAFE_INTEGER, orNewer: true });
      const { secondary } = await inspector.logsOf(volume.volumeId, 0);
      // Either the flush stopped at the secondary's newest op, or it copied the missing ops there first.
      expect(flushed.flushedOp).toBeLessThanOrEqual(secondary.at(-1)?.op ?? 0);
      // The survivor keeps the ops it holds, and a new write comes after them.
      const seeds = new Map([[15, 80], [16, 81]]);
      for (const entry of secondary) if (entry.kind === 'write' && seeds.has(entry.op)) pattern(4096, seeds.get(entry.op)!).copy(model, 0);
      await services.rebuild.loseReplica(volume.volumeId, 0, 'primary');
      await fresh().data.write(volume.volumeId, 4096, pattern(4096, 90));
      pattern(4096, 90).copy(model, 4096);
      await expectHealthy(volume.volumeId, model);
      writer.clients.destroy();
    },
  );

  it('promotes the secondary when the primary is lost, and fences the old primary', async () => {
    const { volume, model } = await volumeWithHistory();
    const stale = fresh();
    await stale.data.write(volume.volumeId, 0, pattern(4096, 70));
    pattern(4096, 70).copy(model, 0);
    await services.rebuild.loseReplica(volume.volumeId, 0, 'primary');
    // The stale process still thinks r1 is primary: it commits nothing and says so.
    await expect(stale.data.write(volume.volumeId, 0, pattern(4096, 71))).rejects.toBeInstanceOf(FencedError);
    await expectHealthy(volume.volumeId, model);
    const status = await services.data.partitionStatus(volume.volumeId, 0);
    expect(status.primary.replicaId).toBe('r2');
    // Told once, the stale process writes through the new primary.
    await stale.data.write(volume.volumeId, 0, pattern(4096, 72));
    pattern(4096, 72).copy(model, 0);
    await expectHealthy(volume.volumeId, model);
  });

  it('loses the primary and the secondary in turn, 20 times, under concurrent writes, and loses no acknowledged write', async () => {
    const volume = await services.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(SIZE);
    let running = true;
    let acknowledged = 0;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      const writer = fresh();
      for (let i = 0; running; i++) {
        const block = (i * 4 + w) % 64; // each writer owns its blocks, so the last acknowledged write wins
        const data = pattern(4096, w * 100_000 + i + 1);
        for (let attempt = 0; ; attempt++) {
          try {
            await writer.data.write(volume.volumeId, block * 4096, data, `w${w}-${i}`);
            break;
          } catch (error) {
            if (!(error instanceof FencedError) || attempt > 20) throw error;
          }
        }
        data.copy(model, block * 4096);
        acknowledged++;
        if (i % 9 === 0) await writer.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: Number.MAX_SAFE_INTEGER }).catch(() => undefined);
      }
    });
    const sources = new Set<string>();
    try {
      while (acknowledged < 4) await new Promise((resolve) => setTimeout(resolve, 5));
      for (let loss = 0; loss < 20; loss++) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        const report = await services.rebuild.loseReplica(volume.volumeId, 0, loss % 2 === 0 ? 'primary' : 'secondary');
        sources.add(report.source);
      }
    } finally {
      running = false;
      await Promise.all(writers);
    }
    expect(acknowledged).toBeGreaterThan(40);
    await expectHealthy(volume.volumeId, model);
    const { meta } = await inspector.logsOf(volume.volumeId, 0);
    expect(meta.epoch).toBe(21);
    expect(sources.has('checkpoint')).toBe(true);
  });

  it.each(['fenced', 'promoted', 'dropped', 'base-restored', 'notes-copied', 'ops-copied'])(
    'finishes a rebuild that crashed after %s',
    async (step) => {
      const { volume, model } = await volumeWithHistory();
      disarm.push(
        armFailpoint('rebuild', (context) => {
          if (context.step === step && context.volumeId === volume.volumeId) throw new Crash(step);
        }),
      );
      await expect(services.rebuild.loseReplica(volume.volumeId, 0, 'primary')).rejects.toBeInstanceOf(Crash);
      disarm.splice(0).forEach((d) => d());
      const restarted = fresh();
      if (step === 'fenced') await restarted.rebuild.loseReplica(volume.volumeId, 0, 'primary');
      // After the drop the new replica already serves: nothing is left to finish.
      else if (step !== 'dropped') await restarted.rebuild.rebuild(volume.volumeId, 0);
      await expectHealthy(volume.volumeId, model);
      const data = pattern(4096, 500);
      await restarted.data.write(volume.volumeId, 4096, data);
      data.copy(model, 4096);
      await expectHealthy(volume.volumeId, model);
    },
  );

  it('detects a corrupted checkpoint and falls back to an older one, or to a full replay', async () => {
    const { volume, model } = await volumeWithHistory();
    const { config } = cloud();
    const checkpoints = (services.flush as any).deps.checkpoints;
    const records = await checkpoints.list(volume.volumeId, 0);
    expect(records.map((r: { op: number }) => r.op)).toEqual([8]);
    const clients = createAwsClients(config);
    try {
      await clients.s3.send(new PutObjectCommand({ Bucket: config.sledBuckets[records[0].sled], Key: records[0].key, Body: '{"chunks":{}}' }));
    } finally {
      clients.destroy();
    }
    const report = await services.rebuild.loseReplica(volume.volumeId, 0, 'secondary');
    expect(report.skippedCheckpoints[0]?.reason).toMatch(/SHA-256/);
    expect(report.source).toBe('replay');
    expect(report.checkpointOp).toBe(0);
    await expectHealthy(volume.volumeId, model);

    // With two checkpoints, a corrupt newest one gives way to the older one.
    const { volume: other, model: otherModel } = await volumeWithHistory();
    await useOlderCheckpoint(other.volumeId, otherModel);
  });

  it('skips a checkpoint that names chunk versions another flush collected meanwhile, rather than rebuilding on them', async () => {
    const volume = await services.volumes.create({ sizeBytes: SIZE, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const { volumeId } = volume;
    const model = Buffer.alloc(SIZE);
    const write = async (writer: Services, op: number) => {
      const offset = (op % 8) * 4096;
      const data = pattern(4096, 300 + op);
      await writer.data.write(volumeId, offset, data);
      data.copy(model, offset);
    };
    for (let op = 1; op <= 6; op++) await write(services, op);
    // Flush A (to op 6) has moved both maps and is about to write its checkpoint when two
    // more writes land and flush B, in another process, moves the maps past A's chunk versions,
    // checkpoints op 8 and collects A's versions: no checkpoint named them yet.
    const other = fresh();
    let raced = false;
    disarm.push(
      armFailpoint('flush', async (context) => {
        if (context.volumeId !== volumeId || context.step !== 'secondary-map-updated' || raced) return;
        raced = true;
        for (let op = 7; op <= 8; op++) await write(other, op);
        expect((await fresh().flush.flush({ volumeId, partition: 0, uptoOp: 8 })).checkpoint?.op).toBe(8);
      }),
    );
    expect((await services.flush.flush({ volumeId, partition: 0, uptoOp: 6 })).checkpoint?.op).toBe(6);
    disarm.splice(0).forEach((d) => d());
    const checkpoints = (services.flush as any).deps.checkpoints;
    const records = await checkpoints.list(volumeId, 0);
    expect(records.map((r: { op: number }) => r.op)).toEqual([8, 6]);
    // The newest checkpoint is torn, so a rebuild looks at A's: its chunk versions are gone.
    const { config } = cloud();
    const clients = createAwsClients(config);
    try {
      await clients.s3.send(new PutObjectCommand({ Bucket: config.sledBuckets[records[0].sled], Key: records[0].key, Body: 'torn' }));
    } finally {
      clients.destroy();
    }
    const report = await services.rebuild.loseReplica(volumeId, 0, 'secondary');
    expect(report.skippedCheckpoints.map((s) => s.op)).toEqual([8, 6]);
    expect(report.skippedCheckpoints[1]?.reason).toMatch(/gone from its sled/);
    expect(report.source).toBe('replay');
    await expectHealthy(volumeId, model);
    // The rebuilt replica serves alone once the primary is lost too.
    await services.rebuild.loseReplica(volumeId, 0, 'primary');
    await expectHealthy(volumeId, model);
  });

  async function useOlderCheckpoint(volumeId: string, model: Buffer) {
    const { config } = cloud();
    const checkpoints = (services.flush as any).deps.checkpoints;
    const volume = { volumeId };
    const writer = fresh();
    for (let i = 0; i < 6; i++) {
      const data = pattern(4096, 900 + i);
      await writer.data.write(volume.volumeId, (40 + i) * 4096, data);
      data.copy(model, (40 + i) * 4096);
    }
    await services.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: Number.MAX_SAFE_INTEGER });
    const newer = await checkpoints.list(volume.volumeId, 0);
    expect(newer.length).toBe(2);
    const again = createAwsClients(config);
    try {
      await again.s3.send(new PutObjectCommand({ Bucket: config.sledBuckets[newer[0].sled], Key: newer[0].key, Body: 'torn' }));
    } finally {
      again.destroy();
    }
    const second = await services.rebuild.loseReplica(volume.volumeId, 0, 'primary');
    expect(second.source).toBe('checkpoint');
    expect(second.checkpointOp).toBe(newer[1].op);
    expect(second.skippedCheckpoints.map((s) => s.op)).toEqual([newer[0].op]);
    await expectHealthy(volume.volumeId, model);
  }
});
