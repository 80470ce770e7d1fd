import { useState } from 'preact/hooks';
import { api, everyPage } from '../api';
import { ErrorNote, Facts, Page, Progress, StateBadge } from '../components';
import { bytes, time } from '../format';
import { useLoad } from '../hooks';

/** A form that opens a snapshot or a copy job by id. */
export function LookUp({ kind }: { kind: 'snapshots' | 'copy-jobs' }) {
  const [id, setId] = useState('');
  const prefix = kind === 'snapshots' ? 'snap-' : 'copy-';
  return (
    <form
      class="inline-form"
      aria-label={`Open a ${kind === 'snapshots' ? 'snapshot' : 'copy job'} by id`}
      onSubmit={(event) => {
        event.preventDefault();
        if (id.trim()) window.location.hash = `#/${kind}/${id.trim()}`;
      }}
    >
      <label>
        Open by id <input name="id" value={id} placeholder={`${prefix}…`} onInput={(e) => setId(e.currentTarget.value)} />
      </label>
      <button type="submit">Open</button>
    </form>
  );
}

const allSnapshots = () => everyPage(async (token) => {
  const page = await api.listSnapshots(token);
  return { items: page.snapshots, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
});

/** Every snapshot (GET /snapshots), newest first: state, source volume, progress. */
export function SnapshotsPage() {
  const snapshots = useLoad('snapshots', allSnapshots, { intervalMs: 3000 });
  return (
    <Page title="Snapshots">
      <p class="muted">Take one from a volume's page.</p>
      <LookUp kind="snapshots" />
      <ErrorNote error={snapshots.error} title="Could not load the snapshots" />
      {snapshots.data && snapshots.data.length === 0 ? <p class="muted">No snapshots yet.</p> : null}
      {snapshots.data && snapshots.data.length > 0 ? (
        <table class="data" aria-label="Snapshots">
          <thead>
            <tr>
              <th scope="col">Snapshot</th>
              <th scope="col">Volume</th>
              <th scope="col">State</th>
              <th scope="col" class="num">Size</th>
              <th scope="col">Stored</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {snapshots.data.map((snapshot) =>
              (
                <tr key={snapshot.snapshotId} data-snapshot-id={snapshot.snapshotId}>
                  <td>
                    <a href={`#/snapshots/${snapshot.snapshotId}`}>{snapshot.snapshotId}</a>
                  </td>
                  <td>
                    <a href={`#/volumes/${snapshot.volumeId}`}>{snapshot.volumeId}</a>
                  </td>
                  <td data-col="state">
                    <StateBadge state={snapshot.state} />
                  </td>
                  <td class="num">{bytes(snapshot.sizeBytes)}</td>
                  <td>
                    {snapshot.progress.partitionsDone}/{snapshot.progress.partitionsTotal} partitions, {bytes(snapshot.progress.bytesStored)}
                  </td>
                  <td>{time(snapshot.createdAt)}</td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      ) : null}
    </Page>
  );
}

function CopyForm({ snapshotId, ready }: { snapshotId: string; ready: boolean }) {
  const [count, setCount] = useState(8);
  const [fanout, setFanout] = useState(4);
  const [mode, setMode] = useState('pipelined');
  const [error, setError] = useState<Error>();
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    try {
      const started = await api.createCopyJob(snapshotId, { count, maxSourceFanout: fanout, mode });
      window.location.hash = `#/copy-jobs/${started.jobId}`;
    } catch (caught) {
      setError(caught as Error);
    }
  };
  return (
    <form class="inline-form" aria-label="Copy the snapshot into new volumes" onSubmit={(event) => void submit(event)}>
      <label>
        Copies <input name="count" type="number" min={1} max={1000} value={count} onInput={(e) => setCount(Number(e.currentTarget.value))} />
      </label>
      <label>
        Max source fan-out{' '}
        <input name="maxSourceFanout" type="number" min={1} max={64} value={fanout} onInput={(e) => setFanout(Number(e.currentTarget.value))} />
      </label>
      <label>
        Mode{' '}
        <select name="mode" value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
          <option value="pipelined">pipelined</option>
          <option value="swarm">swarm</option>
          <option value="rounds">rounds</option>
          <option value="direct">direct</option>
        </select>
      </label>
      <button type="submit" disabled={!ready}>
        Start copy job
      </button>
      <ErrorNote error={error} title="Could not start the copy job" />
    </form>
  );
}

/** One snapshot, and a form that copies it. */
export function SnapshotPage({ snapshotId }: { snapshotId: string }) {
  const snapshot = useLoad(`snapshot:${snapshotId}`, () => api.getSnapshot(snapshotId), { intervalMs: 1000, poll: (s) => s.state === 'creating' });
  const s = snapshot.data;
  return (
    <Page title={<>Snapshot {snapshotId}</>}>
      <ErrorNote error={snapshot.error} title="Could not load the snapshot" />
      {s ? (
        <>
          <Facts
            items={[
              ['Volume', <a href={`#/volumes/${s.volumeId}`}>{s.volumeId}</a>],
              ['State', <StateBadge state={s.state} />],
              ['Size', bytes(s.sizeBytes)],
              ['Partitions stored', `${s.progress.partitionsDone} of ${s.progress.partitionsTotal}`],
              ['Chunks stored', `${s.progress.chunksStored} (${bytes(s.progress.bytesStored)})`],
              ['Created', time(s.createdAt)],
              ['Completed', time(s.completedAt)],
            ]}
          />
          <Progress value={s.progress.partitionsDone} max={s.progress.partitionsTotal} label="Partitions stored" />
          <h2>Copy it</h2>
          {s.state !== 'completed' ? <p class="muted">A snapshot can be copied once it is completed.</p> : null}
          <CopyForm snapshotId={snapshotId} ready={s.state === 'completed'} />
        </>
      ) : null}
    </Page>
  );
}
