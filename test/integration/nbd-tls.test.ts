/**
 * NBD with TLS and a pre-shared key, as nbdkit's `--tls=require --tls-psk=FILE`: a plain client
 * is refused (NBD_REP_ERR_TLS_REQD), nbdinfo with the right key gets the disk over TLS 1.2 and
 * TLS 1.3, a wrong key fails the handshake.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskUrl } from '../../lib/disks/disk-server.js';
import { Option, OptionReply } from '../../lib/nbd/constants.js';
import { startNbdServer, type NbdServer } from '../../lib/nbd/nbd-server.js';
import { StaticExportResolver } from '../../lib/nbd/static-resolver.js';
import { loadPskFile, PSK_CIPHERS, pskTlsUpgrade, type PskKeys } from '../../lib/nbd/tls-psk.js';
import { CLIENTS, describeWithClients, memoryDevice, recordingLogger, run, runStatus } from '../support/nbd-clients.js';
import { goData, RawNbdClient } from '../support/nbd-raw-client.js';

const MiB = 1024 * 1024;
const SIZE = 3 * MiB;

interface Fixture {
  dir: string;
  keysFile: string;
  wrongFile: string;
  keys: PskKeys;
}

async function pskFiles(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sleds-nbd-tls-'));
  const keysFile = join(dir, 'keys.psk');
  const wrongFile = join(dir, 'wrong.psk');
  // psktool's format; the second identity proves lookups go by identity.
  await writeFile(keysFile, `alice:${randomBytes(32).toString('hex')}\nbob:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  await writeFile(wrongFile, `alice:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return { dir, keysFile, wrongFile, keys: await loadPskFile(keysFile) };
}

/** What each upgraded connection negotiated: "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256". */
const negotiated: string[] = [];

function startTlsServer(keys: PskKeys, mode: 'on' | 'require', maxVersion: 'TLSv1.2' | 'TLSv1.3', logger = recordingLogger()): Promise<NbdServer> {
  const upgrade = pskTlsUpgrade(keys, { maxVersion });
  return startNbdServer({
    resolver: new StaticExportResolver([{ name: 'disk', device: memoryDevice(SIZE) }]),
    tlsUpgrade: async (socket) => {
      const secure = (await upgrade(socket)) as TLSSocket;
      negotiated.push(`${secure.getProtocol()} ${secure.getCipher().name}`);
      return secure;
    },
    requireTls: mode === 'require',
    logger,
  });
}

describe('FORCEDTLS on the wire (raw client)', () => {
  let fixture: Fixture;
  let server: NbdServer;
  beforeAll(async () => {
    fixture = await pskFiles();
    server = await startTlsServer(fixture.keys, 'require', 'TLSv1.3');
  });
  afterAll(async () => {
    await server?.close();
    if (fixture) await rm(fixture.dir, { recursive: true, force: true });
  });

  it('answers GO, INFO, LIST and STRUCTURED_REPLY with NBD_REP_ERR_TLS_REQD before TLS, and serves GO after STARTTLS', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    for (const [option, data] of [
      [Option.GO, goData('disk')],
      [Option.INFO, goData('disk')],
      [Option.LIST, undefined],
      [Option.STRUCTURED_REPLY, undefined],
      [Option.SET_META_CONTEXT, Buffer.alloc(8)],
      [99, Buffer.from('unknown')],
    ] as const) {
      const replies = await client.option(option, data);
      expect(replies.map((reply) => reply.type), `option ${option}`).toEqual([OptionReply.ERR_TLS_REQD]);
    }
    expect((await client.option(Option.STARTTLS))[0]?.type).toBe(OptionReply.ACK);
    client.source.detach();
    const secure = tlsConnect({
      socket: client.socket,
      ciphers: PSK_CIPHERS,
      checkServerIdentity: () => undefined,
      pskCallback: () => ({ identity: 'bob', psk: fixture.keys.get('bob')! }),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    client.switchTo(secure);
    const replies = await client.option(Option.GO, goData('disk'));
    expect(replies.at(-1)?.type).toBe(OptionReply.ACK);
    expect(replies[0]?.data.readBigUInt64BE(2)).toBe(BigInt(SIZE));
    client.disconnect();
    await new Promise((resolve) => secure.once('close', resolve));
  });

  it('ends the session on NBD_OPT_EXPORT_NAME before TLS (it has no error reply)', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    client.sendOption(Option.EXPORT_NAME, Buffer.from('disk'));
    await client.closed;
  });

  it('acknowledges NBD_OPT_ABORT before TLS', async () => {
    const client = await RawNbdClient.connect(server.port);
    await client.handshake();
    expect((await client.option(Option.ABORT))[0]?.type).toBe(OptionReply.ACK);
    await client.closed;
  });
});

describeWithClients('nbdinfo against a TLS-PSK export', [CLIENTS.nbdinfo], () => {
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await pskFiles();
  });
  afterAll(async () => {
    if (fixture) await rm(fixture.dir, { recursive: true, force: true });
  });

  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`requires TLS: plain nbdinfo is refused, the right PSK gets the disk, a wrong PSK fails the handshake (server up to ${maxVersion})`, async () => {
      const logger = recordingLogger();
      const server = await startTlsServer(fixture.keys, 'require', maxVersion, logger);
      try {
        const plain = await runStatus('nbdinfo', ['--size', `nbd://127.0.0.1:${server.port}/disk`]);
        expect(plain.code).not.toBe(0);
        expect(plain.stderr).toMatch(/server requires TLS/i);

        const tls = { mode: 'require' as const, keys: fixture.keys, pskFile: fixture.keysFile };
        const uri = diskUrl('127.0.0.1', server.port, 'disk', tls);
        expect(uri).toBe(`nbds://alice@127.0.0.1:${server.port}/disk?tls-psk-file=${fixture.keysFile}`);
        negotiated.length = 0;
        expect((await run('nbdinfo', ['--size', uri])).stdout.trim()).toBe(String(SIZE));
        // libnbd's gnutls takes TLS 1.3 when offered (an external PSK on a SHA-256 suite), else a TLS 1.2 PSK suite.
        expect(negotiated).toHaveLength(1);
        expect(negotiated[0]).toMatch(maxVersion === 'TLSv1.3' ? /^TLSv1\.3 TLS_(AES_128_GCM|CHACHA20_POLY1305)_SHA256$/ : /^TLSv1\.2 \S*PSK\S*$/);
        // Every identity of the file works, each with its own key.
        const bob = uri.replace('nbds://alice@', 'nbds://bob@');
        const info = JSON.parse((await run('nbdinfo', ['--json', bob])).stdout).exports[0];
        expect(info).toMatchObject({ 'export-size': SIZE, is_read_only: false });

        const wrong = await runStatus('nbdinfo', ['--size', uri.replace(fixture.keysFile, fixture.wrongFile)]);
        expect(wrong.code).not.toBe(0);
        expect(wrong.stderr).toMatch(/gnutls_handshake|TLS/);
        expect(wrong.stdout).toBe('');
        // An identity the server does not know fails the same way.
        const stranger = join(fixture.dir, 'stranger.psk');
        await writeFile(stranger, `mallory:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
        const unknown = await runStatus('nbdinfo', ['--size', `nbds://mallory@127.0.0.1:${server.port}/disk?tls-psk-file=${stranger}`]);
        expect(unknown.code).not.toBe(0);
        expect(logger.warnings.some((warning) => warning.includes('TLS handshake failed'))).toBe(true);
      } finally {
        await server.close();
      }
    });
  }

  it('offers TLS (SLEDS_NBD_TLS=on): plain and TLS clients both get the disk', async () => {
    const server = await startTlsServer(fixture.keys, 'on', 'TLSv1.3');
    try {
      expect((await run('nbdinfo', ['--size', `nbd://127.0.0.1:${server.port}/disk`])).stdout.trim()).toBe(String(SIZE));
      const uri = `nbds://alice@127.0.0.1:${server.port}/disk?tls-psk-file=${fixture.keysFile}`;
      expect((await run('nbdinfo', ['--size', uri])).stdout.trim()).toBe(String(SIZE));
    } finally {
      await server.close();
    }
  });
});
