import { useState } from 'preact/hooks';
import { api, everyPage, type JobEvent } from '../api';
import { ErrorNote, Facts, Page, Progress, StateBadge } from '../components';
import { FanoutTree } from '../fanout-tree';
import { bytes, duration, time } from '../format';
import { useLoad } from '../hooks';
import { LookUp } from './snapshots';

const POLL_MS = 1000;

const allJobs = () => everyPage(async (token) => {
  const page = await api.listCopyJobs(token);
  return { items: page.copyJobs, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
});

/** Every copy job (GET /copy-jobs), newest first, with its progress. */
export function CopyJobsPage() {
  const jobs = useLoad('copy-jobs', allJobs, { intervalMs: 2000 });
  return (
    <Page title="Copy jobs">
      <p class="muted">Start one from a snapshot's page.</p>
      <LookUp kind="copy-jobs" />
      <ErrorNote error={jobs.error} title="Could not load the copy jobs" />
      {jobs.data && jobs.data.length === 0 ? <p class="muted">No copy jobs yet.</p> : null}
      {jobs.data && jobs.data.length > 0 ? (
        <table class="data" aria-label="Copy jobs">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Snapshot</th>
              <th scope="col" class="num">Copies</th>
              <th scope="col">Mode</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col">ETA</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.map((job) =>
              (
                <tr key={job.jobId} data-job-id={job.jobId}>
                  <td>
                    <a href={`#/copy-jobs/${job.jobId}`}>{job.jobId}</a>
                  </td>
                  <td>
                    <a href={`#/snapshots/${job.snapshotId}`}>{job.snapshotId}</a>
                  </td>
                  <td class="num">{job.volumeIds.length}</td>
                  <td>{job.mode}</td>
                  <td data-col="state">
                    <StateBadge state={job.state} />
                  </td>
                  <td>{job.percent}%</td>
                  <td>{job.state === 'running' ? duration(job.etaSeconds) : '—'}</td>
                  <td>{time(job.createdAt)}</td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      ) : null}
    </Page>
  );
}

function Timeline({ events }: { events: readonly JobEvent[] }) {
  if (events.length === 0) return <p class="muted">No events yet.</p>;
  return (
    <ol class="timeline" aria-label="Execution events" tabIndex={0}>
      {events.map((event, i) => (
        <li key={i} class={/Failed|Caught|Aborted|TimedOut/.test(event.type) ? 'event event-bad' : 'event'}>
          <time dateTime={event.timestamp}>{new Date(event.timestamp).toLocaleTimeString(undefined, { hour12: false })}</time>{' '}
          <span class="event-type">{event.type}</span>
          {event.state ? <span class="event-state"> {event.state}</span> : null}
          {event.index !== undefined ? <span class="muted"> #{event.index}</span> : null}
          {event.error ? (
            <div class="event-error">
              <code>{event.error}</code>
              {event.cause ? `: ${event.cause}` : null}
            </div>
          ) : null}
        </li>
      ))}
    </ol>
  );
}

/** One copy job: progress, ETA, the fan-out tree filling in, the error if it failed, and the events. */
export function CopyJobPage({ jobId }: { jobId: string }) {
  const job = useLoad(`job:${jobId}`, () => api.getCopyJob(jobId), { intervalMs: POLL_MS, poll: (j) => j.state === 'running' || !j.tree });
  // Keyed on the state too: once the job ends, its last events are loaded once more.
  const events = useLoad(`events:${jobId}:${job.data?.state ?? ''}`, () => api.listCopyJobEvents(jobId), {
    intervalMs: POLL_MS * 2,
    poll: () => job.data?.state !== 'succeeded' && job.data?.state !== 'failed',
  });
  const nodes = job.data?.tree?.nodes ?? [];
  const partitions = [...new Set(nodes.map((node) => node.partition))].sort((a, b) => a - b);
  const [chosen, setChosen] = useState<number>();
  const partition = chosen !== undefined && partitions.includes(chosen) ? chosen : partitions[0];
  const shown = nodes.filter((node) => node.partition === partition);
  const j = job.data;
  // The first state that failed, where the error started (the catch comes after it).
  const failedAt = events.data?.events.find((event) => /Failed$/.test(event.type) && event.state !== undefined);
  return (
    <Page title={<>Copy job {jobId}</>}>
      <ErrorNote error={job.error} title="Could not load the copy job" />
      {j?.state === 'failed' ? (
        <div class="error job-error" role="alert">
          <strong>The copy job failed.</strong> {j.error ?? 'The API gave no error message.'}
          {failedAt ? (
            <div>
              In <em>{failedAt.state}</em>
              {failedAt.error ? (
                <>
                  {' '}
                  (<code>{failedAt.error}</code>)
                </>
              ) : null}{' '}
              at {new Date(failedAt.timestamp).toLocaleTimeString(undefined, { hour12: false })}.
            </div>
          ) : null}
        </div>
      ) : null}
      {j ? (
        <>
          <Facts
            items={[
              ['State', <StateBadge state={j.state} />],
              ['Snapshot', <a href={`#/snapshots/${j.snapshotId}`}>{j.snapshotId}</a>],
              ['Copies', j.volumeIds.length],
              ['Mode', `${j.mode}, fan-out ≤ ${j.maxSourceFanout}`],
              j.mode === 'swarm' ? ['Slots', `${j.progress.roundsPlanned}, run at once`] : ['Rounds', `${j.progress.roundsDone} of ${j.progress.roundsPlanned}`],
              ['Intermediaries', `${j.progress.intermediariesCreated} made, ${j.progress.intermediariesRemoved} removed`],
              ['Chunks', `${j.progress.chunksCopied} of ${j.progress.chunksTotal}`],
              ['Copied', `${bytes(j.progress.bytesCopied)} of ${bytes(j.progress.bytesTotal)}`],
              ['Throughput', `${bytes(j.throughputBytesPerSecond)}/s`],
              ['ETA', j.state === 'running' ? <span data-field="eta">{duration(j.etaSeconds)}</span> : '—'],
              ['Targets verified', j.progress.targetsVerified],
              ['Started', time(j.createdAt)],
              ['Finished', time(j.finishedAt)],
            ]}
          />
          <Progress value={j.progress.bytesCopied} max={j.progress.bytesTotal} label="Bytes copied" />
          <h2>Fan-out tree</h2>
          {!j.tree ? <p class="muted">{j.state === 'running' ? 'Planning…' : 'This job has no plan.'}</p> : null}
          {j.tree && partitions.length > 1 ? (
            <label class="inline-label">
              Partition{' '}
              <select name="partition" value={partition} onChange={(e) => setChosen(Number(e.currentTarget.value))}>
                {partitions.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>{' '}
              <span class="muted">
                of {partitions.length} partitions that hold data; each has its own tree ({j.tree.mode}, {j.tree.rounds} {j.tree.mode === 'pipelined' ? 'level' : j.tree.mode === 'swarm' ? 'slot' : 'round'}
                {j.tree.rounds === 1 ? '' : 's'})
              </span>
            </label>
          ) : null}
          {j.tree && partition !== undefined ? <FanoutTree nodes={shown} partition={partition} /> : null}
          {j.tree && nodes.some((node) => node.chunksDone === null) ? (
            <p class="muted">This plan is too large for chunks per node to be recorded; the boxes show only the plan.</p>
          ) : null}
          <h2>Targets</h2>
          <ul class="target-list">
            {j.volumeIds.map((volumeId) => (
              <li key={volumeId}>
                <a href={`#/volumes/${volumeId}`}>{volumeId}</a>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h2>Events</h2>
      <ErrorNote error={events.error} title="Could not load the events" />
      {events.data ? <Timeline events={events.data.events} /> : null}
    </Page>
  );
}
