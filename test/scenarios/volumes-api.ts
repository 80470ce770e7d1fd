import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import type { LocalCloud } from '../../lib/local/local-cloud.js';
import { call } from '../support/http.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const TIB = 1024 * GIB;

async function listAll(apiUrl: string): Promise<Array<{ volumeId: string }>> {
  const volumes: Array<{ volumeId: string }> = [];
  let token: string | undefined;
  do {
    const query = token ? `?limit=1000&nextToken=${encodeURIComponent(token)}` : '?limit=1000';
    const page = await call(apiUrl, 'GET', `/volumes${query}`);
    expect(page.status).toBe(200);
    volumes.push(...page.body.volumes);
    token = page.body.nextToken;
  } while (token);
  return volumes;
}

function expectError(response: { status: number; body: any }, status: number, code: string, message?: RegExp) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body.error.code).toBe(code);
  expect(typeof response.body.error.message).toBe('string');
  if (message) expect(response.body.error.message).toMatch(message);
}

/**
 * The volumes API scenarios, run against whichever cloud `cloud()` returns: the embedded
 * emulators in test/integration, LocalStack in test/localstack.
 */
export function volumesApiScenarios(cloud: () => LocalCloud): void {
  it('reports every backing service healthy', async () => {
    const health = await call(cloud().apiUrl, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    for (const service of ['s3', 'dynamodb', 'sqs']) expect(health.body.services[service].status).toBe('ok');
  });

  it('creates a volume with the default geometry and shows it', async () => {
    const { apiUrl } = cloud();
    const created = await call(apiUrl, 'POST', '/volumes', { sizeBytes: GIB });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      sizeBytes: GIB,
      chunkSizeBytes: MIB,
      partitionChunks: 16,
      partitionCount: 64,
      state: 'available',
    });
    expect(created.body.volumeId).toMatch(/^vol-[0-9a-f]{17}$/);
    expect(Date.parse(created.body.createdAt)).not.toBeNaN();
    expect(created.headers.get('location')).toBe(`/volumes/${created.body.volumeId}`);
    const shown = await call(apiUrl, 'GET', `/volumes/${created.body.volumeId}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(created.body);
  });

  it('creates a volume with explicit chunk size, partition size and name', async () => {
    const created = await call(cloud().apiUrl, 'POST', '/volumes', {
      sizeBytes: 10 * 64 * 1024 * 3,
      chunkSizeBytes: 64 * 1024,
      partitionChunks: 3,
      name: 'db-01 data',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ chunkSizeBytes: 65536, partitionChunks: 3, partitionCount: 10, name: 'db-01 data' });
  });

  it('pages through every volume exactly once with nextToken', async () => {
    const { apiUrl } = cloud();
    const mine = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const created = await call(apiUrl, 'POST', '/volumes', { sizeBytes: MIB, name: `page-${i}` });
      mine.add(created.body.volumeId);
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const query = token ? `?limit=2&nextToken=${encodeURIComponent(token)}` : '?limit=2';
      const page = await call(apiUrl, 'GET', `/volumes${query}`);
      expect(page.status).toBe(200);
      expect(page.body.volumes.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.volumes.map((v: { volumeId: string }) => v.volumeId));
      token = page.body.nextToken;
      pages++;
    } while (token);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of mine) expect(seen).toContain(id);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('deletes a volume with its objects on every sled, then answers 404', async () => {
    const { apiUrl, config } = cloud();
    const created = await call(apiUrl, 'POST', '/volumes', { sizeBytes: 4 * MIB });
    const volumeId: string = created.body.volumeId;
    const clients = createAwsClients(config);
    try {
      // Data paths arrive in a later issue; plant objects where the volume keeps its data.
      for (const [i, Bucket] of config.sledBuckets.entries()) {
        await clients.s3.send(new PutObjectCommand({ Bucket, Key: `volumes/${volumeId}/chunk-${i}`, Body: 'x' }));
      }
      const other = await call(apiUrl, 'POST', '/volumes', { sizeBytes: MIB });
      const otherKey = `volumes/${other.body.volumeId}/keep`;
      await clients.s3.send(new PutObjectCommand({ Bucket: config.sledBuckets[0], Key: otherKey, Body: 'y' }));

      const deleted = await call(apiUrl, 'DELETE', `/volumes/${volumeId}`);
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ volumeId, deleted: true, objectsRemoved: config.sledBuckets.length });
      for (const Bucket of config.sledBuckets) {
        const left = await clients.s3.send(new ListObjectsV2Command({ Bucket, Prefix: `volumes/${volumeId}/` }));
        expect(left.KeyCount ?? 0).toBe(0);
      }
      const kept = await clients.s3.send(new ListObjectsV2Command({ Bucket: config.sledBuckets[0], Prefix: otherKey }));
      expect(kept.KeyCount).toBe(1);
      expectError(await call(apiUrl, 'GET', `/volumes/${volumeId}`), 404, 'VolumeNotFound', new RegExp(volumeId));
      expectError(await call(apiUrl, 'DELETE', `/volumes/${volumeId}`), 404, 'VolumeNotFound');
      expect((await listAll(apiUrl)).map((v) => v.volumeId)).not.toContain(volumeId);
    } finally {
      clients.destroy();
    }
  });

  const badCreates: Array<[string, string | object, RegExp]> = [
    ['a body that is not JSON', '{"sizeBytes": ', /not valid JSON/],
    ['a JSON array', '[1,2]', /JSON object/],
    ['a JSON string', '"1GiB"', /JSON object/],
    ['an empty body', '', /sizeBytes is required/],
    ['a missing sizeBytes', { chunkSizeBytes: MIB }, /sizeBytes is required/],
    ['a size given as text', { sizeBytes: '1GiB' }, /sizeBytes/],
    ['a negative size', { sizeBytes: -MIB }, /positive/],
    ['a zero size', { sizeBytes: 0 }, /positive/],
    ['a fractional size', { sizeBytes: 1.5 * MIB + 0.5 }, /whole number/],
    ['a size not a multiple of the chunk size', { sizeBytes: MIB + 4096 }, /multiple of chunkSizeBytes/],
    ['a size over 16 TiB', { sizeBytes: 16 * TIB + MIB }, /at most 16 TiB/],
    ['an astronomically large size', { sizeBytes: 1e300 }, /at most 16 TiB|whole number/],
    ['a chunk size that is not a power of two', { sizeBytes: 3 * 65536 * 4, chunkSizeBytes: 3 * 65536 }, /power of two/],
    ['a chunk size under 64 KiB', { sizeBytes: MIB, chunkSizeBytes: 4096 }, /at least 64 KiB/],
    ['a chunk size over 16 MiB', { sizeBytes: 64 * MIB, chunkSizeBytes: 32 * MIB }, /at most 16 MiB/],
    ['zero partition chunks', { sizeBytes: MIB, partitionChunks: 0 }, /at least 1/],
    ['too many partition chunks', { sizeBytes: MIB, partitionChunks: 1025 }, /at most 1024/],
    ['an unknown field', { sizeBytes: MIB, sizeGiB: 1 }, /unknown field.*sizeGiB/],
    ['an over-long name', { sizeBytes: MIB, name: 'n'.repeat(129) }, /at most 128/],
  ];

  it.each(badCreates)('refuses %s with a 400 and creates nothing', async (_case, body, message) => {
    const { apiUrl } = cloud();
    const before = (await listAll(apiUrl)).length;
    const response = await call(apiUrl, 'POST', '/volumes', body);
    expect(response.status).toBe(400);
    expect(['ValidationError', 'MalformedJson']).toContain(response.body.error.code);
    expect(response.body.error.message).toMatch(message);
    expect((await listAll(apiUrl)).length).toBe(before);
  });

  it('refuses a body over the API Gateway limit with a 413 and creates nothing', async () => {
    const { apiUrl } = cloud();
    const before = (await listAll(apiUrl)).length;
    const huge = JSON.stringify({ sizeBytes: MIB, name: 'x'.repeat(11 * 1000 * 1000) });
    expectError(await call(apiUrl, 'POST', '/volumes', huge), 413, 'PayloadTooLarge', /exceeds/);
    expect((await listAll(apiUrl)).length).toBe(before);
  });

  it('answers unknown and malformed volume ids with 404 and 400', async () => {
    const { apiUrl } = cloud();
    expectError(await call(apiUrl, 'GET', '/volumes/vol-0123456789abcdef0'), 404, 'VolumeNotFound', /vol-0123456789abcdef0/);
    expectError(await call(apiUrl, 'DELETE', '/volumes/vol-0123456789abcdef0'), 404, 'VolumeNotFound');
    expectError(await call(apiUrl, 'GET', '/volumes/not-a-volume'), 400, 'ValidationError', /vol-/);
    expectError(await call(apiUrl, 'GET', '/volumes/VOL-0123456789ABCDEF0'), 400, 'ValidationError');
  });

  it('answers wrong methods with 405 and the allowed methods, unknown paths with 404', async () => {
    const { apiUrl } = cloud();
    const put = await call(apiUrl, 'PUT', '/volumes', { sizeBytes: MIB });
    expectError(put, 405, 'MethodNotAllowed', /PUT/);
    expect(put.headers.get('allow')).toBe('POST, GET');
    expectError(await call(apiUrl, 'PATCH', '/volumes/vol-0123456789abcdef0', {}), 405, 'MethodNotAllowed');
    expectError(await call(apiUrl, 'POST', '/health'), 405, 'MethodNotAllowed');
    expectError(await call(apiUrl, 'GET', '/volume'), 404, 'RouteNotFound');
    expectError(await call(apiUrl, 'GET', '/volumes/vol-0123456789abcdef0/nope'), 404, 'RouteNotFound');
  });

  it.each([
    ['limit=0', /at least 1/],
    ['limit=1001', /at most 1000/],
    ['limit=ten', /limit must be a number/],
    ['limit=2.5', /whole number/],
    ['nextToken=garbage', /nextToken/],
    ['colour=blue', /unknown field.*colour/],
  ])('refuses the list query %s with a 400', async (query, message) => {
    expectError(await call(cloud().apiUrl, 'GET', `/volumes?${query}`), 400, 'ValidationError', message);
  });
}
