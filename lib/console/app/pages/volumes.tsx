import { useState } from 'preact/hooks';
import { api, type Volume } from '../api';
import { ErrorNote, Page, StateBadge } from '../components';
import { bytes, parseSize, time } from '../format';
import { useLoad } from '../hooks';

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

async function allVolumes(): Promise<Volume[]> {
  const volumes: Volume[] = [];
  let token: string | undefined;
  // Ten pages (1,000 volumes) is plenty for a console; the CLI lists the rest.
  for (let page = 0; page < 10; page++) {
    const answer = await api.listVolumes(token);
    volumes.push(...answer.volumes);
    token = answer.nextToken;
    if (!token) break;
  }
  return volumes.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Every volume: size, state, allocation and hydration (when the API reports them). */
export function VolumesPage() {
  const volumes = useLoad('volumes', allVolumes, { intervalMs: 3000 });
  return (
    <Page title="Volumes">
      <CreateVolume created={volumes.reload} />
      <ErrorNote error={volumes.error} title="Could not list the volumes" />
      {volumes.data && volumes.data.length === 0 ? <p class="muted">No volumes yet.</p> : null}
      {volumes.data && volumes.data.length > 0 ? (
        <table class="data" aria-label="Volumes">
          <thead>
            <tr>
              <th scope="col">Volume</th>
              <th scope="col">Name</th>
              <th scope="col" class="num">Size</th>
              <th scope="col">State</th>
              <th scope="col" class="num">Allocated</th>
              <th scope="col" class="num">Hydration</th>
              <th scope="col" class="num">Partitions</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {volumes.data.map((volume) => (
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
                <td class="num" title={volume.allocatedBytes === undefined ? 'The API does not report allocation yet' : undefined}>
                  {volume.allocatedBytes === undefined ? '—' : bytes(volume.allocatedBytes)}
                </td>
                <td class="num" title={volume.hydration === undefined ? 'The API does not report hydration yet' : undefined}>
                  {volume.hydration === undefined ? '—' : `${Math.round(volume.hydration * 100)}%`}
                </td>
                <td class="num">{volume.partitionCount}</td>
                <td>{time(volume.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Page>
  );
}
