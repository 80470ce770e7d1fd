import { describe, expect, it } from 'vitest';
import { KnownResources } from '../../lib/console/known-resources.js';

describe('the console’s list of snapshots and copy jobs it has seen', () => {
  const at = new Date('2026-01-02T03:04:05.000Z');

  it('remembers snapshots taken or opened, and copy jobs started or opened, newest first, once each', () => {
    const known = new KnownResources(() => at);
    known.observe('POST', '/volumes/vol-1/snapshots', JSON.stringify({ snapshotId: 'snap-1', volumeId: 'vol-1' }));
    known.observe('GET', '/snapshots/snap-2', JSON.stringify({ snapshotId: 'snap-2', volumeId: 'vol-2' }));
    known.observe('GET', '/snapshots/snap-1', JSON.stringify({ snapshotId: 'snap-1', volumeId: 'vol-1' }));
    known.observe('POST', '/snapshots/snap-1/copies', JSON.stringify({ jobId: 'copy-1', volumeIds: [] }));
    known.observe('GET', '/copy-jobs/copy-2', JSON.stringify({ jobId: 'copy-2', snapshotId: 'snap-2' }));
    expect(known.list()).toEqual({
      snapshots: [
        { snapshotId: 'snap-2', volumeId: 'vol-2', seenAt: at.toISOString() },
        { snapshotId: 'snap-1', volumeId: 'vol-1', seenAt: at.toISOString() },
      ],
      copyJobs: [
        { jobId: 'copy-2', snapshotId: 'snap-2', seenAt: at.toISOString() },
        { jobId: 'copy-1', snapshotId: 'snap-1', seenAt: at.toISOString() },
      ],
    });
  });

  it('ignores other routes and bodies that are not what it expects', () => {
    const known = new KnownResources(() => at);
    known.observe('GET', '/volumes/vol-1', JSON.stringify({ snapshotId: 'snap-x' }));
    known.observe('GET', '/copy-jobs/copy-1/events', JSON.stringify({ jobId: 'copy-1', events: [] }));
    known.observe('GET', '/snapshots/snap-1', 'not json');
    known.observe('GET', '/snapshots/snap-1', JSON.stringify({ snapshotId: 42 }));
    expect(known.list()).toEqual({ snapshots: [], copyJobs: [] });
  });
});
