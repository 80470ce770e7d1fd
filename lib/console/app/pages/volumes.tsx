import { useState } from 'preact/hooks';
import { api, everyPage, type Hydration, type Volume } from '../api';
import { ErrorNote, Page, StateBadge } from '../components';
import { bytes, duration, parseSize, time } from '../format';
import { useLoad } from '../hooks';
import { usagesOf, type Usage } from '../usage';

function CreateVolume({ created }: { created: () => void }) {
  const [size, setSize] = useState('64 MiB');
  const [name, setName] = useState('');
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const sizeBytes = parseSize(size);
    if (sizeBytes === undefined) return setError(new Error(`"${size}" is not a size; write e.g. 64 MiB or 1 GiB.`));
    setBusy(true);
    setError(undefined);
    try {
      await api.createVolume({ sizeBytes, ...(name ? { name } : {}) });
      created();
    } catch (caught) {
      setError(caught as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="inline-form" onSubmit={(event) => void submit(event)} aria-label="Create a volume">
      <label>
        Size <input name="size" value={size} onInput={(e) => setSize(e.currentTarget.value)} required />
      </label>
      <label>
        Name <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="optional" />
      </label>
      <button type="submit" disabled={busy}>
        Create volume
      </button>
      <ErrorNote error={error} title="Could not create the volume" />
    </form>
  );
}

/** Volumes whose allocation and hydration the page asks for; the CLI shows the rest. */
const WITH_USAGE = 100;

async function volumesWithUsage(): Promise<{ volumes: Volume[]; usages: Map<string, Usage> }> {
  const volumes = await everyPage(async (token) => {
    const page = await api.listVolumes(token);
    return { items: page.volumes, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  });
  return { volumes, usages: await usagesOf(volumes.slice(0, WITH_USAGE)) };
}

/** A copy target's hydration in words: chunks in place of all, percent, and the ETA while it runs. */
export function HydrationText({ hydration }: { hydration: Hydration }) {
  const done = hydration.chunksInPlace >= hydration.chunksTotal;
  return (
    <span title={`copy job ${hydration.jobId}, ${hydration.jobState}`}>
      {hydration.chunksInPlace}/{hydration.chunksTotal} chunks ({hydration.percent}%)
      {done ? null : hydration.jobState === 'failed' ? ', job failed: retry it' : `, ETA ${duration(hydration.etaSeconds)}`}
    </span>
  );
}

/** Every volume: size, state, allocated bytes and, for copy targets, hydration. */
export function VolumesPage() {
  const loaded = useLoad('volumes', volumesWithUsage, { intervalMs: 3000 });
  const volumes = loaded.data?.volumes;
  const usages = loaded.data?.usages;
  return (
    <Page title="Volumes">
      <CreateVolume created={loaded.reload} />
      <ErrorNote error={loaded.error} title="Could not list the volumes" />
      {volumes && volumes.length === 0 ? <p class="muted">No volumes yet.</p> : null}
      {volumes && volumes.length > 0 ? (
        <table class="data" aria-label="Volumes">
          <thead>
            <tr>
              <th scope="col">Volume</th>
              <th scope="col">Name</th>
              <th scope="col" class="num">Size</th>
              <th scope="col">State</th>
              <th scope="col" class="num">Allocated</th>
              <th scope="col">Hydration</th>
              <th scope="col" class="num">Partitions</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {volumes.map((volume) => {
              const usage = usages?.get(volume.volumeId);
              return (
                <tr key={volume.volumeId} data-volume-id={volume.volumeId}>
                  <td>
                    <a href={`#/volumes/${volume.volumeId}`}>{volume.volumeId}</a>
                  </td>
                  <td>{volume.name ?? ''}</td>
                  <td class="num" data-col="size">
                    {bytes(volume.sizeBytes)}
                  </td>
                  <td data-col="state">
                    <StateBadge state={volume.state} />
                  </td>
                  <td class="num" data-col="allocated" data-bytes={usage?.allocatedBytes} title={usage?.error}>
                    {usage?.allocatedBytes === undefined ? '—' : bytes(usage.allocatedBytes)}
                  </td>
                  <td data-col="hydration" data-percent={usage?.hydration?.percent}>
                    {usage?.hydration ? <HydrationText hydration={usage.hydration} /> : <span class="muted">not a copy</span>}
                  </td>
                  <td class="num">{volume.partitionCount}</td>
                  <td>{time(volume.createdAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      {volumes && volumes.length > WITH_USAGE ? <p class="muted">Allocation and hydration are shown for the newest {WITH_USAGE} volumes.</p> : null}
    </Page>
  );
}
