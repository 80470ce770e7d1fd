import { afterAll, beforeAll } from 'vitest';
import { startLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../lib/local/local-cloud.js';
import { MIN_HEAD_LEASE_MS } from '../../lib/config.js';

/**
 * Starts the embedded cloud (in memory, free ports) before the file's tests and stops it
 * after; returns a getter because the cloud exists only once beforeAll has run.
 */
export function useLocalCloud(options: Partial<LocalCloudOptions> = {}): () => LocalCloud {
  let cloud: LocalCloud | undefined;
  beforeAll(async () => {
    // Tests play several processes on one partition: the shortest head lease keeps their waits short.
    cloud = await startLocalCloud({ port: 0, sledCount: 4, headLeaseMs: MIN_HEAD_LEASE_MS, ...options });
  });
  afterAll(async () => {
    await cloud?.stop();
  });
  return () => {
    if (!cloud) throw new Error('the local cloud has not started');
    return cloud;
  };
}
