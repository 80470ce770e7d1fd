/**
 * Serves every Sleds volume (and completed snapshot) as an NBD disk from this process, over
 * the process's services: one VolumeDataService, so one cached head per partition for all
 * connections.
 */
import { SledsError } from '../errors.js';
import { startNbdServer, type NbdServer } from '../nbd/nbd-server.js';
import type { NbdLogger } from '../nbd/ports.js';
import type { SnapshotService } from '../snapshots/snapshot-service.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { VolumeDataService } from '../notes/volume-data-service.js';
import { DiskExportResolver, type DiskCatalog } from './disk-resolver.js';
import { VolumeDataDisk } from './volume-data-disk.js';

/** The services a disk server needs (lib/wiring.ts Services has them). */
export interface DiskServices {
  readonly volumes: Pick<VolumeService, 'get' | 'list'>;
  readonly data: Pick<VolumeDataService, 'read' | 'write'>;
  readonly snapshots: Pick<SnapshotService, 'get' | 'list' | 'read'>;
}

export interface DiskServerOptions {
  /** Loopback only while NBD has no TLS (lib/local/listening.ts); the caller checks. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly logger?: NbdLogger;
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

/** Starts an NBD server on host:port that serves the volumes and snapshots of `services`. */
export function startDiskServer(services: DiskServices, options: DiskServerOptions): Promise<NbdServer> {
  return startNbdServer({ host: options.host, port: options.port, resolver: diskResolver(services), ...(options.logger ? { logger: options.logger } : {}) });
}
