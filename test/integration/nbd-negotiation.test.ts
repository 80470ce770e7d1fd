import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command, HandshakeFlag, InfoType, Option, OptionReply } from '../../lib/nbd/constants.js';
import { MemoryBlockDevice } from '../../lib/nbd/memory-device.js';
import { startNbdServer, type NbdServer } from '../../lib/nbd/nbd-server.js';
import { StaticExportResolver } from '../../lib/nbd/static-resolver.js';
import { goData, metaContextData, RawNbdClient } from '../support/nbd-raw-client.js';

const MiB = 1024 * 1024;

describe('NBD negotiation: good and bad handshakes (raw protocol client)', () => {
  const device = new MemoryBlockDevice({ size: 4 * MiB });
  let server: NbdServer;
  beforeAll(async () => {
    server = await startNbdServer({
      resolver: new StaticExportResolver([
        { name: 'disk', description: 'the disk', device },
        { name: 'busy', refusal: { reason: 'unavailable', message: 'Volume busy is attaching; try again later.' } },
      ]),
    });
  });
  afterAll(async () => server.close());

  async function stillServes(): Promise<void> {
    const client = await RawNbdClient.connect(server.port);
    const replies = await client.go('disk');
    expect(replies.at(-1)?.type).toBe(OptionReply.ACK);
    const cookie = client.send({ flags: 0, type: Command.READ, offset: 0, length: 4096 });
    const reply = await client.reply();
    expect(reply).toMatchObject({ kind: 'simple', cookie, error: 0 });
    client.disconnect();
    await client.closed;
  }

  function unchanged(): void {
    expect(device.counters.writes + device.counters.zeroes + device.counters.trims).toBe(0);
  }

  it('greets with fixed newstyle and no-zeroes, and GO returns export info and block sizes', async () => {
    const client = await RawNbdClient.connect(server.port);
    const { handshakeFlags } = await client.handshake();
    expect(handshakeFlags).toBe(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
    const info = await client.option(Option.INFO, goData('disk', [InfoType.NAME, InfoType.DESCRIPTION, InfoType.BLOCK_SIZE]));
    expect(info.at(-1)?.type).toBe(OptionReply.ACK);
    const byInfo = new Map(info.filter((r) => r.type === OptionReply.INFO).map((r) => [r.data.readUInt16BE(0), r.data]));
    expect(Number(byInfo.get(InfoType.EXPORT)?.readBigUInt64BE(2))).toBe(4 * MiB);
    expect(byInfo.get(InfoType.NAME)?.toString('utf8', 2)).toBe('disk');
    expect(byInfo.get(InfoType.DESCRIPTION)?.toString('utf8', 2)).toBe('the disk');
    const sizes = byInfo.get(InfoType.BLOCK_SIZE) as Buffer;
    expect([sizes.readUInt32BE(2), sizes.readUInt32BE(6), sizes.readUInt32BE(10)]).toEqual([4096, MiB, 32 * MiB]);
    const go = await client.option(Option.GO, goData('disk'));
    expect(go.at(-1)?.type).toBe(OptionReply.ACK);
    client.disconnect();
    await client.closed;
  });

  it('answers an unknown export with NBD_REP_ERR_UNKNOWN and keeps negotiating', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    const go = await client.option(Option.GO, goData('nope'));
    expect(go).toHaveLength(1);
    expect(go[0]?.type).toBe(OptionReply.ERR_UNKNOWN);
    expect(go[0]?.data.toString()).toContain('"nope"');
    const list = await client.option(Option.LIST);
    expect(list.filter((r) => r.type === OptionReply.SERVER)).toHaveLength(2);
    const abort = await client.option(Option.ABORT);
    expect(abort[0]?.type).toBe(OptionReply.ACK);
    await client.closed;
    await stillServes();
  });

  it('answers an export that is not available with NBD_REP_ERR_POLICY and its reason', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    const go = await client.option(Option.GO, goData('busy'));
    expect(go[0]?.type).toBe(OptionReply.ERR_POLICY);
    expect(go[0]?.data.toString()).toBe('Volume busy is attaching; try again later.');
    client.destroy();
  });

  it('drops a client that asks for an unknown export with NBD_OPT_EXPORT_NAME (it cannot be told)', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    client.sendOption(Option.EXPORT_NAME, Buffer.from('nope'));
    await client.closed;
    expect(client.source.queue.length).toBe(0);
    await stillServes();
  });

  it('serves NBD_OPT_EXPORT_NAME without the 124 zero bytes when NO_ZEROES was agreed', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    client.sendOption(Option.EXPORT_NAME, Buffer.from('disk'));
    const reply = await client.read(10);
    expect(Number(reply.readBigUInt64BE(0))).toBe(4 * MiB);
    const cookie = client.send({ flags: 0, type: Command.READ, offset: 4096, length: 4096 });
    const read = await client.reply();
    expect(read).toMatchObject({ kind: 'simple', cookie, error: 0 });
    client.disconnect();
    await client.closed;
  });

  it('drops a client that sends garbage instead of a handshake, and keeps serving others', async () => {
    for (const garbage of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(64, 0xff)]) {
      const client = await RawNbdClient.connect(server.port);
      await client.read(18);
      client.socket.write(garbage);
      await client.closed;
    }
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    client.socket.write(Buffer.from('this is not IHAVEOPT at all'));
    await client.closed;
    await stillServes();
    unchanged();
  });

  it('refuses unsupported options with NBD_REP_ERR_UNSUP (STARTTLS too, for now)', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    expect((await client.option(99, Buffer.from('payload')))[0]?.type).toBe(OptionReply.ERR_UNSUP);
    expect((await client.option(Option.STARTTLS))[0]?.type).toBe(OptionReply.ERR_UNSUP);
    expect((await client.option(Option.LIST, Buffer.from('x')))[0]?.type).toBe(OptionReply.ERR_INVALID);
    expect((await client.option(Option.GO, Buffer.from([0, 0, 0, 9, 1])))[0]?.type).toBe(OptionReply.ERR_INVALID);
    client.destroy();
  });

  it('negotiates base:allocation only after structured replies', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    expect((await client.option(Option.SET_META_CONTEXT, metaContextData('disk', ['base:allocation'])))[0]?.type).toBe(OptionReply.ERR_INVALID);
    expect((await client.option(Option.STRUCTURED_REPLY))[0]?.type).toBe(OptionReply.ACK);
    const listed = await client.option(Option.LIST_META_CONTEXT, metaContextData('disk', ['base:']));
    expect(listed.map((r) => r.type)).toEqual([OptionReply.META_CONTEXT, OptionReply.ACK]);
    expect(listed[0]?.data.toString('utf8', 4)).toBe('base:allocation');
    const ignored = await client.option(Option.SET_META_CONTEXT, metaContextData('disk', ['qemu:dirty-bitmap:x', 'base:']));
    expect(ignored.map((r) => r.type)).toEqual([OptionReply.ACK]);
    const set = await client.option(Option.SET_META_CONTEXT, metaContextData('disk', ['base:allocation']));
    expect(set.map((r) => r.type)).toEqual([OptionReply.META_CONTEXT, OptionReply.ACK]);
    client.destroy();
  });
});
