/**
 * Human input and output for the CLI: parsing what people type (sizes, counts, ids, URLs)
 * and rendering what they read (tables, detail blocks, error lines). Pure functions only,
 * so they are tested without a network or a terminal.
 */
import { SledsError } from '../errors.js';
import { formatSize, parseSize } from '../units/sizes.js';
import { copyJobIdSchema } from '../copy-jobs/copy-job.js';
import { snapshotIdSchema } from '../snapshots/snapshot.js';
import { isVolumeId, type Volume } from '../volumes/volume.js';
import type { PartitionStatus } from './volume-api.js';

/** The command line itself is wrong; the CLI refused before calling the API (exit status 2). */
export class UsageError extends SledsError {
  constructor(message: string) {
    super('UsageError', 400, message);
  }
}

/** Parses a human size such as "1GiB" given for `flag`; a UsageError names the flag. */
export function parseSizeArgument(text: string, flag: string): number {
  let bytes: number;
  try {
    bytes = parseSize(text);
  } catch (error) {
    throw new UsageError(`invalid ${flag}: ${(error as Error).message}`);
  }
  if (bytes <= 0) throw new UsageError(`invalid ${flag}: "${text}" must be more than 0 bytes`);
  return bytes;
}

/**
 * Parses a byte offset such as "0", "4MiB" or "1GiB" given for `flag`; unlike a size it may
 * be 0. It must be a multiple of `alignment` (the API's 4096-byte block), checked here so a
 * mistake costs no round trip.
 */
export function parseOffsetArgument(text: string, flag: string, alignment = 4096): number {
  let bytes: number;
  try {
    bytes = parseSize(text);
  } catch (error) {
    throw new UsageError(`invalid ${flag}: ${(error as Error).message}`);
  }
  if (bytes % alignment !== 0) {
    throw new UsageError(`invalid ${flag}: ${text} (${bytes} bytes) is not a multiple of ${alignment} bytes`);
  }
  return bytes;
}

/** Parses a whole number of at least `min` given for `flag`. */
export function parseCountArgument(text: string, flag: string, min = 1): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`invalid ${flag}: "${text}" is not a whole number of at least ${min}`);
  }
  return value;
}

/** Checks a volume id argument locally, so a typo is a usage error rather than a round trip. */
export function parseVolumeIdArgument(text: string): string {
  const id = text.trim();
  if (!isVolumeId(id)) {
    throw new UsageError(`"${text}" is not a volume id; ids look like vol-0123456789abcdef0`);
  }
  return id;
}

/** Checks a snapshot id argument locally, as parseVolumeIdArgument does for volumes. */
export function parseSnapshotIdArgument(text: string): string {
  const id = text.trim();
  if (!snapshotIdSchema.safeParse(id).success) {
    throw new UsageError(`"${text}" is not a snapshot id; ids look like snap-0123456789abcdef0`);
  }
  return id;
}

/** Checks a copy job id argument locally, as parseVolumeIdArgument does for volumes. */
export function parseJobIdArgument(text: string): string {
  const id = text.trim();
  if (!copyJobIdSchema.safeParse(id).success) {
    throw new UsageError(`"${text}" is not a copy job id; ids look like copy-0123456789abcdef0`);
  }
  return id;
}

/** Parses an API base URL given with --endpoint; drops trailing slashes so paths can be appended. */
export function parseEndpointArgument(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new UsageError(`invalid --endpoint: "${text}" is not a URL; use one such as http://127.0.0.1:4510`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`invalid --endpoint: "${text}" must be an http:// or https:// URL`);
  }
  if (url.search || url.hash) {
    throw new UsageError(`invalid --endpoint: "${text}" must not carry a query or fragment`);
  }
  return url.href.replace(/\/+$/, '');
}

export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

/**
 * Renders rows as a table whose columns are padded to their widest cell and separated by
 * two spaces. Lines carry no trailing spaces, so output diffs and greps cleanly.
 */
export function formatTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] ?? 0;
        return column.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join('\n');
}

/** Renders an ISO timestamp to the second, in UTC: "2025-06-01 12:34:56Z". */
export function formatTimestamp(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** "1 volume", "3 volumes". */
export function formatCount(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

const VOLUME_COLUMNS: readonly Column[] = [
  { header: 'VOLUME ID' },
  { header: 'NAME' },
  { header: 'SIZE', align: 'right' },
  { header: 'CHUNK', align: 'right' },
  { header: 'PARTITIONS', align: 'right' },
  { header: 'STATE' },
  { header: 'CREATED' },
];

/** The `sleds volume list` table. */
export function formatVolumeTable(volumes: readonly Volume[]): string {
  return formatTable(
    VOLUME_COLUMNS,
    volumes.map((volume) => [
      volume.volumeId,
      volume.name ?? '-',
      formatSize(volume.sizeBytes),
      formatSize(volume.chunkSizeBytes),
      String(volume.partitionCount),
      volume.state,
      formatTimestamp(volume.createdAt),
    ]),
  );
}

/** The `sleds volume show` block: one labelled line per field, sizes in binary units. */
export function formatVolumeDetails(volume: Volume): string {
  const partitionBytes = volume.chunkSizeBytes * volume.partitionChunks;
  const rows: Array<[string, string]> = [
    ['Volume ID', volume.volumeId],
    ['Name', volume.name ?? '-'],
    ['Size', `${formatSize(volume.sizeBytes)} (${volume.sizeBytes} bytes)`],
    ['Chunk size', formatSize(volume.chunkSizeBytes)],
    [
      'Partitions',
      `${volume.partitionCount} of ${formatCount(volume.partitionChunks, 'chunk')} (${formatSize(partitionBytes)} each)`,
    ],
    ['State', volume.state],
    ['Created', formatTimestamp(volume.createdAt)],
    ['Updated', formatTimestamp(volume.updatedAt)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');

/** The `sleds volume partition` block: the partition's range, then one table row per replica. */
export function formatPartitionStatus(status: PartitionStatus): string {
  const end = status.offset + status.sizeBytes;
  const rows: Array<[string, string]> = [
    ['Volume ID', status.volumeId],
    ['Partition', String(status.partition)],
    ['Range', `${formatSize(status.offset)} to ${formatSize(end)} (bytes ${status.offset} to ${end - 1}, ${formatSize(status.sizeBytes)})`],
    ['Initialized', `${yesNo(status.initialized)}${status.initialized ? '' : ' (no write yet)'}`],
    ['Epoch', String(status.epoch)],
    ['In sync', `${yesNo(status.inSync)}${status.inSync ? '' : ' (the replicas hold different last ops)'}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const details = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
  const replicas = [status.primary, status.secondary];
  const table = formatTable(
    [
      { header: 'ROLE' },
      { header: 'REPLICA' },
      { header: 'SLED', align: 'right' },
      { header: 'EPOCH', align: 'right' },
      { header: 'LAST OP', align: 'right' },
      { header: 'PENDING NOTES', align: 'right' },
    ],
    replicas.map((replica) => [
      replica.role,
      replica.replicaId,
      String(replica.sled),
      String(replica.epoch),
      String(replica.lastCommittedOp),
      String(replica.pendingNotes.length),
    ]),
  );
  const pending = replicas
    .filter((replica) => replica.pendingNotes.length > 0)
    .map((replica) => `Pending on ${replica.role}: ${replica.pendingNotes.join(', ')}`);
  return [details, '', table, ...pending].join('\n');
}

/** Machine output: stable, indented JSON with a final newline. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The one-line error report: `sleds: <message> (<code>)`. */
export function formatErrorLine(error: unknown): string {
  if (error instanceof SledsError) return `sleds: ${error.message} (${error.code})`;
  const message = error instanceof Error ? error.message : String(error);
  return `sleds: ${message} (InternalError)`;
}
