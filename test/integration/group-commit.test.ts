import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAILPOINTS, armFailpoint } from '../../lib/faults.js';
import type { WriteEntry } from '../../lib/notes/ports.js';
import { createServices, type Services } from '../../lib/wiring.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { LogInspector, pattern } from '../support/write-path.js';

const KIB = 1024;
const OCTETS = { 'content-type': 'application/octet-stream' };

describe('group commit', () => {
  const cloud = useLocalCloud({ flushEveryOps: 0 });
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

  const create = async () => {
    // One partition of 4 x 64 KiB chunks.
    const created = await call(cloud().apiUrl, 'POST', '/volumes', { sizeBytes: 256 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4 });
    expect(created.status).toBe(201);
    return created.body.volumeId as string;
  };

  it('makes 32 concurrent 4K writes over HTTP fewer ops than writes, dense and identical on both replicas, each read back', async () => {
    const volumeId = await create();
    const blocks = Array.from({ length: 32 }, (_, i) => pattern(4 * KIB, i + 1));
    const answers = await Promise.all(blocks.map((block, i) => call(cloud().apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${i * 8 * KIB}`, block, OCTETS)));
    for (const answer of answers) expect(answer.status).toBe(200);
    const ops = answers.map((answer) => answer.body.ops[0].op as number);
    const count = await inspector.expectReplicasIdentical(volumeId, 0);
    expect(count).toBeLessThan(32);
    expect(new Set(ops).size).toBe(count);
    console.info(`32 concurrent 4K writes: ${count} ops`);
    const { primary } = await inspector.logsOf(volumeId, 0);
    // Writes that share an op are that op's extents.
    for (const entry of primary as WriteEntry[]) expect(entry.extents?.length ?? 1).toBe(ops.filter((op) => op === entry.op).length);
    for (const [i, block] of blocks.entries()) {
      const response = await fetch(`${cloud().apiUrl}/volumes/${volumeId}/data?offset=${i * 8 * KIB}&length=${4 * KIB}`);
      expect(Buffer.from(await response.arrayBuffer()).equals(block), `write ${i}`).toBe(true);
    }
    // A flush of grouped notes, and the bytes after it.
    await services.flush.flush({ volumeId, partition: 0, uptoOp: count });
    const all = await createServices(cloud().config).data.read(volumeId, 0, 256 * KIB);
    for (const [i, block] of blocks.entries()) expect(all.subarray(i * 8 * KIB, i * 8 * KIB + 4 * KIB).equals(block), `write ${i} after the flush`).toBe(true);
  });

  for (const step of ['after-pending-note', 'after-primary-commit'] as const) {
    it(`loses no acknowledged write and exposes all or none of a group that crashes ${step}`, async () => {
      const volumeId = await create();
      const acknowledged = Array.from({ length: 8 }, (_, i) => pattern(4 * KIB, 200 + i));
      await Promise.all(acknowledged.map((block, i) => services.data.write(volumeId, i * 4 * KIB, block)));
      // The first write after arming passes the step; the group queued behind it stops there for good.
      let seen = 0;
      let crashed = false;
      disarm.push(
        armFailpoint(FAILPOINTS.write, (context) => {
          if (context.volumeId !== volumeId || context.step !== step || ++seen !== 2) return undefined;
          crashed = true;
          return new Promise<void>(() => {});
        }),
      );
      void services.data.write(volumeId, 128 * KIB, pattern(4 * KIB, 1));
      const group = Array.from({ length: 8 }, (_, i) => pattern(4 * KIB, 300 + i));
      for (const [i, block] of group.entries()) void services.data.write(volumeId, i * 4 * KIB, block);
      for (let i = 0; i < 400 && !crashed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(crashed).toBe(true);
      // Another process reads: all of the group or none, and then every acknowledged write.
      const other = createServices(cloud().config);
      const bytes = await other.data.read(volumeId, 0, 32 * KIB);
      const visible = group.map((block, i) => bytes.subarray(i * 4 * KIB, (i + 1) * 4 * KIB).equals(block));
      expect(visible.every((v) => v === (step === 'after-primary-commit'))).toBe(true);
      if (step !== 'after-primary-commit') for (const [i, block] of acknowledged.entries()) expect(bytes.subarray(i * 4 * KIB, (i + 1) * 4 * KIB).equals(block)).toBe(true);
      // The other process's next write copies the stopped op to the secondary first: no gap.
      await other.data.write(volumeId, 64 * KIB, pattern(4 * KIB, 9));
      await inspector.expectReplicasIdentical(volumeId, 0);
      other.clients.destroy();
    });
  }
});
