import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armFailpoint, FAILPOINTS } from '../../lib/faults.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { SdkCallCounter, countSdkCalls } from '../../bench/support.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;

class Crash extends Error {}

/** What a small write costs in requests, and what a crash between its journal puts and its commits leaves. */
describe('the requests of a small write', () => {
  const cloud = useLocalCloud();
  const created: Services[] = [];
  let inspector: LogInspector;
  let counter: SdkCallCounter | undefined;

  /** Another "process", whose DynamoDB and S3 calls are counted while `counter` is set. */
  function process(): Services {
    const services = createServices(cloud().config);
    countSdkCalls(services.clients.dynamodb, () => counter);
    countSdkCalls(services.clients.s3, () => counter);
    created.push(services);
    return services;
  }

  beforeAll(() => {
    inspector = new LogInspector(cloud().config);
  });

  afterAll(() => {
    for (const services of created) services.clients.destroy();
    inspector.close();
  });

  const volume = (services: Services) => services.volumes.create({ sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 16 });

  it('puts a table note in both journals with one BatchWriteItem, then appends it to each log', async () => {
    const services = process();
    const { volumeId } = await volume(services);
    await services.data.write(volumeId, 0, pattern(4 * KIB, 1)); // places the replicas, reads the tails
    counter = new SdkCallCounter();
    const result = await services.data.write(volumeId, 8 * KIB, pattern(4 * KIB, 2));
    const calls = counter.calls;
    counter = undefined;
    expect(result.ops).toEqual([{ partition: 0, op: 2 }]);
    // Two conditional appends (primary, secondary) and one batch for both notes: no PutItem per note.
    expect(calls.get('PutItem')).toBe(2);
    expect(calls.get('BatchWriteItem')).toBe(1);
    expect(calls.get('PutObject')).toBeUndefined();
    const { primary, secondary } = await inspector.logsOf(volumeId, 0);
    expect(primary.map((entry) => entry.op)).toEqual([1, 2]);
    expect(secondary.map((entry) => entry.op)).toEqual([1, 2]);
    expect((await process().data.read(volumeId, 8 * KIB, 4 * KIB)).equals(pattern(4 * KIB, 2))).toBe(true);
  });

  it('puts a sled note in both journals at once: the second PutObject starts before the first is over', async () => {
    const services = process();
    const { volumeId } = await volume(services);
    await services.data.write(volumeId, 0, pattern(4 * KIB, 1));
    // Each journal PutObject of this volume waits (up to 2 s) for the other to start, and
    // records how many were in flight together: two if they were sent at once, one if in turn.
    let inFlight = 0;
    let mostInFlight = 0;
    const buckets: string[] = [];
    let bothStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (bothStarted = resolve));
    services.clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Bucket?: string; Key?: string };
        if (context.commandName !== 'PutObjectCommand' || !input.Key?.includes(volumeId)) return next(args);
        buckets.push(input.Bucket ?? '');
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        if (inFlight === 2) bothStarted();
        await Promise.race([started, new Promise((resolve) => setTimeout(resolve, 2000))]);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: 'initialize', name: 'overlappingPuts' },
    );
    const result = await services.data.write(volumeId, 64 * KIB, pattern(64 * KIB, 2));
    expect(result.ops).toEqual([{ partition: 0, op: 2 }]);
    expect(buckets).toHaveLength(2);
    expect(new Set(buckets).size).toBe(2); // two sleds
    expect(mostInFlight).toBe(2);
    expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(2);
    expect((await process().data.read(volumeId, 64 * KIB, 64 * KIB)).equals(pattern(64 * KIB, 2))).toBe(true);
  });

  it('leaves a table note pending in both journals, and nothing committed, after a crash after-payload', async () => {
    const services = process();
    const { volumeId } = await volume(services);
    const before = pattern(4 * KIB, 3);
    await services.data.write(volumeId, 0, before);
    let armed = true;
    const disarm = armFailpoint(FAILPOINTS.write, ({ step, volumeId: crashing }) => {
      if (armed && crashing === volumeId && step === 'after-payload') {
        armed = false;
        throw new Crash('after-payload');
      }
    });
    try {
      await expect(services.data.write(volumeId, 0, pattern(4 * KIB, 4))).rejects.toBeInstanceOf(Crash);
    } finally {
      disarm();
    }
    const restarted = process();
    const status = await restarted.data.partitionStatus(volumeId, 0);
    expect([status.primary.pendingNotes.length, status.secondary.pendingNotes.length]).toEqual([1, 1]);
    expect(status.inSync).toBe(true);
    expect((await restarted.data.read(volumeId, 0, 4 * KIB)).equals(before)).toBe(true);
    // The next write takes the next op on both replicas: the pending note never became one.
    const next = await restarted.data.write(volumeId, 4 * KIB, pattern(4 * KIB, 5));
    expect(next.ops).toEqual([{ partition: 0, op: 2 }]);
    expect(await inspector.expectReplicasIdentical(volumeId, 0)).toBe(2);
  });
});
