/**
 * DynamoDbVolumeRepository.getMany against the embedded DynamoDB: every volume asked for, once,
 * in one BatchGetItem per 100 ids (a copy job's batches each read the states of all its targets
 * at their start; one GetItem per target per batch crowded out the targets' first reads).
 */
import { describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { DynamoDbVolumeRepository } from '../../lib/aws/dynamodb-volume-repository.js';
import type { Volume, VolumeState } from '../../lib/volumes/volume.js';
import { useLocalCloud } from '../support/local-cloud.js';

const cloud = useLocalCloud();

function volume(i: number, state: VolumeState): Volume {
  const at = new Date(0).toISOString();
  return {
    volumeId: `vol-${i.toString(16).padStart(17, '0')}`,
    sizeBytes: 1 << 20,
    chunkSizeBytes: 1 << 20,
    partitionChunks: 1,
    partitionCount: 1,
    state,
    createdAt: at,
    updatedAt: at,
  };
}

describe('DynamoDbVolumeRepository.getMany', () => {
  it('returns every stored volume asked for, leaves out unknown ids, and asks 100 ids per BatchGetItem', async () => {
    const clients = createAwsClients(cloud().config);
    try {
      const commands: string[] = [];
      clients.dynamodb.middlewareStack.add(
        (next, context) => async (args) => {
          commands.push(String(context.commandName));
          return next(args);
        },
        { step: 'initialize', name: 'testCommandLog' },
      );
      const repository = new DynamoDbVolumeRepository(clients.documents, cloud().config.tables.volumes);
      const states: VolumeState[] = ['creating', 'hydrating', 'available', 'failed'];
      const stored = Array.from({ length: 130 }, (_, i) => volume(i + 1, states[i % states.length]!));
      for (const v of stored) await repository.create(v);
      commands.length = 0;

      const unknown = [volume(1000, 'available').volumeId, volume(1001, 'available').volumeId];
      // A duplicate id too: BatchGetItem refuses a key asked twice, so getMany must ask it once.
      const asked = [...stored.map((v) => v.volumeId), ...unknown, stored[0]!.volumeId];
      const found = await repository.getMany(asked);

      expect(found.size).toBe(stored.length);
      for (const v of stored) expect(found.get(v.volumeId)).toEqual(v);
      for (const id of unknown) expect(found.has(id)).toBe(false);
      // 132 distinct ids: two batches, not 132 GetItems.
      expect(commands).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);
      expect((await repository.getMany([])).size).toBe(0);
    } finally {
      clients.destroy();
    }
  });
});
