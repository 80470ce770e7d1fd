import { expect } from 'vitest';
import { call } from './http.js';

const OCTETS = { 'content-type': 'application/octet-stream' };

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Creates a volume, writes `data` at 0, takes a snapshot and waits until it is completed. */
export async function snapshotOf(apiUrl: string, data: Buffer, geometry: Record<string, number>): Promise<{ volumeId: string; snapshotId: string }> {
  const created = await call(apiUrl, 'POST', '/volumes', geometry);
  expect(created.status).toBe(201);
  const volumeId = created.body.volumeId;
  for (let offset = 0; offset < data.length; offset += 4 * 1024 * 1024) {
    const part = data.subarray(offset, Math.min(data.length, offset + 4 * 1024 * 1024));
    const written = await call(apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${offset}`, part, OCTETS);
    expect(written.status).toBe(200);
  }
  const taken = await call(apiUrl, 'POST', `/volumes/${volumeId}/snapshots`);
  expect(taken.status).toBe(201);
  const snapshotId = taken.body.snapshotId;
  await eventually('the snapshot', async () => {
    const shown = await call(apiUrl, 'GET', `/snapshots/${snapshotId}`);
    return shown.body.state === 'completed' ? true : undefined;
  });
  return { volumeId, snapshotId };
}

/** Waits until the job has ended; returns its status. */
export async function jobEnded(apiUrl: string, jobId: string, timeoutMs = 60_000): Promise<any> {
  return eventually(
    `copy job ${jobId}`,
    async () => {
      const shown = await call(apiUrl, 'GET', `/copy-jobs/${jobId}`);
      return shown.body.state === 'running' ? undefined : shown.body;
    },
    timeoutMs,
  );
}

/** Reads a whole volume through the API, 4 MiB at a time. */
export async function readVolume(apiUrl: string, volumeId: string, sizeBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < sizeBytes; offset += 4 * 1024 * 1024) {
    const length = Math.min(4 * 1024 * 1024, sizeBytes - offset);
    const response = await fetch(`${apiUrl}/volumes/${volumeId}/data?offset=${offset}&length=${length}`);
    expect(response.status).toBe(200);
    parts.push(Buffer.from(await response.arrayBuffer()));
  }
  return Buffer.concat(parts);
}
