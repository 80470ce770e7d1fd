/**
 * Input and output of `sleds snapshot`, `sleds copy` and `sleds job`: parsing the copy
 * options, and rendering snapshots, copy jobs, their progress and their events. Pure
 * functions only, like format.ts, so they are tested without a network or a terminal.
 */
import { COPY_MODES, MAX_COPY_COUNT, MAX_SOURCE_FANOUT, type CopyJobStatus, type CopyMode } from '../copy-jobs/copy-job.js';
import type { CopyJobSummary } from '../listings/copy-job-listing.js';
import type { JobHydration } from '../copy-jobs/hydration.js';
import type { WorkflowEvent } from '../copy-jobs/ports.js';
import type { Snapshot } from '../snapshots/snapshot.js';
import { formatSize } from '../units/sizes.js';
import type { CopyJobStarted } from './copy-job-api.js';
import { UsageError, formatCount, formatTable, formatTimestamp, parseCountArgument, type Column } from './format.js';
import { formatElapsed, formatEta, formatRate } from './progress.js';

/** The API's rule for client tokens, checked here so a bad one costs no round trip. */
const CLIENT_TOKEN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** `sleds copy` lists this many volume ids; --json lists them all. */
export const LISTED_VOLUMES = 10;

/** Parses --count: 1 to MAX_COPY_COUNT new volumes. */
export function parseCopyCountArgument(text: string): number {
  const value = parseCountArgument(text, '--count');
  if (value > MAX_COPY_COUNT) {
    throw new UsageError(`invalid --count: ${value} is more than ${MAX_COPY_COUNT}, the most volumes one copy job makes`);
  }
  return value;
}

/** Parses --max-source-fanout: 1 to MAX_SOURCE_FANOUT concurrent reads of one source copy. */
export function parseFanoutArgument(text: string): number {
  const value = parseCountArgument(text, '--max-source-fanout');
  if (value > MAX_SOURCE_FANOUT) {
    throw new UsageError(`invalid --max-source-fanout: ${value} is more than ${MAX_SOURCE_FANOUT}`);
  }
  return value;
}

/** Parses --mode: one of COPY_MODES. */
export function parseCopyModeArgument(text: string): CopyMode {
  const mode = COPY_MODES.find((candidate) => candidate === text.trim());
  if (mode === undefined) throw new UsageError(`invalid --mode: "${text}"; use ${COPY_MODES.join(', ')}`);
  return mode;
}

/** Parses --client-token: 1 to 64 letters, digits or _ . : - (what the API accepts). */
export function parseClientTokenArgument(text: string): string {
  if (!CLIENT_TOKEN.test(text)) {
    throw new UsageError(`invalid --client-token: "${text}" must be 1 to 64 letters, digits or _ . : -`);
  }
  return text;
}

/** Label-value lines with the values lined up, as `volume show` prints them. */
function formatDetails(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

/** Milliseconds between two ISO timestamps; undefined when either is missing or unreadable. */
function between(from: string | undefined, to: string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

/** "vol-a, vol-b, vol-c and 2 more": a few ids on one line. */
export function formatIdList(ids: readonly string[], max = 3): string {
  if (ids.length === 0) return '-';
  const shown = ids.slice(0, max).join(', ');
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

/** What the snapshot bar shows after its count of partitions: "16 chunks, 1 MiB stored". */
export function snapshotStatusText(snapshot: Snapshot): string {
  const { chunksStored, bytesStored } = snapshot.progress;
  return `${formatCount(chunksStored, 'chunk')}, ${formatSize(bytesStored)} stored`;
}

/** The `sleds snapshot show` block. */
export function formatSnapshotDetails(snapshot: Snapshot): string {
  const { partitionsDone, partitionsTotal, chunksStored, bytesStored } = snapshot.progress;
  const partitionBytes = snapshot.chunkSizeBytes * snapshot.partitionChunks;
  const took = between(snapshot.createdAt, snapshot.completedAt);
  const rows: Array<[string, string]> = [
    ['Snapshot ID', snapshot.snapshotId],
    ['Volume ID', snapshot.volumeId],
    ['State', snapshot.state],
    ['Size', `${formatSize(snapshot.sizeBytes)} (${snapshot.sizeBytes} bytes)`],
    ['Chunk size', formatSize(snapshot.chunkSizeBytes)],
    [
      'Partitions',
      `${snapshot.partitionCount} of ${formatCount(snapshot.partitionChunks, 'chunk')} (${formatSize(partitionBytes)} each), ` +
        // Partitions never written are all zeros: they are not stored, and copies skip them.
        `${partitionsTotal} with data`,
    ],
    [
      'Stored',
      `${partitionsDone} of ${formatCount(partitionsTotal, 'partition')}, ${formatCount(chunksStored, 'chunk')}, ${formatSize(bytesStored)}`,
    ],
    ['Created', formatTimestamp(snapshot.createdAt)],
  ];
  if (snapshot.completedAt !== undefined) {
    rows.push(['Completed', `${formatTimestamp(snapshot.completedAt)}${took === undefined ? '' : ` (took ${formatElapsed(took)})`}`]);
  }
  return formatDetails(rows);
}

const intermediaries = (count: number) => formatCount(count, 'intermediary', 'intermediaries');

/** True once the job has a plan: before that its totals are all zero. */
export function isPlanned(job: CopyJobStatus): boolean {
  return job.progress.roundsPlanned > 0 || job.progress.bytesTotal > 0 || job.state !== 'running';
}

/** "; usable now, 3/32 hydrated (41%)": the targets serve reads and writes while the job copies. */
function hydrationText(job: CopyJobStatus & { hydration?: JobHydration }): string {
  const hydration = job.hydration;
  if (!hydration) return '';
  return `; targets usable now, ${hydration.targetsComplete}/${job.volumeIds.length} hydrated (${hydration.percent}%)`;
}

/**
 * The status after the copy bar: "planning", "round 2/3, 12 intermediaries", then
 * "verifying targets 3/5" and "removing intermediaries 4/12" once the bytes are copied.
 */
export function copyJobStatusText(job: CopyJobStatus): string {
  const { roundsPlanned, roundsDone, intermediariesCreated, intermediariesRemoved, bytesCopied, bytesTotal, targetsVerified } =
    job.progress;
  const targets = job.volumeIds.length;
  if (job.state === 'failed') return 'failed';
  if (job.state === 'succeeded') {
    return `done, ${formatCount(targets, 'target')} verified, ${intermediaries(intermediariesRemoved)} removed`;
  }
  if (!isPlanned(job)) return `planning ${formatCount(targets, 'volume')}`;
  if (bytesCopied < bytesTotal) {
    // A swarm runs all its slots at once, with no intermediaries.
    if (job.mode === 'swarm') return `swarm of ${formatCount(roundsPlanned, 'slot')}${hydrationText(job)}`;
    return `round ${Math.min(roundsDone + 1, roundsPlanned)}/${roundsPlanned}, ${intermediaries(intermediariesCreated)}${hydrationText(job)}`;
  }
  if (targetsVerified < targets) return `verifying targets ${targetsVerified}/${targets}`;
  return `removing intermediaries ${intermediariesRemoved}/${intermediariesCreated}`;
}

/**
 * The line after a copy job succeeds: "copied 32 volumes (1 GiB) in 4.2 s, 3 rounds, 12
 * intermediaries created and removed". The size is what the targets received when
 * `snapshotBytes` (the snapshot's stored bytes) is known, else every byte copied,
 * intermediaries included. The time runs from the request to the end of the job.
 */
export function formatCopySummary(job: CopyJobStatus, snapshotBytes?: number): string {
  const { roundsPlanned, intermediariesCreated: created, intermediariesRemoved: removed, bytesCopied } = job.progress;
  const targets = job.volumeIds.length;
  const bytes = snapshotBytes === undefined ? bytesCopied : snapshotBytes * targets;
  const took = between(job.createdAt, job.finishedAt);
  const middle = [`copied ${formatCount(targets, 'volume')} (${formatSize(bytes)})`];
  if (took !== undefined) middle.push(`in ${formatElapsed(took)}`);
  const extras = [formatCount(roundsPlanned, job.mode === 'swarm' ? 'slot' : 'round')];
  if (created === 0) extras.push('no intermediaries');
  else if (removed === created) extras.push(`${intermediaries(created)} created and removed`);
  else extras.push(`${intermediaries(created)} created, ${removed} removed`);
  return `${middle.join(' ')}, ${extras.join(', ')}`;
}

/** The human answer to `sleds copy` without --watch: the job id and the new volumes. */
export function formatCopyStarted(started: CopyJobStarted, snapshotId: string, max = LISTED_VOLUMES): string {
  const ids = started.volumeIds;
  const lines = [`Started copy job ${started.jobId}: ${formatCount(ids.length, 'volume')} from ${snapshotId}`];
  lines.push(...ids.slice(0, max).map((id) => `  ${id}`));
  if (ids.length > max) lines.push(`  ... and ${ids.length - max} more (--json lists them all)`);
  return lines.join('\n');
}

/** The `sleds job show` block, then the fan-out plan when the job has one. */
export function formatCopyJobDetails(job: CopyJobStatus): string {
  const p = job.progress;
  const targets = job.volumeIds.length;
  const planned = isPlanned(job);
  const rows: Array<[string, string]> = [
    ['Job ID', job.jobId],
    ['Snapshot', job.snapshotId],
    ['State', job.state === 'running' ? `running (${copyJobStatusText(job)})` : job.state],
    ['Mode', `${job.mode}, at most ${job.maxSourceFanout} concurrent reads per source copy`],
    ['Volumes', `${targets}: ${formatIdList(job.volumeIds)}`],
    [
      'Progress',
      planned
        ? `${job.percent}%, ${formatSize(p.bytesCopied)} of ${formatSize(p.bytesTotal)} (${p.chunksCopied} of ${formatCount(p.chunksTotal, 'chunk')})`
        : 'not planned yet',
    ],
    job.mode === 'swarm' ? ['Slots', `${p.roundsPlanned}, run at once`] : ['Rounds', `${p.roundsDone} of ${p.roundsPlanned} done`],
    ['Intermediaries', `${p.intermediariesCreated} created, ${p.intermediariesRemoved} removed`],
    ['Verified', `${p.targetsVerified} of ${formatCount(targets, 'target')}`],
  ];
  if (job.startedCopyingAt !== undefined) rows.push(['Throughput', formatRate(job.throughputBytesPerSecond)]);
  if (job.state === 'running') rows.push(['ETA', formatEta(job.etaSeconds ?? Number.NaN)]);
  rows.push(['Execution', job.executionArn], ['Created', formatTimestamp(job.createdAt)]);
  if (job.startedCopyingAt !== undefined) rows.push(['Started copying', formatTimestamp(job.startedCopyingAt)]);
  if (job.finishedAt !== undefined) {
    const took = between(job.createdAt, job.finishedAt);
    rows.push(['Finished', `${formatTimestamp(job.finishedAt)}${took === undefined ? '' : ` (took ${formatElapsed(took)})`}`]);
  }
  if (job.error !== undefined) rows.push(['Error', job.error]);
  const plan = job.plan?.trimEnd();
  return [formatDetails(rows), '', plan ? plan : '(no plan yet)'].join('\n');
}

/** "+1.234s": seconds since the first event, to the millisecond. */
export function formatOffset(ms: number): string {
  return `+${(Math.max(0, ms) / 1000).toFixed(3)}s`;
}

/**
 * The `sleds job events` table: time since the first event, type, state, Map index, and a
 * detail column only when some event carries an error.
 */
export function formatCopyJobEvents(events: readonly WorkflowEvent[]): string {
  const times = events.map((event) => Date.parse(event.timestamp));
  // Parallel branches log out of timestamp order; offsets count from the earliest, never below 0.
  const start = Math.min(...times.filter(Number.isFinite));
  const detail = (event: WorkflowEvent) => [event.error, event.cause].filter((part) => part !== undefined && part !== '').join(': ');
  const withDetail = events.some((event) => detail(event) !== '');
  const columns: Column[] = [
    { header: 'TIME', align: 'right' },
    { header: 'TYPE' },
    { header: 'STATE' },
    { header: 'INDEX', align: 'right' },
    ...(withDetail ? [{ header: 'DETAIL' }] : []),
  ];
  const rows = events.map((event, i) => {
    const time = times[i] ?? Number.NaN;
    return [
      Number.isFinite(time) ? formatOffset(time - start) : event.timestamp,
      event.type,
      event.state ?? '-',
      event.index === undefined ? '-' : String(event.index),
      ...(withDetail ? [detail(event) || '-'] : []),
    ];
  });
  return formatTable(columns, rows);
}

const SNAPSHOT_COLUMNS: readonly Column[] = [
  { header: 'SNAPSHOT ID' },
  { header: 'VOLUME ID' },
  { header: 'STATE' },
  { header: 'SIZE', align: 'right' },
  { header: 'STORED', align: 'right' },
  { header: 'CREATED' },
];

/** The `sleds snapshot list` table, newest first. */
export function formatSnapshotTable(snapshots: readonly Snapshot[]): string {
  return formatTable(
    SNAPSHOT_COLUMNS,
    [...snapshots]
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((snapshot) => [
        snapshot.snapshotId,
        snapshot.volumeId,
        snapshot.state,
        formatSize(snapshot.sizeBytes),
        `${snapshot.progress.partitionsDone}/${snapshot.progress.partitionsTotal}, ${formatSize(snapshot.progress.bytesStored)}`,
        formatTimestamp(snapshot.createdAt),
      ]),
  );
}

const JOB_COLUMNS: readonly Column[] = [
  { header: 'JOB ID' },
  { header: 'SNAPSHOT ID' },
  { header: 'COPIES', align: 'right' },
  { header: 'MODE' },
  { header: 'STATE' },
  { header: 'DONE', align: 'right' },
  { header: 'ETA', align: 'right' },
  { header: 'CREATED' },
];

/** The `sleds job list` table, newest first. */
export function formatCopyJobTable(jobs: readonly CopyJobSummary[]): string {
  return formatTable(
    JOB_COLUMNS,
    [...jobs]
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((job) => [
        job.jobId,
        job.snapshotId,
        String(job.volumeIds.length),
        job.mode,
        job.state,
        `${job.percent}%`,
        job.state === 'running' && job.etaSeconds !== null ? formatEta(job.etaSeconds) : '-',
        formatTimestamp(job.createdAt),
      ]),
  );
}
