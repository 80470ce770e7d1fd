/**
 * What a volume uses, as the API reports it: the bytes its allocation map says hold data
 * (GET /volumes/{id}/allocation), and, for a copy target, its hydration (GET /volumes/{id}).
 */
import { api, type AllocationExtent, type Hydration, type Volume } from './api';

export interface Usage {
  /** Bytes that hold data (zeros and never-written ranges are not allocated). */
  readonly allocatedBytes?: number;
  /** Present for a volume a copy job made. */
  readonly hydration?: Hydration;
  /** Why a figure is missing, when the API refused it. */
  readonly error?: string;
}

/** Bytes in `data` runs: flushed chunks count to the chunk, newer notes to the 4 KiB block. */
export function allocatedBytes(extents: readonly AllocationExtent[]): number {
  return extents.reduce((sum, extent) => sum + (extent.type === 'data' ? extent.length : 0), 0);
}

/** States whose data the API serves (and so can map). */
const MAPPED = new Set(['available', 'hydrating']);

export async function usageOf(volume: Volume): Promise<Usage> {
  try {
    const [allocation, details] = await Promise.all([
      MAPPED.has(volume.state) ? api.getAllocation(volume.volumeId) : undefined,
      volume.source?.jobId ? api.getVolume(volume.volumeId) : undefined,
    ]);
    return {
      ...(allocation ? { allocatedBytes: allocatedBytes(allocation.extents) } : {}),
      ...(details?.hydration ? { hydration: details.hydration } : {}),
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Usage of each volume, `concurrency` requests at a time. */
export async function usagesOf(volumes: readonly Volume[], concurrency = 8): Promise<Map<string, Usage>> {
  const usages = new Map<string, Usage>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < volumes.length) {
      const volume = volumes[next++] as Volume;
      usages.set(volume.volumeId, await usageOf(volume));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, volumes.length) }, worker));
  return usages;
}
