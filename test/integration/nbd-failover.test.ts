/**
 * An NBD write caught by a replica failover: fenced before its commit on the primary, the
 * server sends it again and the client gets its acknowledgement, not EIO (which a file system
 * would take for a failed disk). Fenced after that commit, its outcome is unknown to the head,
 * and the client still gets EIO. And while a rebuild holds a partition's writes, its reads go on.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAILPOINTS, armFailpoint } from '../../lib/faults.js';
import { processServices } from '../../lib/wiring.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { createVolume, readHttp } from '../support/nbd-volumes.js';
import { nbdClient } from '../support/torture/clients.js';

const KIB = 1024;
const GEOMETRY = { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 };

describe('NBD writes across a replica failover', () => {
  const cloud = useLocalCloud({ nbdPort: 0 });
  const disarm: Array<() => void> = [];
  afterEach(() => disarm.splice(0).forEach((d) => d()));

  const nbdPort = () => Number(new URL(cloud().nbdUrl ?? '').port);

  /** While above 0, every DynamoDB Query of the serving process takes this long: a loaded table, as in the soak. */
  let slowQueriesMs = 0;
  beforeAll(() => {
    (processServices().clients.dynamodb as unknown as { middlewareStack: any }).middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
        if (slowQueriesMs > 0 && context.commandName === 'QueryCommand') await new Promise((resolve) => setTimeout(resolve, slowQueriesMs));
        return next(args);
      },
      { step: 'initialize', name: 'slowQueries' },
    );
  });

  /** At `step` of the next write to `volumeId`, loses its partition 0's `replica` (and rebuilds it) before the write goes on. */
  function failoverAt(step: string, volumeId: string, replica: 'primary' | 'secondary'): { fired: () => boolean } {
    let fired = false;
    disarm.push(
      armFailpoint(FAILPOINTS.write, async (context) => {
        if (fired || context.step !== step || context.volumeId !== volumeId) return;
        fired = true;
        const lost = await call(cloud().apiUrl, 'POST', `/volumes/${volumeId}/partitions/0/failures`, { replica });
        expect(lost.status).toBe(200);
      }),
    );
    return { fired: () => fired };
  }

  /** A new volume attached over NBD, with a first 4 KiB write of `first` at 0: partition 0 then has replicas to lose. */
  async function attachedWithReplicas(first: Buffer): Promise<{ volumeId: string; client: ReturnType<typeof nbdClient> }> {
    const volumeId = await createVolume(cloud().apiUrl, GEOMETRY);
    const client = nbdClient(nbdPort(), volumeId, 60_000);
    expect((await client.write(0, first)).status).toBe('ok');
    return { volumeId, client };
  }

  it('acknowledges a write fenced before its primary commit, once sent again, and it reads back', async () => {
    const { volumeId, client } = await attachedWithReplicas(Buffer.alloc(4096, 1));
    try {
      const failover = failoverAt('after-pending-note', volumeId, 'secondary');
      const data = Buffer.alloc(8192, 7);
      const outcome = await client.write(4096, data);
      expect(failover.fired()).toBe(true);
      expect(outcome).toEqual({ status: 'ok' });
      expect((await readHttp(cloud().apiUrl, volumeId, 4096, 8192)).equals(data)).toBe(true);
      // Both replicas hold it: the rebuilt secondary and the primary hold the same ops.
      const status = await call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/partitions/0`);
      expect(status.body.epoch).toBe(2);
      expect(status.body.inSync).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('answers EIO to a write fenced after its primary commit (its outcome is unknown), and the disk goes on serving', async () => {
    const { volumeId, client } = await attachedWithReplicas(Buffer.alloc(4096, 1));
    try {
      const failover = failoverAt('after-primary-commit', volumeId, 'primary');
      const outcome = await client.write(4096, Buffer.alloc(4096, 8));
      expect(failover.fired()).toBe(true);
      expect(outcome).toEqual({ status: 'info', why: 'NBD errno 5' });
      const data = Buffer.alloc(4096, 9);
      expect((await client.write(4096, data)).status).toBe('ok');
      expect((await readHttp(cloud().apiUrl, volumeId, 0, 8192)).equals(Buffer.concat([Buffer.alloc(4096, 1), data]))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('serves reads of a partition while a write waits for its rebuild', async () => {
    const first = Buffer.alloc(4096, 3);
    const { volumeId, client } = await attachedWithReplicas(first);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let rebuilding!: () => void;
    const promoted = new Promise<void>((resolve) => (rebuilding = resolve));
    try {
      // The rebuild stops once the survivor is promoted (the metadata says 'rebuilding') until released.
      disarm.push(
        armFailpoint(FAILPOINTS.rebuild, async (context) => {
          if (context.step !== 'promoted' || context.volumeId !== volumeId) return;
          rebuilding();
          await held;
        }),
      );
      const lost = call(cloud().apiUrl, 'POST', `/volumes/${volumeId}/partitions/0/failures`, { replica: 'primary' });
      await promoted;
      const second = Buffer.alloc(4096, 4);
      const write = client.write(4096, second);
      // Give the write time to reach its wait for the rebuild.
      await new Promise((resolve) => setTimeout(resolve, 500));
      // A read's refresh queries the log; slower than the write's 25 ms poll, it never finished
      // while the waiting write fenced the head at every poll.
      slowQueriesMs = 40;
      const read = await Promise.race([
        readHttp(cloud().apiUrl, volumeId, 0, 4096),
        new Promise<'held'>((resolve) => setTimeout(() => resolve('held'), 5000)),
      ]).finally(() => (slowQueriesMs = 0));
      expect(read).not.toBe('held');
      expect((read as Buffer).equals(first)).toBe(true);
      release();
      expect((await lost).status).toBe(200);
      expect(await write).toEqual({ status: 'ok' });
      expect((await readHttp(cloud().apiUrl, volumeId, 0, 8192)).equals(Buffer.concat([first, second]))).toBe(true);
    } finally {
      release();
      await client.close();
    }
  });
});
