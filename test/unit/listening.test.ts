import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV, loadLocalCloudConfig } from '../../lib/config.js';
import { AVAILABLE_PROTECTIONS, configuredProtections, isLoopbackHost, wideListeningProblems, wideListeningRefusal } from '../../lib/local/listening.js';
import { preparePrivateDataDir } from '../../lib/local/private-data-dir.js';

describe('listen host', () => {
  it('is loopback unless SLEDS_LISTEN_HOST says otherwise', () => {
    expect(loadLocalCloudConfig({}).listenHost).toBe('127.0.0.1');
    expect(loadLocalCloudConfig({ [ENV.listenHost]: ' 0.0.0.0 ' }).listenHost).toBe('0.0.0.0');
  });

  it('tells loopback from everything else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '', '10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com', '128.0.0.1', '::2']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });

  it('needs nothing on loopback, and SigV4 on the API and TLS on NBD beyond it', () => {
    expect(wideListeningProblems({ listenHost: '127.0.0.1' })).toEqual([]);
    expect(wideListeningProblems({ listenHost: '::1' })).toEqual([]);
    expect(wideListeningProblems({ listenHost: '0.0.0.0' })).toEqual([
      'SigV4 on the API (SLEDS_API_AUTH=sigv4)',
      'TLS on NBD (SLEDS_NBD_TLS=require with SLEDS_NBD_TLS_PSK_FILE)',
    ]);
    expect(wideListeningProblems({ listenHost: '10.0.0.1' }, { apiSigV4: true, nbdTls: false })).toEqual(['TLS on NBD (SLEDS_NBD_TLS=require with SLEDS_NBD_TLS_PSK_FILE)']);
    expect(wideListeningProblems({ listenHost: '10.0.0.1' }, { apiSigV4: true, nbdTls: true })).toEqual([]);
  });

  it('takes the protections from the settings: SigV4 on the API, and NBD TLS required (offered is not enough)', () => {
    expect(AVAILABLE_PROTECTIONS).toEqual({ apiSigV4: true, nbdTls: true });
    expect(configuredProtections({ mode: 'none' }, { mode: 'off' })).toEqual({ apiSigV4: false, nbdTls: false });
    expect(configuredProtections({ mode: 'sigv4' }, { mode: 'on' })).toEqual({ apiSigV4: true, nbdTls: false });
    expect(configuredProtections({ mode: 'sigv4' }, { mode: 'require' })).toEqual({ apiSigV4: true, nbdTls: true });
    const wide = { listenHost: '0.0.0.0' };
    expect(wideListeningProblems(wide, configuredProtections({ mode: 'sigv4' }, { mode: 'require' }))).toEqual([]);
    expect(wideListeningProblems(wide, configuredProtections({ mode: 'none' }, { mode: 'require' }))).toEqual(['SigV4 on the API (SLEDS_API_AUTH=sigv4)']);
  });

  it('refuses with a message that names the setting and what is missing', () => {
    expect(wideListeningRefusal({ listenHost: '127.0.0.1' })).toBeUndefined();
    expect(wideListeningRefusal({ listenHost: '0.0.0.0' })).toMatch(
      /^SLEDS_LISTEN_HOST=0\.0\.0\.0 needs SigV4 on the API \(SLEDS_API_AUTH=sigv4\) and TLS on NBD \(SLEDS_NBD_TLS=require with SLEDS_NBD_TLS_PSK_FILE\)/,
    );
  });
});

describe('private data directory', () => {
  it('is created 0700, and an existing one that others can read gets a warning', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sleds-private-'));
    try {
      const fresh = join(root, 'a', 'b');
      expect(await preparePrivateDataDir(fresh)).toBeUndefined();
      expect((await stat(fresh)).mode & 0o777).toBe(0o700);
      expect(await preparePrivateDataDir(fresh)).toBeUndefined();

      const shared = join(root, 'shared');
      await mkdir(shared);
      await chmod(shared, 0o755);
      expect(await preparePrivateDataDir(shared)).toMatch(/data directory .*shared is mode 755: other users may read its volumes/);
      expect((await stat(shared)).mode & 0o777).toBe(0o755);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
