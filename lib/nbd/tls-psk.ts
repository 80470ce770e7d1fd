/**
 * NBD over TLS with pre-shared keys, the way nbdkit does it (`--tls=require --tls-psk=FILE`):
 * the keys file is psktool's format (`identity:hexkey`, one a line), the client names its
 * identity in the TLS handshake and proves it holds that key; no certificates.
 */
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext, type TLSSocketOptions } from 'node:tls';
import type { TlsUpgrade } from './connection.js';

/** How the NBD server treats TLS: not offered, offered (STARTTLS), or required before anything else (FORCEDTLS). */
export type NbdTlsMode = 'off' | 'on' | 'require';
export const NBD_TLS_MODES: readonly NbdTlsMode[] = ['off', 'on', 'require'];

/** Identity → key, as read from a PSK file. */
export type PskKeys = ReadonlyMap<string, Buffer>;

/** OpenSSL's limits (PSK_MAX_IDENTITY_LEN, PSK_MAX_PSK_LEN). */
export const MAX_PSK_IDENTITY_LENGTH = 128;
export const MAX_PSK_BYTES = 256;

/**
 * The TLS 1.2 PSK suites offered (plain PSK and the forward-secret ECDHE/DHE-PSK ones), then the
 * TLS 1.3 suites: with TLS 1.3 an external PSK is used with a SHA-256 suite (OpenSSL's PSK
 * callbacks assume SHA-256), so TLS_AES_128_GCM_SHA256 and TLS_CHACHA20_POLY1305_SHA256 are listed.
 */
export const PSK_CIPHERS = [
  'ECDHE-PSK-CHACHA20-POLY1305',
  'ECDHE-PSK-AES256-CBC-SHA384',
  'ECDHE-PSK-AES128-CBC-SHA256',
  'DHE-PSK-AES256-GCM-SHA384',
  'DHE-PSK-AES128-GCM-SHA256',
  'DHE-PSK-CHACHA20-POLY1305',
  'PSK-AES256-GCM-SHA384',
  'PSK-AES128-GCM-SHA256',
  'PSK-CHACHA20-POLY1305',
  'TLS_AES_128_GCM_SHA256',
  'TLS_CHACHA20_POLY1305_SHA256',
].join(':');

/** A PSK file that cannot be used: missing, readable by others, or not in psktool's format. */
export class PskFileError extends Error {
  override readonly name = 'PskFileError';
}

/**
 * Parses psktool's format: `identity:hexkey` per line. Blank lines and lines starting with `#`
 * are skipped. Throws PskFileError naming the line for anything else, an empty identity, a key
 * that is not whole hex bytes, and an identity given twice.
 */
export function parsePskFile(text: string, source = 'the PSK file'): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source} line ${index + 1}`;
    const colon = line.lastIndexOf(':');
    if (colon < 0) throw new PskFileError(`${where} is not "identity:hexkey"`);
    const identity = line.slice(0, colon);
    const hex = line.slice(colon + 1);
    if (identity === '') throw new PskFileError(`${where} has an empty identity`);
    if (Buffer.byteLength(identity, 'utf8') > MAX_PSK_IDENTITY_LENGTH) throw new PskFileError(`${where}: the identity is longer than ${MAX_PSK_IDENTITY_LENGTH} bytes`);
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new PskFileError(`${where}: the key of "${identity}" is not hex bytes`);
    if (hex.length / 2 > MAX_PSK_BYTES) throw new PskFileError(`${where}: the key of "${identity}" is longer than ${MAX_PSK_BYTES} bytes`);
    if (keys.has(identity)) throw new PskFileError(`${where} gives "${identity}" a second key`);
    keys.set(identity, Buffer.from(hex, 'hex'));
  });
  if (keys.size === 0) throw new PskFileError(`${source} has no keys (psktool -u <identity> -p ${source} makes one)`);
  return keys;
}

/**
 * Reads and checks a PSK file at start-up: a regular file, readable by its owner only (0600 or
 * stricter; the keys are the passwords of every disk), in psktool's format.
 */
export async function loadPskFile(path: string): Promise<PskKeys> {
  let handle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PskFileError(`the PSK file ${path} does not exist (make one: psktool -u alice -p ${path})`);
    if (code === 'ELOOP') throw new PskFileError(`the PSK file ${path} is a symbolic link; name the file itself`);
    throw new PskFileError(`the PSK file ${path} cannot be read: ${(error as Error).message}`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new PskFileError(`the PSK file ${path} is not a regular file`);
    const mode = stats.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new PskFileError(
        `the PSK file ${path} is mode ${mode.toString(8).padStart(3, '0')}: other users may read the keys; chmod 600 ${path}`,
      );
    }
    return parsePskFile(await handle.readFile('utf8'), path);
  } finally {
    await handle.close();
  }
}

/** Options of pskTlsUpgrade. */
export interface PskUpgradeOptions {
  /** A client that does not finish the TLS handshake in this long is dropped (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** Highest TLS version (default TLSv1.3). */
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

// Node accepts pskCallback on a server-side TLSSocket; @types/node declares it only for tls.createServer.
type PskServerSocketOptions = TLSSocketOptions & { pskCallback: (socket: TLSSocket, identity: string) => Buffer | null };

/** The upgrade NBD_OPT_STARTTLS runs: a server-side TLS handshake that accepts the identities of `keys`. */
export function pskTlsUpgrade(keys: PskKeys, options: PskUpgradeOptions = {}): TlsUpgrade {
  const secureContext: SecureContext = createSecureContext({ ciphers: PSK_CIPHERS, minVersion: 'TLSv1.2', maxVersion: options.maxVersion ?? 'TLSv1.3' });
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  return (socket: Socket) =>
    new Promise<Socket>((resolve, reject) => {
      const tlsOptions: PskServerSocketOptions = {
        isServer: true,
        secureContext,
        pskCallback: (_socket, identity) => keys.get(identity) ?? null,
      };
      const secure = new TLSSocket(socket, tlsOptions);
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.destroy();
        socket.destroy();
        reject(new Error(`TLS handshake failed: ${error.message}`));
      };
      const closed = () => fail(new Error('the client closed the connection'));
      const timer = setTimeout(() => fail(new Error(`it took over ${timeoutMs} ms`)), timeoutMs);
      secure.once('error', fail);
      secure.once('close', closed);
      secure.once('secure', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.off('error', fail);
        secure.off('close', closed);
        resolve(secure);
      });
    });
}
