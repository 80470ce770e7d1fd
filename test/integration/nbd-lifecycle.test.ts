import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MisalignedIoError } from '../../lib/errors.js';
import { Command, CommandFlag, Errno, Option, OptionReply } from '../../lib/nbd/constants.js';
import { NbdIoError } from '../../lib/nbd/errors.js';
import { MemoryBlockDevice } from '../../lib/nbd/memory-device.js';
import { startNbdServer } from '../../lib/nbd/nbd-server.js';
import type { BlockDevice, ExportOpening, ExportResolver } from '../../lib/nbd/ports.js';
import { deferred, ProbeDevice } from '../support/nbd-probe-device.js';
import { chunkErrno, chunkMessage, goData, RawNbdClient } from '../support/nbd-raw-client.js';
import { recordingLogger } from '../support/nbd-clients.js';

const MiB = 1024 * 1024;

/** A device whose reads fail with a given error and whose fast zeroes are refused. */
class FailingDevice extends MemoryBlockDevice {
  failure: unknown = new Error('sled unreachable');
  override async read(): Promise<Buffer> {
    throw this.failure;
  }
  override async zero(offset: number, length: number, options: { fua: boolean; noHole: boolean; fastZero: boolean }): Promise<void> {
    if (options.fastZero || offset === 2 * MiB) throw new NbdIoError(Errno.ENOTSUP, 'Zeroing here is no faster than writing.');
    return super.zero(offset, length, options);
  }
}

/** Counts opens and closes, and can fail an open. */
class CountingResolver implements ExportResolver {
  opens = 0;
  closes = 0;
  constructor(private readonly make: () => BlockDevice) {}
  async list() {
    return [{ name: 'disk' }];
  }
  async open(name: string): Promise<ExportOpening> {
    if (name === 'explode') throw new Error('metadata table unreachable');
    if (name !== 'disk') return { kind: 'refused', reason: 'unknown', message: 'no' };
    this.opens += 1;
    const device = this.make();
    device.close = async () => {
      this.closes += 1;
    };
    return { kind: 'opened', device };
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(10);
  expect(condition()).toBe(true);
}

describe('NBD server lifecycle and device errors', () => {
  it('answers device errors with their NBD error value and message, and the connection goes on', async () => {
    const device = new FailingDevice({ size: 4 * MiB });
    const logger = recordingLogger();
    const server = await startNbdServer({ resolver: new CountingResolver(() => device), logger });
    try {
      const client = await RawNbdClient.connect(server.port);
      await client.go('disk', { structured: true });
      client.send({ flags: 0, type: Command.READ, offset: 0, length: 4096 });
      const eio = await client.reply();
      expect([chunkErrno(eio), chunkMessage(eio)]).toEqual([Errno.EIO, 'sled unreachable']);
      device.failure = new MisalignedIoError('offset must be a multiple of 4096');
      client.send({ flags: 0, type: Command.READ, offset: 0, length: 4096 });
      expect(chunkErrno(await client.reply())).toBe(Errno.EINVAL);
      client.send({ flags: CommandFlag.FAST_ZERO, type: Command.WRITE_ZEROES, offset: 0, length: MiB });
      expect(chunkErrno(await client.reply())).toBe(Errno.ENOTSUP);
      client.send({ flags: 0, type: Command.WRITE_ZEROES, offset: 0, length: MiB });
      expect(chunkErrno(await client.reply())).toBe(0);
      // Without FAST_ZERO the spec forbids ENOTSUP: the device's ENOTSUP becomes EIO.
      client.send({ flags: 0, type: Command.WRITE_ZEROES, offset: 2 * MiB, length: MiB });
      expect(chunkErrno(await client.reply())).toBe(Errno.EIO);
      expect(logger.warnings.some((w) => w.includes('sled unreachable'))).toBe(true);
      client.disconnect();
      await client.closed;
    } finally {
      await server.close();
    }
  });

  it('opens a device per GO and per INFO, and closes each when done; a failing open is refused, not fatal', async () => {
    const resolver = new CountingResolver(() => new MemoryBlockDevice({ size: MiB }));
    const server = await startNbdServer({ resolver });
    try {
      const client = await RawNbdClient.connect(server.port);
      await client.handshake();
      const failed = await client.option(Option.GO, goData('explode'));
      expect(failed[0]?.type).toBe(OptionReply.ERR_POLICY);
      expect(failed[0]?.data.toString()).toContain('metadata table unreachable');
      expect((await client.option(Option.INFO, goData('disk'))).at(-1)?.type).toBe(OptionReply.ACK);
      expect([resolver.opens, resolver.closes]).toEqual([1, 1]);
      expect((await client.option(Option.GO, goData('disk'))).at(-1)?.type).toBe(OptionReply.ACK);
      expect([resolver.opens, resolver.closes]).toEqual([2, 1]);
      client.destroy();
      await until(() => resolver.closes === 2);
    } finally {
      await server.close();
    }
  });

  it('close() lets requests in flight finish, answers them, then ends every connection', async () => {
    const probe = new ProbeDevice(new MemoryBlockDevice({ size: MiB }));
    const server = await startNbdServer({ resolver: new CountingResolver(() => probe) });
    const busy = await RawNbdClient.connect(server.port);
    await busy.go('disk');
    const idle = await RawNbdClient.connect(server.port);
    await idle.handshake(); // still negotiating
    const gate = deferred();
    probe.gate = () => gate.promise;
    const cookie = busy.send({ flags: 0, type: Command.WRITE, offset: 0, length: 4096, data: Buffer.alloc(4096, 4) });
    await until(() => probe.active === 1);
    const closing = server.close();
    await idle.closed;
    gate.resolve();
    expect(await busy.reply()).toMatchObject({ kind: 'simple', cookie, error: 0 });
    await busy.closed;
    await closing;
    expect(probe.inner.readSync(0, 4096).every((b) => b === 4)).toBe(true);
  });

  it('a protocol violation on one connection leaves another connection’s requests in flight alone', async () => {
    const probe = new ProbeDevice(new MemoryBlockDevice({ size: MiB }));
    const server = await startNbdServer({ resolver: new CountingResolver(() => probe) });
    try {
      const good = await RawNbdClient.connect(server.port);
      await good.go('disk');
      const bad = await RawNbdClient.connect(server.port);
      await bad.go('disk');
      const gate = deferred();
      probe.gate = () => gate.promise;
      const cookie = good.send({ flags: 0, type: Command.READ, offset: 0, length: 4096 });
      bad.socket.write(Buffer.alloc(28, 0xab)); // not a request
      await bad.closed;
      gate.resolve();
      expect(await good.reply()).toMatchObject({ kind: 'simple', cookie, error: 0 });
      good.disconnect();
      await good.closed;
    } finally {
      await server.close();
    }
  });
});
