import { describe, expect, it } from 'vitest';
import { MIB, TIB } from '../../lib/units/sizes.js';
import { createVolumeRequestSchema, isVolumeId, newVolume, newVolumeId } from '../../lib/volumes/volume.js';

describe('volume', () => {
  it('makes ids of "vol-" and 17 lowercase hex digits, all different', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newVolumeId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(isVolumeId(id)).toBe(true);
    expect(isVolumeId('vol-0123456789abcdef')).toBe(false);
    expect(isVolumeId('vol-0123456789ABCDEF0')).toBe(false);
  });

  it('fills defaults and computes the partition count, rounding a short last partition up', () => {
    const spec = createVolumeRequestSchema.parse({ sizeBytes: 33 * MIB });
    expect(spec).toEqual({ sizeBytes: 33 * MIB, chunkSizeBytes: MIB, partitionChunks: 16 });
    const volume = newVolume(spec, new Date('2026-01-01T00:00:00Z'));
    expect(volume.partitionCount).toBe(3);
    expect(volume.state).toBe('available');
    expect(volume.createdAt).toBe('2026-01-01T00:00:00.000Z');
  });

  it('accepts the largest volume and the extreme geometries', () => {
    expect(createVolumeRequestSchema.safeParse({ sizeBytes: 16 * TIB }).success).toBe(true);
    expect(createVolumeRequestSchema.safeParse({ sizeBytes: 64 * 1024, chunkSizeBytes: 64 * 1024, partitionChunks: 1 }).success).toBe(true);
    expect(createVolumeRequestSchema.safeParse({ sizeBytes: 16 * MIB, chunkSizeBytes: 16 * MIB, partitionChunks: 1024 }).success).toBe(true);
  });

  it('says which rule a size breaks', () => {
    const result = createVolumeRequestSchema.safeParse({ sizeBytes: 3 * MIB, chunkSizeBytes: 2 * MIB });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('sizeBytes (3145728) must be a multiple of chunkSizeBytes (2097152)');
  });
});
