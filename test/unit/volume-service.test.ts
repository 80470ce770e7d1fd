import { describe, expect, it } from 'vitest';
import { VolumeNotFoundError, VolumeStateError } from '../../lib/errors.js';
import type { VolumeDataStore, VolumePage, VolumeRepository } from '../../lib/volumes/ports.js';
import { createVolumeRequestSchema, type Volume, type VolumeState } from '../../lib/volumes/volume.js';
import { VolumeService } from '../../lib/volumes/volume-service.js';

/** In-memory fakes that record the order of calls, for the delete protocol. */
class MemoryRepository implements VolumeRepository {
  readonly volumes = new Map<string, Volume>();
  constructor(readonly log: string[]) {}
  async create(volume: Volume) {
    this.volumes.set(volume.volumeId, volume);
  }
  async putFresh(volumes: readonly Volume[]) {
    for (const volume of volumes) this.volumes.set(volume.volumeId, volume);
  }
  async get(volumeId: string) {
    return this.volumes.get(volumeId);
  }
  async getMany(volumeIds: readonly string[]) {
    return new Map(volumeIds.flatMap((volumeId) => (this.volumes.has(volumeId) ? [[volumeId, this.volumes.get(volumeId)!] as const] : [])));
  }
  async list(): Promise<VolumePage> {
    return { volumes: [...this.volumes.values()] };
  }
  async transition(volumeId: string, from: readonly VolumeState[], to: VolumeState) {
    const volume = this.volumes.get(volumeId);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (!from.includes(volume.state)) throw new VolumeStateError(volumeId, volume.state, to);
    const next = { ...volume, state: to };
    this.volumes.set(volumeId, next);
    this.log.push(`state:${to}`);
    return next;
  }
  async addHold() {}
  async removeHold() {}
  async holds() {
    return [];
  }
  async getWithHolds(volumeId: string) {
    const volume = this.volumes.get(volumeId);
    return volume && { volume, holds: [] };
  }
  async remove(volumeId: string) {
    this.volumes.delete(volumeId);
    this.log.push('remove-item');
  }
}

function setup(failData = false) {
  const log: string[] = [];
  const repository = new MemoryRepository(log);
  const data: VolumeDataStore = {
    async removeVolumeData() {
      log.push('remove-data');
      if (failData) throw new Error('S3 down');
      return 7;
    },
  };
  const telemetry = { volumeDeleted: ({ volumeId }: { volumeId: string }) => log.push(`telemetry:deleted ${volumeId}`) };
  return { log, repository, service: new VolumeService(repository, [data], { telemetry }) };
}

describe('VolumeService.delete', () => {
  it('marks the volume deleting, removes its data, then its item, then tells telemetry', async () => {
    const { log, repository, service } = setup();
    const volume = await service.create(createVolumeRequestSchema.parse({ sizeBytes: 1 << 20 }));
    expect(await service.delete(volume.volumeId)).toEqual({ objectsRemoved: 7 });
    expect(log).toEqual(['state:deleting', 'remove-data', 'remove-item', `telemetry:deleted ${volume.volumeId}`]);
    expect(repository.volumes.size).toBe(0);
  });

  it('leaves a half-deleted volume marked deleting, and a second delete finishes it', async () => {
    const broken = setup(true);
    const volume = await broken.service.create(createVolumeRequestSchema.parse({ sizeBytes: 1 << 20 }));
    await expect(broken.service.delete(volume.volumeId)).rejects.toThrow('S3 down');
    expect(broken.repository.volumes.get(volume.volumeId)?.state).toBe('deleting');
    // Still there, half deleted: its series stay until the delete finishes.
    expect(broken.log.filter((line) => line.startsWith('telemetry:'))).toEqual([]);
    const deleted: string[] = [];
    const healed = new VolumeService(broken.repository, [{ removeVolumeData: async () => 0 }], { telemetry: { volumeDeleted: ({ volumeId }) => deleted.push(volumeId) } });
    await healed.delete(volume.volumeId);
    expect(broken.repository.volumes.size).toBe(0);
    expect(deleted).toEqual([volume.volumeId]);
  });

  it('refuses to delete a volume that a copy job is still creating', async () => {
    const { repository, service, log } = setup();
    const volume = await service.create(createVolumeRequestSchema.parse({ sizeBytes: 1 << 20 }));
    repository.volumes.set(volume.volumeId, { ...volume, state: 'creating' });
    await expect(service.delete(volume.volumeId)).rejects.toBeInstanceOf(VolumeStateError);
    expect(log).toEqual([]);
  });
});
