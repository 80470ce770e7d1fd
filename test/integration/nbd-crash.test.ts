/**
 * kill -9 of `npm start` while 8 NBD connections write: every write the server acknowledged
 * must read back after a restart on the same data directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command } from '../../lib/nbd/constants.js';
import { RawNbdClient, chunkErrno } from '../support/nbd-raw-client.js';
import { createVolume, readHttp } from '../support/nbd-volumes.js';
import { freePort, startReady as start, type Running } from '../support/processes.js';

const MiB = 1024 * 1024;
const BLOCK = 4096;
const CONNECTIONS = 8;
/** Writes in flight per connection. */
const WINDOW = 8;
/** Each connection owns a region of this many bytes and writes each of its blocks at most once. */
const REGION = 4 * MiB;

/** A 4 KiB block that names its connection and sequence number, then random bytes. */
function taggedBlock(connection: number, sequence: number): Buffer {
  const block = randomBytes(BLOCK);
  block.write(`sleds-crash c${connection} s${sequence} `, 0, 'ascii');
  return block;
}

/**
 * Writes tagged blocks into its region over one connection, WINDOW at a time, until `stop()`
 * says so or the connection fails; records each write the server acknowledged.
 */
async function writer(port: number, volumeId: string, connection: number, acked: Map<number, Buffer>, stop: () => boolean): Promise<number> {
  const client = await RawNbdClient.connect(port);
  client.socket.on('error', () => {});
  const replies = await client.go(volumeId, { structured: true });
  if (replies.at(-1)?.type !== 1) throw new Error(`connection ${connection} could not attach ${volumeId}`);
  const base = connection * REGION;
  let sequence = 0;
  let errors = 0;
  try {
    while (!stop() && sequence + WINDOW <= REGION / BLOCK) {
      const sent = new Map<bigint, { offset: number; data: Buffer }>();
      for (let i = 0; i < WINDOW; i++, sequence++) {
        const offset = base + sequence * BLOCK;
        const data = taggedBlock(connection, sequence);
        sent.set(client.send({ flags: 0, type: Command.WRITE, offset, length: BLOCK, data }), { offset, data });
      }
      for (let i = 0; i < WINDOW; i++) {
        const reply = await client.reply();
        const write = sent.get(reply.cookie);
        if (!write) throw new Error(`a reply to cookie ${reply.cookie} that was not sent`);
        if (chunkErrno(reply) === 0) acked.set(write.offset, write.data);
        else errors++;
      }
    }
  } catch {
    // The server died under the connection: what was acknowledged is recorded.
  } finally {
    client.destroy();
  }
  return errors;
}

describe('kill -9 of npm start under NBD load', () => {
  let dataDir = '';
  const spawned: Running[] = [];
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sleds-nbd-crash-'));
  });
  afterAll(async () => {
    for (const running of spawned) if (running.child.exitCode === null) running.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write from 8 connections', async () => {
    const env = { SLEDS_PORT: String(await freePort()), SLEDS_NBD_PORT: String(await freePort()), SLEDS_DATA_DIR: dataDir };
    const api = `http://127.0.0.1:${env.SLEDS_PORT}`;
    const first = await start(env);
    spawned.push(first);
    const volumeId = await createVolume(api, { sizeBytes: CONNECTIONS * REGION });

    const acked = new Map<number, Buffer>();
    let killed = false;
    const writers = Array.from({ length: CONNECTIONS }, (_, connection) => writer(Number(env.SLEDS_NBD_PORT), volumeId, connection, acked, () => killed));
    // Let the load build up, then kill the server mid-flight.
    const deadline = Date.now() + 20_000;
    while (acked.size < 400 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    first.child.kill('SIGKILL');
    await first.exited;
    killed = true;
    const errors = await Promise.all(writers);
    expect(errors.reduce((a, b) => a + b, 0)).toBe(0);
    expect(acked.size).toBeGreaterThanOrEqual(400);

    const second = await start(env);
    spawned.push(second);
    const lost: number[] = [];
    for (let connection = 0; connection < CONNECTIONS; connection++) {
      const region = await readHttp(api, volumeId, connection * REGION, REGION);
      for (const [offset, data] of acked) {
        if (offset < connection * REGION || offset >= (connection + 1) * REGION) continue;
        const at = offset - connection * REGION;
        if (!region.subarray(at, at + BLOCK).equals(data)) lost.push(offset);
      }
    }
    expect(lost, `${lost.length} of ${acked.size} acknowledged writes were lost`).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);
});
