/**
 * Names Sleds disks for the NBD server: a volume id opens the volume as a writable disk (an
 * available one, or a copy target still hydrating: it serves data too, reading what it has not
 * copied yet from its snapshot), a completed snapshot's id opens it read-only, and NBD_OPT_LIST lists both.
 */
import type { ExportListing, ExportOpening, ExportResolver } from '../nbd/ports.js';
import type { SnapshotPage } from '../snapshots/ports.js';
import type { Snapshot } from '../snapshots/snapshot.js';
import type { VolumePage } from '../volumes/ports.js';
import { isVolumeId, servesData, type Volume } from '../volumes/volume.js';
import { formatSize } from '../units/sizes.js';
import { SnapshotBlockDevice, VolumeBlockDevice } from './block-devices.js';
import type { SnapshotDisk, VolumeDisk } from './ports.js';

/** Where the resolver finds volumes and snapshots; undefined for one that does not exist. */
export interface DiskCatalog {
  volume(volumeId: string): Promise<Volume | undefined>;
  volumes(limit: number, cursor?: string): Promise<VolumePage>;
  snapshot(snapshotId: string): Promise<Snapshot | undefined>;
  snapshots(limit: number, cursor?: string): Promise<SnapshotPage>;
}

const SNAPSHOT_ID = /^snap-[0-9a-f]{17}$/;
/** Page size when listing: NBD_OPT_LIST pages through every volume and snapshot. */
const LIST_PAGE = 1000;

/** Volumes and snapshots as NBD exports. */
export class DiskExportResolver implements ExportResolver {
  constructor(
    private readonly catalog: DiskCatalog,
    private readonly volumeDisk: VolumeDisk,
    private readonly snapshotDisk: SnapshotDisk,
  ) {}

  /** Every volume that serves data (available or hydrating), then every completed snapshot. */
  async list(): Promise<readonly ExportListing[]> {
    const listings: ExportListing[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.catalog.volumes(LIST_PAGE, cursor);
      for (const volume of page.volumes) if (servesData(volume.state)) listings.push({ name: volume.volumeId, description: describeVolume(volume) });
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    do {
      const page = await this.catalog.snapshots(LIST_PAGE, cursor);
      for (const snapshot of page.snapshots) if (snapshot.state === 'completed') listings.push({ name: snapshot.snapshotId, description: describeSnapshot(snapshot) });
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return listings;
  }

  async open(name: string): Promise<ExportOpening> {
    if (isVolumeId(name)) return this.openVolume(name);
    if (SNAPSHOT_ID.test(name)) return this.openSnapshot(name);
    const what = name === '' ? 'There is no default export' : `There is no export named "${name}"`;
    return { kind: 'refused', reason: 'unknown', message: `${what}: name a volume (vol-…) or a completed snapshot (snap-…).` };
  }

  private async openVolume(volumeId: string): Promise<ExportOpening> {
    const volume = await this.catalog.volume(volumeId);
    if (!volume) return { kind: 'refused', reason: 'unknown', message: `Volume ${volumeId} does not exist.` };
    if (!servesData(volume.state)) {
      const when = volume.state === 'creating' ? 'it can be attached once available' : 'it cannot be attached';
      return { kind: 'refused', reason: 'unavailable', message: `volume ${volumeId} is ${volume.state}; ${when}` };
    }
    return { kind: 'opened', device: new VolumeBlockDevice(volume, this.volumeDisk), description: describeVolume(volume) };
  }

  private async openSnapshot(snapshotId: string): Promise<ExportOpening> {
    const snapshot = await this.catalog.snapshot(snapshotId);
    if (!snapshot) return { kind: 'refused', reason: 'unknown', message: `Snapshot ${snapshotId} does not exist.` };
    if (snapshot.state !== 'completed') {
      const when = snapshot.state === 'creating' ? 'it can be attached (read-only) once completed' : 'it cannot be attached';
      return { kind: 'refused', reason: 'unavailable', message: `snapshot ${snapshotId} is ${snapshot.state}; ${when}` };
    }
    return { kind: 'opened', device: new SnapshotBlockDevice(snapshot, this.snapshotDisk), description: describeSnapshot(snapshot) };
  }
}

function describeVolume(volume: Volume): string {
  const hydrating = volume.state === 'hydrating' ? ' (hydrating)' : '';
  return `${volume.name ? `${volume.name}: ` : ''}volume of ${formatSize(volume.sizeBytes)}${hydrating}`;
}

function describeSnapshot(snapshot: Snapshot): string {
  return `read-only snapshot of ${snapshot.volumeId}, ${formatSize(snapshot.sizeBytes)}, taken ${snapshot.createdAt}`;
}
