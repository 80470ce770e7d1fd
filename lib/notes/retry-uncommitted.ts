import { FencedError } from '../errors.js';

const FIRST_WAIT_MS = 10;
const MAX_WAIT_MS = 1000;

/**
 * Runs `write` (one partition's note) until it is acknowledged, for up to `budgetMs`, retrying
 * it while it fails with a fence that came before its op was appended
 * (`FencedError.committed === 'no'`): a failover or a replica rebuild. Such a write changed
 * nothing, so sending it again is the same write. A fence after the append ('unknown') is not
 * retried: the primary may hold the write, and a second copy could land after a newer
 * overlapping write.
 */
export async function retryUncommitted<T>(write: () => Promise<T>, budgetMs: number): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let wait = FIRST_WAIT_MS; ; wait = Math.min(wait * 2, MAX_WAIT_MS)) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof FencedError && error.committed === 'no') || Date.now() + wait > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
