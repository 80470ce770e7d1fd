import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllocationFlag, Command, CommandFlag, Errno, OptionReply, ReplyFlag, ReplyType } from '../../lib/nbd/constants.js';
import { encodeRequest } from '../../lib/nbd/codec/transmission-codec.js';
import { MemoryBlockDevice } from '../../lib/nbd/memory-device.js';
import { startNbdServer, type NbdServer } from '../../lib/nbd/nbd-server.js';
import { StaticExportResolver } from '../../lib/nbd/static-resolver.js';
import { deferred, ProbeDevice } from '../support/nbd-probe-device.js';
import { chunkErrno, chunkMessage, RawNbdClient, type ReplyMessage } from '../support/nbd-raw-client.js';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;

describe('NBD transmission: bad requests, concurrency and disconnects (raw protocol client)', () => {
  const disk = new MemoryBlockDevice({ size: SIZE });
  const ro = new MemoryBlockDevice({ size: SIZE, readOnly: true });
  const probe = new ProbeDevice(new MemoryBlockDevice({ size: SIZE }));
  let server: NbdServer;
  beforeAll(async () => {
    server = await startNbdServer({
      resolver: new StaticExportResolver([
        { name: 'disk', device: disk },
        { name: 'ro', device: ro },
        { name: 'probe', device: probe },
      ]),
      limits: { maxRequests: 4 },
    });
  });
  afterAll(async () => server.close());

  async function open(name: string, structured = true): Promise<RawNbdClient> {
    const client = await RawNbdClient.connect(server.port);
    const replies = await client.go(name, { structured, allocation: structured });
    expect(replies.at(-1)?.type).toBe(OptionReply.ACK);
    return client;
  }

  // Reads one whole reply (all chunks up to DONE) for a single outstanding request.
  async function whole(client: RawNbdClient): Promise<ReplyMessage[]> {
    const out: ReplyMessage[] = [];
    for (;;) {
      const reply = await client.reply();
      out.push(reply);
      if (reply.kind === 'simple' || (reply.flags & ReplyFlag.DONE) !== 0) return out;
    }
  }

  async function errnoOf(client: RawNbdClient, request: Parameters<RawNbdClient['send']>[0]): Promise<number> {
    client.send(request);
    const replies = await whole(client);
    return replies.map(chunkErrno).find((e) => e !== 0) ?? 0;
  }

  function writes(device: MemoryBlockDevice): number {
    return device.counters.writes + device.counters.zeroes + device.counters.trims;
  }

  it('reads back written data through structured replies, with holes as OFFSET_HOLE chunks', async () => {
    const client = await open('disk');
    const data = randomBytes(64 * 1024);
    expect(await errnoOf(client, { flags: CommandFlag.FUA, type: Command.WRITE, offset: MiB, length: data.length, data })).toBe(0);
    client.send({ flags: 0, type: Command.READ, offset: MiB - 128 * 1024, length: 256 * 1024 });
    const chunks = await whole(client);
    const assembled = Buffer.alloc(256 * 1024, 0xee);
    for (const chunk of chunks) {
      if (chunk.kind !== 'chunk') throw new Error('a structured read must not get a simple reply');
      const offset = Number(chunk.payload.readBigUInt64BE(0)) - (MiB - 128 * 1024);
      if (chunk.type === ReplyType.OFFSET_DATA) chunk.payload.copy(assembled, offset, 8);
      if (chunk.type === ReplyType.OFFSET_HOLE) assembled.fill(0, offset, offset + chunk.payload.readUInt32BE(8));
    }
    expect(chunks.map((c) => (c.kind === 'chunk' ? c.type : -1))).toEqual([ReplyType.OFFSET_HOLE, ReplyType.OFFSET_DATA, ReplyType.OFFSET_HOLE]);
    expect(assembled.equals(Buffer.concat([Buffer.alloc(128 * 1024), data, Buffer.alloc(64 * 1024)]))).toBe(true);
    client.send({ flags: CommandFlag.REQ_ONE, type: Command.BLOCK_STATUS, offset: 0, length: 2 * MiB });
    const [status] = await whole(client);
    if (status?.kind !== 'chunk') throw new Error('block status needs a chunk');
    expect(status.payload.length).toBe(12);
    expect([status.payload.readUInt32BE(4), status.payload.readUInt32BE(8)]).toEqual([MiB, AllocationFlag.HOLE | AllocationFlag.ZERO]);
    client.disconnect();
    await client.closed;
  });

  it('refuses requests past the end (EINVAL, ENOSPC for writes), misaligned ones (EINVAL) and bad commands, and writes nothing', async () => {
    const before = writes(disk);
    const image = disk.readSync(0, SIZE);
    for (const structured of [true, false]) {
      const client = await open('disk', structured);
      const data = Buffer.alloc(8192, 0x5a);
      expect(await errnoOf(client, { flags: 0, type: Command.READ, offset: SIZE - 4096, length: 8192 })).toBe(Errno.EINVAL);
      expect(await errnoOf(client, { flags: 0, type: Command.WRITE, offset: SIZE - 4096, length: 8192, data })).toBe(Errno.ENOSPC);
      expect(await errnoOf(client, { flags: 0, type: Command.WRITE_ZEROES, offset: SIZE, length: 4096 })).toBe(Errno.ENOSPC);
      expect(await errnoOf(client, { flags: 0, type: Command.TRIM, offset: 2 ** 60, length: 4096 })).toBe(Errno.EINVAL);
      expect(await errnoOf(client, { flags: 0, type: Command.WRITE, offset: 512, length: 4096, data: data.subarray(0, 4096) })).toBe(Errno.EINVAL);
      expect(await errnoOf(client, { flags: 0, type: Command.READ, offset: 0, length: 100 })).toBe(Errno.EINVAL);
      expect(await errnoOf(client, { flags: 0, type: Command.WRITE_ZEROES, offset: 4096, length: 1000 })).toBe(Errno.EINVAL);
      expect(await errnoOf(client, { flags: 0, type: 42, offset: 0, length: 4096 })).toBe(Errno.EINVAL);
      expect(await errnoOf(client, { flags: CommandFlag.DF, type: Command.WRITE, offset: 0, length: 4096, data: data.subarray(0, 4096) })).toBe(Errno.EINVAL);
      expect(await errnoOf(client, { flags: 0, type: Command.FLUSH, offset: 4096, length: 0 })).toBe(Errno.EINVAL);
      if (structured) {
        expect(await errnoOf(client, { flags: 0, type: Command.BLOCK_STATUS, offset: SIZE, length: 4096 })).toBe(Errno.EINVAL);
        client.send({ flags: 0, type: Command.READ, offset: SIZE, length: 4096 });
        expect(chunkMessage((await whole(client))[0] as ReplyMessage)).toContain('not inside the export');
      } else {
        // Without structured replies no metadata context can be selected.
        expect(await errnoOf(client, { flags: 0, type: Command.BLOCK_STATUS, offset: 0, length: 4096 })).toBe(Errno.EINVAL);
      }
      // The connection is still in sync (the misaligned write's payload was consumed).
      expect(await errnoOf(client, { flags: 0, type: Command.READ, offset: 0, length: 4096 })).toBe(0);
      client.disconnect();
      await client.closed;
    }
    expect(writes(disk)).toBe(before);
    expect(disk.readSync(0, SIZE).equals(image)).toBe(true);
  });

  it('refuses an oversized read (EOVERFLOW structured, EINVAL simple) and answers an oversized write with EINVAL, then closes', async () => {
    const before = writes(disk);
    const structured = await open('disk', true);
    expect(await errnoOf(structured, { flags: 0, type: Command.READ, offset: 0, length: 33 * MiB })).toBe(Errno.EOVERFLOW);
    const simple = await open('disk', false);
    expect(await errnoOf(simple, { flags: 0, type: Command.READ, offset: 0, length: 33 * MiB })).toBe(Errno.EINVAL);
    // Only the header of a 64 MiB write: the server cannot skip a payload it will not take.
    const encoded = encodeRequest({ flags: 0, type: Command.WRITE, cookie: 7n, offset: 0, length: 4096, data: Buffer.alloc(4096) });
    encoded.writeUInt32BE(64 * MiB, 24);
    simple.socket.write(encoded.subarray(0, 28));
    expect(await simple.reply()).toMatchObject({ kind: 'simple', cookie: 7n, error: Errno.EINVAL });
    await simple.closed;
    structured.disconnect();
    await structured.closed;
    expect(writes(disk)).toBe(before);
  });

  it('refuses writes, zeroes and trims on a read-only export with EPERM, and still reads', async () => {
    const client = await open('ro');
    expect(await errnoOf(client, { flags: 0, type: Command.WRITE, offset: 0, length: 4096, data: Buffer.alloc(4096, 1) })).toBe(Errno.EPERM);
    expect(await errnoOf(client, { flags: 0, type: Command.WRITE_ZEROES, offset: 0, length: 4096 })).toBe(Errno.EPERM);
    expect(await errnoOf(client, { flags: 0, type: Command.TRIM, offset: 0, length: 4096 })).toBe(Errno.EPERM);
    expect(await errnoOf(client, { flags: 0, type: Command.READ, offset: 0, length: 4096 })).toBe(0);
    client.disconnect();
    await client.closed;
    expect(writes(ro)).toBe(0);
  });

  it('survives clients that disconnect mid-request, and keeps serving the others', async () => {
    const before = writes(disk);
    const other = await open('disk');
    const half = await open('disk');
    const encoded = encodeRequest({ flags: 0, type: Command.WRITE, cookie: 1n, offset: 0, length: MiB, data: Buffer.alloc(MiB, 9) });
    half.socket.write(encoded.subarray(0, 28 + MiB / 2));
    await sleep(20);
    half.destroy();
    const reads = await open('disk');
    for (let i = 0; i < 16; i++) reads.send({ flags: 0, type: Command.READ, offset: i * 65536, length: 65536 });
    reads.destroy();
    expect(await errnoOf(other, { flags: 0, type: Command.READ, offset: 0, length: 4096 })).toBe(0);
    other.disconnect();
    await other.closed;
    expect(writes(disk)).toBe(before);
    expect(disk.readSync(0, 4096).some((b) => b === 9)).toBe(false);
  });

  it('decodes requests split across packets and many per packet, and answers each cookie', async () => {
        const data = randomBytes(16384);
    const write = encodeRequest({ flags: 0, type: Command.WRITE, cookie: 100n, offset: 2 * MiB, length: data.length, data });
    const fresh = await open('disk', false);
    const pieces = [write.subarray(0, 3), write.subarray(3, 30), write.subarray(30, 5000), write.subarray(5000)];
    for (const piece of pieces) {
      fresh.socket.write(piece);
      await sleep(5);
    }
    expect(await fresh.reply()).toMatchObject({ kind: 'simple', cookie: 100n, error: 0 });
    expect(disk.readSync(2 * MiB, data.length).equals(data)).toBe(true);
    const many = Buffer.concat(Array.from({ length: 12 }, (_, i) => encodeRequest({ flags: 0, type: Command.READ, cookie: BigInt(200 + i), offset: 2 * MiB, length: 4096 })));
    for (let i = 0; i < 12; i++) fresh.expectRead(BigInt(200 + i), 4096);
    fresh.socket.write(many);
    const cookies: bigint[] = [];
    for (let i = 0; i < 12; i++) {
      const reply = await fresh.reply();
      if (reply.kind !== 'simple') throw new Error('simple replies were negotiated');
      expect(reply.error).toBe(0);
      expect(reply.data?.equals(data.subarray(0, 4096))).toBe(true);
      cookies.push(reply.cookie);
    }
    expect(cookies.sort()).toEqual(Array.from({ length: 12 }, (_, i) => BigInt(200 + i)));
    fresh.disconnect();
    await fresh.closed;
  });

  it('runs requests concurrently, answers out of order and caps requests in flight per connection', async () => {
    const client = await open('probe');
    const slow = deferred();
    probe.gate = (op, offset) => (op === 'read' && offset === 0 ? slow.promise : undefined);
    const first = client.send({ flags: 0, type: Command.READ, offset: 0, length: 4096 });
    const second = client.send({ flags: 0, type: Command.READ, offset: 4096, length: 4096 });
    expect((await client.reply()).cookie).toBe(second);
    slow.resolve();
    expect((await client.reply()).cookie).toBe(first);

    const hold = deferred();
    probe.maxActive = 0;
    probe.gate = (op) => (op === 'write' ? hold.promise : undefined);
    const cookies = Array.from({ length: 20 }, (_, i) => client.send({ flags: 0, type: Command.WRITE, offset: i * 4096, length: 4096, data: Buffer.alloc(4096, i + 1) }));
    await sleep(100);
    expect(probe.active).toBe(4); // the server's cap (limits.maxRequests = 4), not the 20 sent
    hold.resolve();
    const answered = new Set<bigint>();
    for (let i = 0; i < 20; i++) answered.add((await client.reply()).cookie);
    expect(answered).toEqual(new Set(cookies));
    expect(probe.maxActive).toBe(4);
    expect(probe.inner.readSync(19 * 4096, 4096).every((b) => b === 20)).toBe(true);
    probe.gate = () => {};
    client.disconnect();
    await client.closed;
  });

  it('answers requests in flight before closing on NBD_CMD_DISC', async () => {
    const client = await open('probe');
    const slow = deferred();
    probe.gate = (op) => (op === 'read' ? slow.promise : undefined);
    const cookie = client.send({ flags: 0, type: Command.READ, offset: 0, length: 4096 });
    client.disconnect();
    await sleep(20);
    slow.resolve();
    const replies = await whole(client);
    expect(replies[0]?.cookie).toBe(cookie);
    await client.closed;
    probe.gate = () => {};
  });
});
