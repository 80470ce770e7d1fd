import type { Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket, type TLSSocketOptions } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { Command, Option, OptionReply } from '../../lib/nbd/constants.js';
import { MemoryBlockDevice } from '../../lib/nbd/memory-device.js';
import { startNbdServer } from '../../lib/nbd/nbd-server.js';
import { StaticExportResolver } from '../../lib/nbd/static-resolver.js';
import { goData, RawNbdClient } from '../support/nbd-raw-client.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const CIPHERS = 'PSK-AES128-GCM-SHA256';

// A TLS-PSK upgrade as a later task may write it; here it proves the connection can be
// handed to a tls.TLSSocket in the middle of option haggling.
async function upgradeWithPsk(socket: Socket): Promise<Socket> {
  // Node accepts pskCallback on a server-side TLSSocket; @types/node only declares it for tls.createServer.
  const options: TLSSocketOptions & { pskCallback: (socket: TLSSocket, identity: string) => Buffer | null } = {
    isServer: true,
    secureContext: createSecureContext({ ciphers: CIPHERS, maxVersion: 'TLSv1.2' }),
    pskCallback: (_socket, identity) => (identity === 'alice' ? KEY : null),
  };
  const secure = new TLSSocket(socket, options);
  await new Promise<void>((resolve, reject) => {
    secure.once('secure', () => resolve());
    secure.once('error', reject);
  });
  return secure;
}

describe('NBD_OPT_STARTTLS through the upgrade hook', () => {
  it('upgrades the connection mid-negotiation, forgets earlier state and serves over TLS', async () => {
    const device = new MemoryBlockDevice({ size: 1 << 20 });
    await device.write(0, Buffer.alloc(4096, 0x42), { fua: false });
    const server = await startNbdServer({ resolver: new StaticExportResolver([{ name: 'disk', device }]), tlsUpgrade: upgradeWithPsk });
    try {
      const client = await RawNbdClient.connect(server.port);
      await client.handshake();
      expect((await client.option(Option.STRUCTURED_REPLY))[0]?.type).toBe(OptionReply.ACK);
      expect((await client.option(Option.STARTTLS, Buffer.from('x')))[0]?.type).toBe(OptionReply.ERR_INVALID);
      expect((await client.option(Option.STARTTLS))[0]?.type).toBe(OptionReply.ACK);
      client.source.detach(); // the TLS layer reads the raw socket from here
      const secure = tlsConnect({
        socket: client.socket,
        ciphers: CIPHERS,
        maxVersion: 'TLSv1.2',
        checkServerIdentity: () => undefined,
        pskCallback: () => ({ identity: 'alice', psk: KEY }),
      });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', reject);
      });
      client.switchTo(secure);
      expect((await client.option(Option.STARTTLS))[0]?.type).toBe(OptionReply.ERR_INVALID);
      expect((await client.option(Option.GO, goData('disk'))).at(-1)?.type).toBe(OptionReply.ACK);
      // Structured replies were negotiated before TLS, so they are off now: a simple reply comes back.
      const cookie = client.send({ flags: 0, type: Command.READ, offset: 0, length: 4096 });
      const reply = await client.reply();
      expect(reply).toMatchObject({ kind: 'simple', cookie, error: 0 });
      expect(reply.kind === 'simple' && reply.data?.every((b) => b === 0x42)).toBe(true);
      client.disconnect();
      await new Promise((resolve) => secure.once('close', resolve));
    } finally {
      await server.close();
    }
  });

  it('refuses STARTTLS with NBD_REP_ERR_UNSUP when no upgrade is configured', async () => {
    const server = await startNbdServer({ resolver: new StaticExportResolver([]) });
    try {
      const client = await RawNbdClient.connect(server.port);
      await client.handshake();
      expect((await client.option(Option.STARTTLS))[0]?.type).toBe(OptionReply.ERR_UNSUP);
      client.destroy();
    } finally {
      await server.close();
    }
  });
});
