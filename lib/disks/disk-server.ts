/**
 * Serves every Sleds volume (and completed snapshot) as an NBD disk from this process, over
 * the process's services: one VolumeDataService, so one cached head per partition for all
 * connections.
 */
import { resolve } from 'node:path';
import type { NbdTlsConfig } from '../config.js';
import { ConfigError, SledsError } from '../errors.js';
import { startNbdServer, type NbdServer } from '../nbd/nbd-server.js';
import { log } from '../observability/logger.js';
import type { NbdLogger } from '../nbd/ports.js';
import { loadPskFile, PskFileError, pskTlsUpgrade, type PskKeys } from '../nbd/tls-psk.js';
import type { SnapshotService } from '../snapshots/snapshot-service.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { VolumeDataService } from '../notes/volume-data-service.js';
import { DiskExportResolver, type DiskCatalog } from './disk-resolver.js';
import { VolumeDataDisk } from './volume-data-disk.js';

/** The services a disk server needs (lib/wiring.ts Services has them). */
export interface DiskServices {
  readonly volumes: Pick<VolumeService, 'get' | 'list'>;
  readonly data: Pick<VolumeDataService, 'read' | 'write' | 'zero' | 'allocation'>;
  readonly snapshots: Pick<SnapshotService, 'get' | 'list' | 'read'>;
}

/** TLS of a disk server: offered (`on`) or required (`require`), with the keys of a PSK file. */
export interface DiskServerTls {
  readonly mode: 'on' | 'require';
  readonly keys: PskKeys;
  /** The PSK file the keys came from (for the nbds:// example). */
  readonly pskFile: string;
}

export interface DiskServerOptions {
  /** Beyond loopback only with TLS required (lib/local/listening.ts); the caller checks. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly logger?: NbdLogger;
  /** TLS with pre-shared keys; plain NBD (NOTLS) when absent. */
  readonly tls?: DiskServerTls;
}

/**
 * Loads what SLEDS_NBD_TLS asks for: undefined when off, else the PSK file's keys, checked
 * (exists, mode 0600 or stricter, psktool's format); a ConfigError says what is wrong.
 */
export async function loadDiskServerTls(config: NbdTlsConfig): Promise<DiskServerTls | undefined> {
  if (config.mode === 'off') return undefined;
  try {
    return { mode: config.mode, keys: await loadPskFile(config.pskFile), pskFile: resolve(config.pskFile) };
  } catch (error) {
    if (error instanceof PskFileError) throw new ConfigError(`SLEDS_NBD_TLS_PSK_FILE: ${error.message}`);
    throw error;
  }
}

/**
 * The URL of an export, with TLS: `nbds://identity@host:port/name?tls-psk-file=...`, the form
 * libnbd (nbdinfo, nbdcopy, nbdfuse) takes; `nbd://host:port/name` without.
 */
export function diskUrl(host: string, port: number, name: string, tls?: DiskServerTls): string {
  const where = `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  if (tls === undefined) return `nbd://${where}/${name}`;
  const identity = [...tls.keys.keys()][0] ?? 'identity';
  const file = encodeURIComponent(tls.pskFile).replace(/%2F/gi, '/');
  return `nbds://${encodeURIComponent(identity)}@${where}/${name}?tls-psk-file=${file}`;
}

/** Undefined for a NotFound error, the value otherwise. */
async function orUndefined<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof SledsError && error.status === 404) return undefined;
    throw error;
  }
}

/** The resolver over a process's services. */
export function diskResolver(services: DiskServices): DiskExportResolver {
  const catalog: DiskCatalog = {
    volume: (volumeId) => orUndefined(services.volumes.get(volumeId)),
    volumes: (limit, cursor) => services.volumes.list(limit, cursor),
    snapshot: (snapshotId) => orUndefined(services.snapshots.get(snapshotId)),
    snapshots: (limit, cursor) => services.snapshots.list(limit, cursor),
  };
  const disk = new VolumeDataDisk(services.data, (volumeId) => services.volumes.get(volumeId));
  return new DiskExportResolver(catalog, disk, services.snapshots);
}

/** The process's structured log: a request that fails (the errno it got and why) is a line an operator can find. */
const processNbdLogger: NbdLogger = {
  warn: (message, fields) => log.warn(message, fields),
  debug: (message, fields) => log.debug(message, fields),
};

/** Starts an NBD server on host:port that serves the volumes and snapshots of `services`. */
export function startDiskServer(services: DiskServices, options: DiskServerOptions): Promise<NbdServer> {
  const { tls } = options;
  return startNbdServer({
    host: options.host,
    port: options.port,
    resolver: diskResolver(services),
    logger: options.logger ?? processNbdLogger,
    ...(tls ? { tlsUpgrade: pskTlsUpgrade(tls.keys), requireTls: tls.mode === 'require' } : {}),
  });
}
