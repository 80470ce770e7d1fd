/**
 * The snapshots and copy jobs the console has seen pass through its proxy. The API can show one
 * snapshot or job by id but has no route that lists them, so the console lists what it saw:
 * what it created, and any id a user looked up.
 */
export interface KnownSnapshot {
  readonly snapshotId: string;
  readonly volumeId?: string;
  readonly seenAt: string;
}

export interface KnownCopyJob {
  readonly jobId: string;
  readonly snapshotId?: string;
  readonly seenAt: string;
}

export interface KnownList {
  readonly snapshots: KnownSnapshot[];
  readonly copyJobs: KnownCopyJob[];
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Remembers ids from successful API answers, newest first. */
export class KnownResources {
  private readonly snapshots = new Map<string, KnownSnapshot>();
  private readonly copyJobs = new Map<string, KnownCopyJob>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Looks at one successful answer of the API to `method path`. */
  observe(method: string, path: string, text: string): void {
    const isSnapshot = (method === 'POST' && /^\/volumes\/[^/]+\/snapshots$/.test(path)) || (method === 'GET' && /^\/snapshots\/[^/]+$/.test(path));
    const isCopyStart = method === 'POST' && /^\/snapshots\/[^/]+\/copies$/.test(path);
    const isCopyJob = method === 'GET' && /^\/copy-jobs\/[^/]+$/.test(path);
    if (!isSnapshot && !isCopyStart && !isCopyJob) return;
    const body = parse(text);
    if (!body) return;
    const seenAt = this.now().toISOString();
    if (isSnapshot) {
      const snapshotId = str(body.snapshotId);
      if (snapshotId && !this.snapshots.has(snapshotId)) {
        const volumeId = str(body.volumeId);
        this.snapshots.set(snapshotId, { snapshotId, ...(volumeId ? { volumeId } : {}), seenAt });
      }
    } else {
      const jobId = str(body.jobId);
      const snapshotId = str(body.snapshotId) ?? (isCopyStart ? decodeURIComponent(path.split('/')[2] ?? '') : undefined);
      if (jobId && !this.copyJobs.has(jobId)) this.copyJobs.set(jobId, { jobId, ...(snapshotId ? { snapshotId } : {}), seenAt });
    }
  }

  /** Everything seen, newest first. */
  list(): KnownList {
    return { snapshots: [...this.snapshots.values()].reverse(), copyJobs: [...this.copyJobs.values()].reverse() };
  }
}
