import { VolumeNotFoundError, VolumeStateError, ConcurrentModificationError } from '../errors.js';
import { noTelemetry, type Telemetry } from '../observability/telemetry.js';
import type { VolumeDataStore, VolumePage, VolumeRepository } from './ports.js';
import { DEFAULT_PAGE_SIZE, newVolume, servesData, type Volume, type VolumeSpec } from './volume.js';

export interface VolumeServiceOptions {
  readonly clock?: () => Date;
  /** How long a writer may trust a volume read as available (VOLUME_CACHE_MS): a delete waits that long. */
  readonly cacheLifetimeMs?: number;
  /** Told of each volume deleted, so that metrics drop the series that name it. */
  readonly telemetry?: Pick<Telemetry, 'volumeDeleted'>;
}

/** The volume use cases: create, read, list and delete. */
export class VolumeService {
  private readonly clock: () => Date;
  private readonly cacheLifetimeMs: number;
  private readonly telemetry: Pick<Telemetry, 'volumeDeleted'>;

  constructor(
    private readonly repository: VolumeRepository,
    /** Every store that keeps part of a volume: the sled objects, the head-node state. */
    private readonly data: readonly VolumeDataStore[],
    options: VolumeServiceOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.cacheLifetimeMs = options.cacheLifetimeMs ?? 0;
    this.telemetry = options.telemetry ?? noTelemetry;
  }

  /** Creates an empty, available volume. Nothing is allocated on the sleds until data is written. */
  async create(spec: VolumeSpec): Promise<Volume> {
    // A 68-bit random id collides essentially never; retry once anyway rather than fail a caller.
    for (let attempt = 0; ; attempt++) {
      const volume = newVolume(spec, this.clock());
      try {
        await this.repository.create(volume);
        return volume;
      } catch (error) {
        if (!(error instanceof ConcurrentModificationError) || attempt >= 2) throw error;
      }
    }
  }

  /** Returns the volume or throws VolumeNotFoundError. */
  async get(volumeId: string): Promise<Volume> {
    const volume = await this.repository.get(volumeId);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    return volume;
  }

  /** Lists volumes a page at a time. */
  list(limit: number = DEFAULT_PAGE_SIZE, cursor?: string): Promise<VolumePage> {
    return this.repository.list(limit, cursor);
  }

  /**
   * Deletes a volume: first marks it `deleting` so no new work starts on it, then removes its
   * objects, then its metadata. A crash part-way leaves it `deleting`, and a second delete
   * finishes the job.
   */
  async delete(volumeId: string): Promise<{ objectsRemoved: number }> {
    const volume = await this.get(volumeId);
    if (volume.state === 'creating') {
      throw new VolumeStateError(volumeId, volume.state, 'delete it while its copy job runs');
    }
    const previous = volume.state;
    await this.repository.transition(volumeId, ['available', 'hydrating', 'failed', 'deleting'], 'deleting', this.clock());
    // Writers may trust for a moment that the volume is available (VOLUME_CACHE_MS): let that
    // moment pass, so no write lands after the data is removed.
    if (servesData(previous)) await new Promise((resolve) => setTimeout(resolve, this.cacheLifetimeMs));
    let objectsRemoved = 0;
    for (const store of this.data) objectsRemoved += await store.removeVolumeData(volumeId);
    await this.repository.remove(volumeId);
    this.telemetry.volumeDeleted({ volumeId });
    return { objectsRemoved };
  }
}
