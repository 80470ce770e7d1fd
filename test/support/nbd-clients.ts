import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryBlockDevice, type MemoryDeviceOptions } from '../../lib/nbd/memory-device.js';
import { startNbdServer, type NbdServer } from '../../lib/nbd/nbd-server.js';
import type { NbdLogger } from '../../lib/nbd/ports.js';
import { StaticExportResolver, type StaticExport } from '../../lib/nbd/static-resolver.js';

/** A client binary and the Debian package that ships it. */
export interface ClientBinary {
  readonly binary: string;
  readonly debianPackage: string;
}

/** The real NBD clients the integration tests drive. */
export const CLIENTS = {
  nbdinfo: { binary: 'nbdinfo', debianPackage: 'libnbd-bin' },
  nbdcopy: { binary: 'nbdcopy', debianPackage: 'libnbd-bin' },
  qemuImg: { binary: 'qemu-img', debianPackage: 'qemu-utils' },
  qemuIo: { binary: 'qemu-io', debianPackage: 'qemu-utils' },
  fio: { binary: 'fio', debianPackage: 'fio' },
  nbdfuse: { binary: 'nbdfuse', debianPackage: 'libnbd-bin' },
  fuse2fs: { binary: 'fuse2fs', debianPackage: 'fuse2fs' },
  fusermount3: { binary: 'fusermount3', debianPackage: 'fuse3' },
  mkfsExt4: { binary: 'mkfs.ext4', debianPackage: 'e2fsprogs' },
  e2fsck: { binary: 'e2fsck', debianPackage: 'e2fsprogs' },
} as const satisfies Record<string, ClientBinary>;

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * describe() that needs client binaries. When one is missing: under CI=true the suite FAILS
 * with a message naming the Debian package; elsewhere it is skipped, with the reason in its title.
 */
export function describeWithClients(name: string, clients: readonly ClientBinary[], body: () => void): void {
  const missing = clients.filter((c) => !onPath(c.binary));
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const install = `apt-get install -y ${[...new Set(missing.map((c) => c.debianPackage))].join(' ')}`;
  const what = `${missing.map((c) => c.binary).join(', ')} not found on PATH (Debian: ${install})`;
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('has the NBD client binaries it needs', () => {
        throw new Error(`${what}. CI must install them; these tests never skip under CI.`);
      });
    });
    return;
  }
  describe.skip(`${name} [skipped: ${what}]`, body);
}

/** Result of running a client. */
export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a binary with a timeout; rejects with its stderr on a nonzero exit. */
export function run(binary: string, args: readonly string[], timeoutMs = 8_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(new Error(`${binary} ${args.join(' ')} failed: ${error.message}\n${stderr}`), { stdout, stderr, exitCode: error.code }));
      else resolve({ stdout, stderr });
    });
  });
}

/** Runs a binary with a timeout and resolves with its exit code and output, whatever it is. */
export function runStatus(binary: string, args: readonly string[], timeoutMs = 8_000): Promise<RunResult & { readonly code: number | string | null }> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error ? (error.code ?? null) : 0 });
    });
  });
}

/** Logs warnings into an array a test can inspect. */
export function recordingLogger(): NbdLogger & { readonly warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields ?? {})}`), debug: () => {} };
}

/** A server on 127.0.0.1 and a random port, serving the given exports; closed after the suite. */
export function useNbdServer(exports: () => StaticExport[]): { server(): NbdServer; uri(name: string): string } {
  let server: NbdServer | undefined;
  beforeAll(async () => {
    server = await startNbdServer({ host: '127.0.0.1', port: 0, resolver: new StaticExportResolver(exports()) });
  });
  afterAll(async () => {
    await server?.close();
  });
  const get = (): NbdServer => {
    if (!server) throw new Error('the NBD server has not started');
    return server;
  };
  return { server: get, uri: (name) => `nbd://127.0.0.1:${get().port}/${name}` };
}

/** A memory device with the defaults the tests use (4 KiB minimum, 1 MiB preferred, 32 MiB max). */
export function memoryDevice(size: number, options: Omit<MemoryDeviceOptions, 'size'> = {}): MemoryBlockDevice {
  return new MemoryBlockDevice({ size, ...options });
}
