import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { call } from './http.js';

const MAX_HTTP_IO = 4 * 1024 * 1024;

/** Creates a volume through the API and returns its id. */
export async function createVolume(apiUrl: string, spec: { sizeBytes: number; chunkSizeBytes?: number; partitionChunks?: number; name?: string }): Promise<string> {
  const created = await call(apiUrl, 'POST', '/volumes', spec);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.volumeId as string;
}

/** Reads [offset, offset + length) of a volume through the HTTP API, 4 MiB at a time. */
export async function readHttp(apiUrl: string, volumeId: string, offset: number, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = offset; at < offset + length; at += MAX_HTTP_IO) {
    const take = Math.min(MAX_HTTP_IO, offset + length - at);
    const response = await fetch(`${apiUrl}/volumes/${volumeId}/data?offset=${at}&length=${take}`);
    if (response.status !== 200) throw new Error(`GET data of ${volumeId} at ${at}: ${response.status} ${await response.text()}`);
    parts.push(Buffer.from(await response.arrayBuffer()));
  }
  return Buffer.concat(parts);
}

/** Writes `data` at `offset` of a volume through the HTTP API, 4 MiB at a time. */
export async function writeHttp(apiUrl: string, volumeId: string, offset: number, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; at += MAX_HTTP_IO) {
    const part = data.subarray(at, at + MAX_HTTP_IO);
    const response = await call(apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${offset + at}`, part, { 'content-type': 'application/octet-stream' });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  }
}

/** Takes a snapshot through the API and waits until it is completed. */
export async function completedSnapshot(apiUrl: string, volumeId: string, timeoutMs = 30_000): Promise<string> {
  const taken = await call(apiUrl, 'POST', `/volumes/${volumeId}/snapshots`);
  expect(taken.status, JSON.stringify(taken.body)).toBe(201);
  const snapshotId = taken.body.snapshotId as string;
  const deadline = Date.now() + timeoutMs;
  while ((await call(apiUrl, 'GET', `/snapshots/${snapshotId}`)).body.state !== 'completed') {
    if (Date.now() > deadline) throw new Error(`snapshot ${snapshotId} did not complete in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return snapshotId;
}

/** A running nbdfuse: `file` is the volume as a file under the mount point. */
export interface FuseMount {
  readonly file: string;
  readonly child: ChildProcess;
  output(): string;
}

/** Mounts `uri` as `mountPoint/name` with nbdfuse and waits until the file appears. */
export async function nbdfuse(mountPoint: string, name: string, uri: string, timeoutMs = 15_000): Promise<FuseMount> {
  const child = spawn('nbdfuse', [`${mountPoint}/${name}`, uri], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const file = `${mountPoint}/${name}`;
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (child.exitCode !== null) throw new Error(`nbdfuse exited early (${child.exitCode}): ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nbdfuse did not show ${file} in ${timeoutMs} ms: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { file, child, output: () => output };
}

/** True when `mountPoint` is in /proc/mounts. */
export async function isMounted(mountPoint: string): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  return (await readFile('/proc/mounts', 'utf8')).split('\n').some((line) => line.split(' ')[1] === mountPoint);
}

/**
 * Mounts an ext file system image with fuse2fs in the foreground (-f: a daemonized fuse2fs
 * keeps the pipes of whoever waits for its output open), and waits until it is mounted.
 * Returns the running child; `fusermount3 -u` ends it.
 */
export async function fuse2fs(image: string, mountPoint: string, timeoutMs = 15_000): Promise<ChildProcess> {
  const child = spawn('fuse2fs', [image, mountPoint, '-o', 'fakeroot', '-f'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + timeoutMs;
  while (!(await isMounted(mountPoint))) {
    if (child.exitCode !== null) throw new Error(`fuse2fs exited early (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`fuse2fs did not mount ${mountPoint} in ${timeoutMs} ms: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

/** Resolves once the child has exited. */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}
