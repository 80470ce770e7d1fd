import { afterAll, beforeAll } from 'vitest';
import { startLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../lib/local/local-cloud.js';

/**
 * Starts the embedded cloud (in memory, free ports) before the file's tests and stops it
 * after; returns a getter because the cloud exists only once beforeAll has run.
 */
export function useLocalCloud(options: Partial<LocalCloudOptions> = {}): () => LocalCloud {
  let cloud: LocalCloud | undefined;
  beforeAll(async () => {
    cloud = await startLocalCloud({ port: 0, sledCount: 4, ...options });
  });
  afterAll(async () => {
    await cloud?.stop();
  });
  return () => {
    if (!cloud) throw new Error('the local cloud has not started');
    return cloud;
  };
}
