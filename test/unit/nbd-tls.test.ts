import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV, loadNbdTlsConfig } from '../../lib/config.js';
import { diskUrl, loadDiskServerTls } from '../../lib/disks/disk-server.js';
import { Option } from '../../lib/nbd/constants.js';
import { loadPskFile, parsePskFile, PskFileError } from '../../lib/nbd/tls-psk.js';
import { tlsGate } from '../../lib/nbd/tls-policy.js';

const KEY = '00112233445566778899aabbccddeeff';

describe('parsePskFile (psktool format)', () => {
  it('reads identity:hexkey lines, skipping blank and # lines', () => {
    const keys = parsePskFile(`# made by psktool\nalice:${KEY}\n\n  bob:${KEY.toUpperCase()}  \r\n`);
    expect([...keys.keys()]).toEqual(['alice', 'bob']);
    expect(keys.get('alice')?.toString('hex')).toBe(KEY);
    expect(keys.get('bob')?.toString('hex')).toBe(KEY);
  });

  it('takes the key after the last colon, so an identity may hold colons', () => {
    expect([...parsePskFile(`host:disk:${KEY}`).keys()]).toEqual(['host:disk']);
  });

  it('refuses what is not psktool format, naming the line', () => {
    expect(() => parsePskFile(`alice:${KEY}\nbob`, 'keys.psk')).toThrow(new PskFileError('keys.psk line 2 is not "identity:hexkey"'));
    expect(() => parsePskFile(`:${KEY}`)).toThrow(/line 1 has an empty identity/);
    expect(() => parsePskFile('alice:xyz0')).toThrow(/the key of "alice" is not hex bytes/);
    expect(() => parsePskFile('alice:abc')).toThrow(/not hex bytes/);
    expect(() => parsePskFile('alice:')).toThrow(/not hex bytes/);
    expect(() => parsePskFile(`alice:${'00'.repeat(257)}`)).toThrow(/longer than 256 bytes/);
    expect(() => parsePskFile(`${'a'.repeat(129)}:${KEY}`)).toThrow(/identity is longer than 128 bytes/);
    expect(() => parsePskFile(`alice:${KEY}\nalice:${KEY}`)).toThrow(/line 2 gives "alice" a second key/);
    expect(() => parsePskFile('# nothing\n\n', 'keys.psk')).toThrow(/keys.psk has no keys/);
  });
});

describe('loadPskFile: checked at start-up', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleds-psk-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a private file (0600, 0400)', async () => {
    const path = join(dir, 'ok.psk');
    await writeFile(path, `alice:${KEY}\n`, { mode: 0o600 });
    expect([...(await loadPskFile(path)).keys()]).toEqual(['alice']);
    await chmod(path, 0o400);
    expect((await loadPskFile(path)).get('alice')?.toString('hex')).toBe(KEY);
  });

  it('refuses a file others may read, a missing file, a directory and a symbolic link', async () => {
    const shared = join(dir, 'shared.psk');
    await writeFile(shared, `alice:${KEY}\n`, { mode: 0o600 });
    await chmod(shared, 0o644);
    await expect(loadPskFile(shared)).rejects.toThrow(`the PSK file ${shared} is mode 644: other users may read the keys; chmod 600 ${shared}`);
    await chmod(shared, 0o640);
    await expect(loadPskFile(shared)).rejects.toThrow(/mode 640/);
    await expect(loadPskFile(join(dir, 'missing.psk'))).rejects.toThrow(/does not exist \(make one: psktool -u alice -p /);
    await expect(loadPskFile(dir)).rejects.toThrow(PskFileError);
    const link = join(dir, 'link.psk');
    await writeFile(join(dir, 'target.psk'), `alice:${KEY}\n`, { mode: 0o600 });
    await symlink(join(dir, 'target.psk'), link);
    await expect(loadPskFile(link)).rejects.toThrow(/symbolic link/);
  });

  it('refuses a private file that does not parse', async () => {
    const path = join(dir, 'bad.psk');
    await writeFile(path, 'alice\n', { mode: 0o600 });
    await expect(loadPskFile(path)).rejects.toThrow(`${path} line 1 is not "identity:hexkey"`);
  });

  it('loadDiskServerTls turns the settings into keys, or a ConfigError naming the setting', async () => {
    expect(await loadDiskServerTls({ mode: 'off' })).toBeUndefined();
    const path = join(dir, 'server.psk');
    await writeFile(path, `alice:${KEY}\n`, { mode: 0o600 });
    const tls = await loadDiskServerTls({ mode: 'require', pskFile: path });
    expect(tls?.mode).toBe('require');
    expect(diskUrl('127.0.0.1', 10809, 'vol-1', tls)).toBe(`nbds://alice@127.0.0.1:10809/vol-1?tls-psk-file=${path}`);
    expect(diskUrl('::1', 10809, 'vol-1')).toBe('nbd://[::1]:10809/vol-1');
    await expect(loadDiskServerTls({ mode: 'on', pskFile: join(dir, 'none.psk') })).rejects.toThrow(/^SLEDS_NBD_TLS_PSK_FILE: the PSK file .* does not exist/);
  });
});

describe('the TLS policy per option (NBD spec, TLS modes)', () => {
  const options = Object.values(Option);

  it('NOTLS and TLS offered: every option proceeds', () => {
    for (const option of [...options, 99]) expect(tlsGate(option, false, false)).toBe('proceed');
  });

  it('FORCEDTLS before STARTTLS: only STARTTLS and ABORT proceed, EXPORT_NAME ends the session, the rest get NBD_REP_ERR_TLS_REQD', () => {
    const gates = Object.fromEntries(Object.entries(Option).map(([name, option]) => [name, tlsGate(option, true, false)]));
    expect(gates).toEqual({
      EXPORT_NAME: 'end',
      ABORT: 'proceed',
      LIST: 'tls-required',
      STARTTLS: 'proceed',
      INFO: 'tls-required',
      GO: 'tls-required',
      STRUCTURED_REPLY: 'tls-required',
      LIST_META_CONTEXT: 'tls-required',
      SET_META_CONTEXT: 'tls-required',
    });
    expect(tlsGate(99, true, false)).toBe('tls-required');
  });

  it('FORCEDTLS after STARTTLS: every option proceeds', () => {
    for (const option of [...options, 99]) expect(tlsGate(option, true, true)).toBe('proceed');
  });
});

describe('loadNbdTlsConfig (SLEDS_NBD_TLS, SLEDS_NBD_TLS_PSK_FILE)', () => {
  it('is off by default and takes on and require with a PSK file', () => {
    expect(loadNbdTlsConfig({})).toEqual({ mode: 'off' });
    expect(loadNbdTlsConfig({ [ENV.nbdTls]: 'off' })).toEqual({ mode: 'off' });
    expect(loadNbdTlsConfig({ [ENV.nbdTls]: 'on', [ENV.nbdTlsPskFile]: '/k.psk' })).toEqual({ mode: 'on', pskFile: '/k.psk' });
    expect(loadNbdTlsConfig({ [ENV.nbdTls]: 'require', [ENV.nbdTlsPskFile]: '/k.psk' })).toEqual({ mode: 'require', pskFile: '/k.psk' });
  });

  it('refuses an unknown mode, TLS without a PSK file, and a PSK file without TLS', () => {
    expect(() => loadNbdTlsConfig({ [ENV.nbdTls]: 'yes' })).toThrow('SLEDS_NBD_TLS must be one of off, on, require, got "yes"');
    expect(() => loadNbdTlsConfig({ [ENV.nbdTls]: 'require' })).toThrow(/^SLEDS_NBD_TLS=require needs SLEDS_NBD_TLS_PSK_FILE/);
    expect(() => loadNbdTlsConfig({ [ENV.nbdTlsPskFile]: '/k.psk' })).toThrow('SLEDS_NBD_TLS_PSK_FILE needs SLEDS_NBD_TLS=on or require');
  });
});
