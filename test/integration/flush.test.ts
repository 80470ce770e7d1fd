import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { VolumeNotFoundError } from '../../lib/errors.js';
import { armFailpoint } from '../../lib/faults.js';
import { FlushService } from '../../lib/flush/flush-service.js';
import { SWEEP_DELAY_SECONDS } from '../../lib/flush/orphans.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { eventually } from '../support/copy-jobs.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;

class Crash extends Error {}

describe('flush and checkpoints', () => {
  // Automatic flushes off: each test flushes when it means to.
  const cloud = useLocalCloud({ flushEveryOps: 0, checkpointEveryOps: 8 });
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

  /** A volume of one 256 KiB partition (64 KiB chunks) with `ops` overlapping writes; returns the model. */
  async function written(ops: number) {
    const volume = await services.volumes.create({ sizeBytes: 256 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(256 * KIB);
    for (let i = 0; i < ops; i++) {
      const offset = ((i * 7) % 60) * 4096;
      const data = pattern(((i % 5) + 1) * 4096, i + 1);
      await services.data.write(volume.volumeId, offset, data);
      data.copy(model, offset);
    }
    return { volume, model };
  }

  const fresh = () => createServices(cloud().config);
  const read = (volumeId: string) => fresh().data.read(volumeId, 0, 256 * KIB);

  it('flushes a chunk that one note wrote whole by a server-side copy of that note', async () => {
    const volume = await services.volumes.create({ sizeBytes: 256 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const model = Buffer.alloc(256 * KIB);
    const write = async (offset: number, data: Buffer) => {
      await services.data.write(volume.volumeId, offset, data);
      data.copy(model, offset);
    };
    await write(64 * KIB, pattern(64 * KIB, 1)); // chunk 1: one note, whole
    await write(128 * KIB, pattern(64 * KIB, 2)); // chunk 2: whole, then partly overwritten
    await write(132 * KIB, pattern(4 * KIB, 3));
    await write(192 * KIB, pattern(64 * KIB, 4)); // chunk 3: whole, by a note that is exactly it
    const flusher = fresh();
    const commands = new Map<string, number>();
    (flusher.clients.s3 as any).middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => {
        commands.set(context.commandName ?? '?', (commands.get(context.commandName ?? '?') ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'countChunkCommands' },
    );
    const result = await flusher.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 4 });
    expect(result.chunksWritten).toBe(3);
    expect(commands.get('CopyObjectCommand')).toBe(2);
    expect(commands.get('PutObjectCommand')).toBe(1);
    const { createHash } = await import('node:crypto');
    const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    const map = await inspector.chunkMap(volume.volumeId, 0);
    expect(map?.chunks['1']?.sha256).toBe(digest(model.subarray(64 * KIB, 128 * KIB)));
    expect(map?.chunks['3']?.sha256).toBe(digest(model.subarray(192 * KIB, 256 * KIB)));
    expect(map?.chunks['2']?.sha256).toBe(digest(model.subarray(128 * KIB, 192 * KIB)));
    expect((await read(volume.volumeId)).equals(model)).toBe(true);
    flusher.clients.destroy();
  });

  it('reads the same bytes before and after flushes, and trims notes below the checkpoints', async () => {
    const { volume, model } = await written(20);
    expect((await services.data.read(volume.volumeId, 0, 256 * KIB)).equals(model)).toBe(true);
    const first = await services.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 12 });
    expect(first.flushedOp).toBe(12);
    expect(first.chunksWritten).toBeGreaterThan(0);
    expect(first.checkpoint?.op).toBe(12);
    expect((await services.data.read(volume.volumeId, 0, 256 * KIB)).equals(model)).toBe(true);
    expect((await read(volume.volumeId)).equals(model)).toBe(true);

    // More writes on top of the flushed base, then flush all.
    for (let i = 0; i < 5; i++) {
      const data = pattern(8192, 100 + i);
      await services.data.write(volume.volumeId, (i * 13 % 50) * 4096, data);
      data.copy(model, (i * 13 % 50) * 4096);
    }
    const second = await services.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 1000 });
    expect(second.flushedOp).toBe(25);
    expect((await services.data.read(volume.volumeId, 0, 256 * KIB)).equals(model)).toBe(true);
    expect((await read(volume.volumeId)).equals(model)).toBe(true);
    // Both replicas hold the same surviving entries; the older ones were trimmed below checkpoint 12.
    const { primary, secondary } = await inspector.logsOf(volume.volumeId, 0);
    expect(secondary).toEqual(primary);
    expect(primary[0]!.op).toBeGreaterThan(1);
    expect(primary.at(-1)!.op).toBe(25);
    const status = await services.data.partitionStatus(volume.volumeId, 0);
    expect(status.primary.lastCommittedOp).toBe(25);
  });

  it('serves concurrent reads right after a flush, on a process that never read the partition', async () => {
    const { volume, model } = await written(30);
    await services.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 20 });
    for (let round = 0; round < 5; round++) {
      const reader = fresh();
      const reads = await Promise.all(Array.from({ length: 4 }, () => reader.data.read(volume.volumeId, 0, 256 * KIB)));
      for (const bytes of reads) expect(bytes.equals(model)).toBe(true);
      reader.clients.destroy();
    }
  });

  it.each(['chunks-written', 'primary-map-updated', 'secondary-map-updated', 'checkpointed'])(
    'survives a crash after %s: the redelivered message finishes the flush',
    async (step) => {
      const { volume, model } = await written(10);
      disarm.push(
        armFailpoint('flush', (context) => {
          if (context.step === step && context.volumeId === volume.volumeId) throw new Crash(step);
        }),
      );
      await expect(services.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 10 })).rejects.toBeInstanceOf(Crash);
      expect((await read(volume.volumeId)).equals(model)).toBe(true);
      disarm.splice(0).forEach((d) => d());
      const again = await createServices(cloud().config).flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 10 });
      expect(again.flushedOp).toBe(10);
      expect((await read(volume.volumeId)).equals(model)).toBe(true);
      const checkpoints = await (services.flush as any).deps.checkpoints.list(volume.volumeId, 0);
      expect(checkpoints.map((c: { op: number }) => c.op)).toContain(10);
    },
  );

  it("keeps both maps sound when the primary's map write loses to another flush and the secondary's lands", async () => {
    const { volume, model } = await written(10);
    const { volumeId } = volume;
    const other = fresh();
    const secondaryLog = { volumeId, partition: 0, replicaId: (await inspector.meta(volumeId, 0)).secondary.replicaId };
    // The other process's write of the secondary's map fails (a throttle, a lost connection).
    other.clients.documents.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => (args: any) => {
        const input = JSON.stringify(args.input);
        if (context.commandName?.startsWith('Put') && input.includes(`"${volumeId}#0#${secondaryLog.replicaId}"`) && input.includes('"chunks"')) {
          return Promise.reject(new Error('the secondary map write failed'));
        }
        return next(args);
      },
      { step: 'initialize', name: 'failSecondaryMapWrite' },
    );
    // While this flush (to op 10) puts its chunks, two more writes land and the other process
    // flushes to op 12: it moves the primary's map, and fails on the secondary's.
    let raced = false;
    disarm.push(
      armFailpoint('flush', async (context) => {
        if (context.volumeId !== volumeId) return;
        if (context.step === 'chunks-written' && !raced) {
          raced = true;
          for (let i = 0; i < 2; i++) {
            const data = pattern(4096, 500 + i);
            await services.data.write(volumeId, i * 64 * KIB, data);
            data.copy(model, i * 64 * KIB);
          }
          await expect(other.flush.flush({ volumeId, partition: 0, uptoOp: 12 })).rejects.toThrow(/secondary map write failed/);
        }
      }),
    );
    await expect(services.flush.flush({ volumeId, partition: 0, uptoOp: 10 })).rejects.toThrow(/flushed by someone else/);
    const chunkMaps = (services.flush as any).deps.chunkMaps;
    // The secondary's write went out with the primary's, and landed: the maps differ for now.
    expect((await inspector.chunkMap(volumeId, 0))?.baseOp).toBe(12);
    expect((await chunkMaps.get(secondaryLog))?.baseOp).toBe(10);
    expect((await read(volumeId)).equals(model)).toBe(true);

    disarm.splice(0).forEach((d) => d());
    const again = await fresh().flush.flush({ volumeId, partition: 0, uptoOp: 12 });
    expect(again.flushedOp).toBe(12);
    const [primaryMap, secondaryMap] = [await inspector.chunkMap(volumeId, 0), await chunkMaps.get(secondaryLog)];
    expect(secondaryMap.chunks).toEqual(primaryMap?.chunks);
    expect((await read(volumeId)).equals(model)).toBe(true);
    // No chunk version is left behind: the sleds hold exactly what the maps name.
    const stored: string[] = [];
    for (const bucket of cloud().config.sledBuckets) {
      const listed = await services.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `volumes/${volumeId}/chunks/` }));
      stored.push(...(listed.Contents ?? []).map((object) => object.Key ?? ''));
    }
    expect(stored.sort()).toEqual(Object.values(primaryMap?.chunks ?? {}).map((ref) => ref.key).sort());
    other.clients.destroy();
  });

  it("builds on the map it read, when another flush moves it before it reads the log: the secondary's map it lands holds every op", async () => {
    const volume = await services.volumes.create({ sizeBytes: 256 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    const { volumeId } = volume;
    const model = Buffer.alloc(256 * KIB);
    // Ops 1-6 into chunk 0, ops 7-12 into chunk 1, ops 13-14 into chunk 2.
    for (let op = 1; op <= 14; op++) {
      const chunk = op <= 6 ? 0 : op <= 12 ? 1 : 2;
      const offset = chunk * 64 * KIB + (op % 8) * 4096;
      const data = pattern(4096, 700 + op);
      await services.data.write(volumeId, offset, data);
      data.copy(model, offset);
    }
    await fresh().flush.flush({ volumeId, partition: 0, uptoOp: 6 });
    const meta = await inspector.meta(volumeId, 0);
    const primaryPk = `"${volumeId}#0#${meta.primary.replicaId}"`;
    const flusher = fresh();
    // Right after this flush read the primary's map (at op 6), another flush moves both maps to op 12.
    let raced = false;
    flusher.clients.documents.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
        const result = await next(args);
        const input = JSON.stringify(args.input);
        if (!raced && context.commandName?.startsWith('Get') && input.includes(primaryPk) && input.includes('"op~chunks"')) {
          raced = true;
          expect((await fresh().flush.flush({ volumeId, partition: 0, uptoOp: 12 })).flushedOp).toBe(12);
        }
        return result;
      },
      { step: 'initialize', name: 'flushAfterMapRead' },
    );
    await expect(flusher.flush.flush({ volumeId, partition: 0, uptoOp: 14 })).rejects.toThrow(/flushed by someone else/);
    expect(raced).toBe(true);
    // The primary's map stayed at 12; the secondary's moved to 14, and its chunks hold every op up to 14.
    const secondaryLog = { volumeId, partition: 0, replicaId: meta.secondary.replicaId };
    const secondaryMap = await (services.flush as any).deps.chunkMaps.get(secondaryLog);
    expect((await inspector.chunkMap(volumeId, 0))?.baseOp).toBe(12);
    expect(secondaryMap.baseOp).toBe(14);
    const chunks = (services.flush as any).deps.chunks;
    for (const chunk of [0, 1, 2]) {
      const bytes: Buffer = await chunks.read(secondaryMap.chunks[String(chunk)], 0, 64 * KIB);
      expect(bytes.equals(model.subarray(chunk * 64 * KIB, (chunk + 1) * 64 * KIB)), `chunk ${chunk}`).toBe(true);
    }
    flusher.clients.destroy();
  });

  it('flushes through the queue, harmlessly twice, and dead-letters a poison message', async () => {
    const { volume, model } = await written(9);
    const { config } = cloud();
    const clients = createAwsClients(config);
    try {
      const body = JSON.stringify({ volumeId: volume.volumeId, partition: 0, uptoOp: 9 });
      await clients.sqs.send(new SendMessageCommand({ QueueUrl: config.queues.flush, MessageBody: body }));
      await clients.sqs.send(new SendMessageCommand({ QueueUrl: config.queues.flush, MessageBody: body }));
      await eventually('the flush', async () => {
        const map = await (services.flush as any).deps.chunkMaps.get({ volumeId: volume.volumeId, partition: 0, replicaId: 'r1' });
        return map?.baseOp === 9 ? true : undefined;
      });
      expect((await read(volume.volumeId)).equals(model)).toBe(true);

      // A partition the volume does not have: no flush can ever serve it. (A flush of a volume
      // deleted since it was queued is done, not poison: see below.)
      await clients.sqs.send(
        new SendMessageCommand({ QueueUrl: config.queues.flush, MessageBody: JSON.stringify({ volumeId: volume.volumeId, partition: 99, uptoOp: 1 }) }),
      );
      const dlqUrl = config.queues.flush.replace(/sleds-flush$/, 'sleds-flush-dlq');
      await eventually(
        'the poison message in the dead-letter queue',
        async () => {
          const attributes = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
          return Number(attributes.Attributes?.ApproximateNumberOfMessages) >= 1 ? true : undefined;
        },
        30_000,
      );
    } finally {
      clients.destroy();
    }
  });

  it('asks for a sweep of orphans with each checkpoint, delivered later, and the flush consumer runs it', async () => {
    const { volume } = await written(9);
    const { config } = cloud();
    const clients = createAwsClients(config);
    const delayed = async () => {
      const attributes = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: config.queues.flush, AttributeNames: ['ApproximateNumberOfMessagesDelayed'] }));
      return Number(attributes.Attributes?.ApproximateNumberOfMessagesDelayed);
    };
    const sending = vi.spyOn((services.flush as any).deps.queue, 'sendAll');
    try {
      const before = await delayed();
      const result = await services.flush.flush({ volumeId: volume.volumeId, partition: 0, uptoOp: 9 });
      expect(result.checkpoint?.op).toBe(9);
      const sweep = { volumeId: volume.volumeId, partition: 0, sweep: true };
      expect(sending).toHaveBeenCalledWith([sweep], { delaySeconds: SWEEP_DELAY_SECONDS });
      expect(await delayed()).toBe(before + 1);

      const sweeping = vi.spyOn(FlushService.prototype, 'sweep');
      const flushing = vi.spyOn(FlushService.prototype, 'flush');
      const { handler } = await import('../../functions/flush-partition.js');
      const answer = await handler({ Records: [{ messageId: 'm1', body: JSON.stringify(sweep) }] } as any);
      expect(answer.batchItemFailures).toEqual([]);
      expect(sweeping).toHaveBeenCalledWith(volume.volumeId, 0);
      await expect(sweeping.mock.results[0]!.value).resolves.toEqual({ chunksRemoved: 0, notesRemoved: 0 });
      expect(flushing).not.toHaveBeenCalled();
      // A sweep that comes after its volume was deleted is done, not retried into the dead-letter queue.
      const gone = { ...sweep, volumeId: 'vol-0123456789abcdef0' };
      expect((await handler({ Records: [{ messageId: 'm2', body: JSON.stringify(gone) }] } as any)).batchItemFailures).toEqual([]);
      await expect(sweeping.mock.results[1]!.value).rejects.toBeInstanceOf(VolumeNotFoundError);
    } finally {
      vi.restoreAllMocks();
      clients.destroy();
    }
  });

  it('a flush that a volume delete overtakes leaves nothing of the volume, and a queued flush of a deleted volume is done', async () => {
    const { volume } = await written(6);
    const { volumeId } = volume;
    // The delete starts while the flush (another process, from the log) puts its chunks, and
    // ends before the flush goes on to the maps.
    disarm.push(
      armFailpoint('flush', async (context) => {
        if (context.volumeId === volumeId && context.step === 'chunks-written') await fresh().volumes.delete(volumeId);
      }),
    );
    await expect(fresh().flush.flush({ volumeId, partition: 0, uptoOp: 6 })).rejects.toBeInstanceOf(VolumeNotFoundError);
    const { config } = cloud();
    const stored: string[] = [];
    for (const bucket of config.sledBuckets) {
      const listed = await services.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `volumes/${volumeId}/` }));
      stored.push(...(listed.Contents ?? []).map((object) => object.Key ?? ''));
    }
    expect(stored).toEqual([]);
    const items = await services.clients.documents.send(
      new ScanCommand({ TableName: config.tables.partitions, FilterExpression: 'begins_with(pk, :volume)', ExpressionAttributeValues: { ':volume': volumeId } }),
    );
    expect(items.Items?.map((item) => `${item.pk} ${item.sk}`)).toEqual([]);
    // The flush it had queued comes later: done, not retried into the dead-letter queue.
    const { handler } = await import('../../functions/flush-partition.js');
    const queued = { volumeId, partition: 0, uptoOp: 6 };
    expect((await handler({ Records: [{ messageId: 'm1', body: JSON.stringify(queued) }] } as any)).batchItemFailures).toEqual([]);
  });

  it('checkpoints on demand with its own SHA-256', async () => {
    const { volume } = await written(3);
    const response = await fetch(`${cloud().apiUrl}/volumes/${volume.volumeId}/partitions/0/checkpoints`, { method: 'POST' });
    expect(response.status).toBe(201);
    const record: any = await response.json();
    expect(record).toMatchObject({ volumeId: volume.volumeId, partition: 0, op: 3, epoch: 1 });
    expect(record.sha256).toMatch(/^[0-9a-f]{64}$/);
    const checkpoint = await (services.flush as any).deps.checkpoints.read(record);
    expect(checkpoint.op).toBe(3);
    expect(Object.keys(checkpoint.chunks).length).toBeGreaterThan(0);
  });
});
