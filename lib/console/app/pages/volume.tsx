import { useState } from 'preact/hooks';
import { api, type Partition, type Replica } from '../api';
import { ErrorNote, Facts, Page, StateBadge } from '../components';
import { bytes, time } from '../format';
import { useLoad } from '../hooks';
import { usageOf } from '../usage';
import { HydrationText } from './volumes';

const PAGE = 16;

function ReplicaRow({ replica }: { replica: Replica }) {
  return (
    <tr data-role={replica.role}>
      <th scope="row">{replica.role}</th>
      <td>
        <code>{replica.replicaId}</code>
      </td>
      <td class="num">{replica.sled}</td>
      <td class="num" data-col="epoch">
        {replica.epoch}
      </td>
      <td class="num" data-col="ops">
        {replica.lastCommittedOp}
      </td>
      <td class="num">{replica.pendingNotes.length}</td>
    </tr>
  );
}

function PartitionCard({ partition }: { partition: Partition }) {
  return (
    <article class="card partition" data-partition={partition.partition} aria-labelledby={`partition-${partition.partition}`}>
      <h3 id={`partition-${partition.partition}`}>
        Partition {partition.partition}{' '}
        <span class="muted">
          bytes {bytes(partition.offset)} – {bytes(partition.offset + partition.sizeBytes)}
        </span>
      </h3>
      <Facts
        items={[
          ['Epoch', partition.epoch],
          ['Flushed op', partition.flushedOp ?? '—'],
          ['Newest checkpoint', partition.checkpoint ? `op ${partition.checkpoint.op}` : 'none'],
          ['Rebuild', partition.rebuild ? <StateBadge state={partition.rebuild.state} /> : '—'],
          ['Replicas', partition.initialized === false ? 'not placed yet (no write)' : partition.inSync ? 'in sync' : 'catching up'],
        ]}
      />
      <table class="data compact" aria-label={`Replicas of partition ${partition.partition}`}>
        <thead>
          <tr>
            <th scope="col">Replica</th>
            <th scope="col">Id</th>
            <th scope="col" class="num">Sled</th>
            <th scope="col" class="num">Epoch</th>
            <th scope="col" class="num">Last op</th>
            <th scope="col" class="num">Pending notes</th>
          </tr>
        </thead>
        <tbody>
          <ReplicaRow replica={partition.primary} />
          <ReplicaRow replica={partition.secondary} />
        </tbody>
      </table>
    </article>
  );
}

/** One volume: its facts, and its partitions with both head-node replicas. */
export function VolumePage({ volumeId }: { volumeId: string }) {
  const [shown, setShown] = useState(PAGE);
  const [snapshotError, setSnapshotError] = useState<Error>();
  const volume = useLoad(`volume:${volumeId}`, () => api.getVolume(volumeId));
  const usage = useLoad(`usage:${volumeId}:${volume.data?.state ?? ''}`, () => (volume.data ? usageOf(volume.data) : Promise.resolve(undefined)), { intervalMs: 3000 });
  const count = volume.data ? Math.min(volume.data.partitionCount, shown) : 0;
  const partitions = useLoad(
    `partitions:${volumeId}:${count}`,
    () => Promise.all(Array.from({ length: count }, (_, p) => api.getPartition(volumeId, p))),
    { intervalMs: 5000 },
  );
  const snapshot = async (): Promise<void> => {
    setSnapshotError(undefined);
    try {
      const created = await api.createSnapshot(volumeId);
      window.location.hash = `#/snapshots/${created.snapshotId}`;
    } catch (error) {
      setSnapshotError(error as Error);
    }
  };
  return (
    <Page
      title={<>Volume {volumeId}</>}
      actions={
        <button type="button" onClick={() => void snapshot()} disabled={volume.data?.state !== 'available' && volume.data?.state !== 'hydrating'}>
          Take a snapshot
        </button>
      }
    >
      <ErrorNote error={volume.error} title="Could not load the volume" />
      <ErrorNote error={snapshotError} title="Could not take a snapshot" />
      {volume.data ? (
        <Facts
          items={[
            ['Name', volume.data.name ?? '—'],
            ['Size', bytes(volume.data.sizeBytes)],
            ['State', <StateBadge state={volume.data.state} />],
            ['Chunk size', bytes(volume.data.chunkSizeBytes)],
            ['Partitions', `${volume.data.partitionCount} × ${volume.data.partitionChunks} chunks`],
            ['Allocated', usage.data?.allocatedBytes === undefined ? '—' : bytes(usage.data.allocatedBytes)],
            ...(usage.data?.hydration ? [['Hydration', <HydrationText hydration={usage.data.hydration} />] as const] : []),
            ['Created', time(volume.data.createdAt)],
          ]}
        />
      ) : null}
      <h2>Partitions</h2>
      <ErrorNote error={partitions.error} title="Could not load the partitions" />
      <div class="partitions">{partitions.data?.map((partition) => <PartitionCard key={partition.partition} partition={partition} />)}</div>
      {volume.data && count < volume.data.partitionCount ? (
        <button type="button" onClick={() => setShown(shown + PAGE)}>
          Show {Math.min(PAGE, volume.data.partitionCount - count)} more of {volume.data.partitionCount - count}
        </button>
      ) : null}
    </Page>
  );
}
