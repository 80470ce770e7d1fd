import type { CopyJobStatus } from '../copy-jobs/copy-job.js';
import type { Snapshot } from '../snapshots/snapshot.js';
import type { Volume } from '../volumes/volume.js';
import { UnexpectedResponseError } from './api-errors.js';
import { ApiTransport } from './api-transport.js';
import {
  copyJobEventsSchema,
  copyJobPageSchema,
  copyJobSchema,
  copyJobStartedSchema,
  snapshotPageSchema,
  snapshotSchema,
  type CopyJobEvents,
  type CopyJobListPage,
  type SnapshotListPage,
  type CopyJobStarted,
  type CreateCopyJobRequest,
} from './copy-job-api.js';
import {
  allocationSchema,
  dataPath,
  deleteSchema,
  pageSchema,
  partitionSchema,
  volumeSchema,
  writeResultSchema,
  type Allocation,
  type CreateVolumeRequest,
  type DeleteVolumeResult,
  type PartitionStatus,
  type VolumeListPage,
  type WriteResult,
  type ZeroRangeRequest,
} from './volume-api.js';

interface PageOptions {
  readonly limit?: number;
  readonly nextToken?: string;
}

/** `?limit=&nextToken=` of a listing, or nothing. */
function pageSearch(options: PageOptions): string {
  const query = new URLSearchParams();
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  if (options.nextToken !== undefined) query.set('nextToken', options.nextToken);
  return query.size > 0 ? `?${query}` : '';
}

/**
 * A small client for the Sleds HTTP API. Every method either returns the parsed body or
 * throws a SledsError: ApiError for answers from the API, ApiUnreachableError when nothing
 * answers, UnexpectedResponseError when something that is not the API answers.
 */
export class SledsApiClient extends ApiTransport {
  /** Creates a volume; returns it as the API stored it. */
  createVolume(request: CreateVolumeRequest): Promise<Volume> {
    return this.request('POST', '/volumes', volumeSchema, { json: request });
  }

  /** Fetches one page of volumes. */
  listVolumes(options: PageOptions = {}): Promise<VolumeListPage> {
    return this.request('GET', `/volumes${pageSearch(options)}`, pageSchema);
  }

  /** Yields every page of volumes, following nextToken until the last page. */
  listVolumePages(options: { limit?: number } = {}): AsyncGenerator<VolumeListPage> {
    return this.pages('volumes', (nextToken) => this.listVolumes({ ...options, ...(nextToken ? { nextToken } : {}) }));
  }

  /** Fetches one page of snapshots (in no particular order). */
  listSnapshots(options: PageOptions = {}): Promise<SnapshotListPage> {
    return this.request('GET', `/snapshots${pageSearch(options)}`, snapshotPageSchema);
  }

  /** Yields every page of snapshots. */
  listSnapshotPages(options: { limit?: number } = {}): AsyncGenerator<SnapshotListPage> {
    return this.pages('snapshots', (nextToken) => this.listSnapshots({ ...options, ...(nextToken ? { nextToken } : {}) }));
  }

  /** Fetches one page of copy jobs (in no particular order), each with its progress but not its plan. */
  listCopyJobs(options: PageOptions = {}): Promise<CopyJobListPage> {
    return this.request('GET', `/copy-jobs${pageSearch(options)}`, copyJobPageSchema);
  }

  /** Yields every page of copy jobs. */
  listCopyJobPages(options: { limit?: number } = {}): AsyncGenerator<CopyJobListPage> {
    return this.pages('copy jobs', (nextToken) => this.listCopyJobs({ ...options, ...(nextToken ? { nextToken } : {}) }));
  }

  /** Follows nextToken from page to page until the last. */
  private async *pages<P extends { readonly nextToken?: string }>(what: string, page: (nextToken?: string) => Promise<P>): AsyncGenerator<P> {
    const seen = new Set<string>();
    let nextToken: string | undefined;
    do {
      const answer = await page(nextToken);
      yield answer;
      nextToken = answer.nextToken;
      // A token seen before would loop forever; the API never does that, a stand-in might.
      if (nextToken !== undefined) {
        if (seen.has(nextToken)) throw new UnexpectedResponseError(`${this.endpoint} returned the same nextToken twice while listing ${what}.`);
        seen.add(nextToken);
      }
    } while (nextToken !== undefined);
  }

  /** Fetches one volume; throws ApiError with code VolumeNotFound when it does not exist. */
  getVolume(volumeId: string): Promise<Volume> {
    return this.request('GET', `/volumes/${encodeURIComponent(volumeId)}`, volumeSchema);
  }

  /** Deletes a volume and its data. */
  deleteVolume(volumeId: string): Promise<DeleteVolumeResult> {
    return this.request('DELETE', `/volumes/${encodeURIComponent(volumeId)}`, deleteSchema);
  }

  /**
   * Writes `data` at `offset` (both multiples of 4096, at most 4 MiB). With an
   * idempotency key a retry of the same write returns the first result instead of writing again.
   */
  writeData(volumeId: string, offset: number, data: Uint8Array, options: { idempotencyKey?: string } = {}): Promise<WriteResult> {
    return this.request('PUT', `${dataPath(volumeId)}?offset=${offset}`, writeResultSchema, {
      binary: data,
      headers: options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey },
    });
  }

  /** Reads `length` bytes at `offset`: the newest committed data, zeros where nothing was written. */
  async readData(volumeId: string, offset: number, length: number): Promise<Buffer> {
    const method = 'GET';
    const path = `${dataPath(volumeId)}?offset=${offset}&length=${length}`;
    const response = await this.send(method, path, { accept: 'application/octet-stream' });
    if (!response.ok) await this.fail(method, path, response, await response.text());
    const type = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    const bytes = Buffer.from(await response.arrayBuffer());
    if (type !== 'application/octet-stream' || bytes.length !== length) {
      throw new UnexpectedResponseError(
        `${method} ${this.endpoint}${path} answered ${bytes.length} bytes of ${type ?? 'no content type'} ` +
          `instead of ${length} bytes of application/octet-stream; is ${this.endpoint} a Sleds API?`,
      );
    }
    return bytes;
  }

  /** Makes a range read as zeros (a discard of any size): one op per partition, nothing stored. */
  zeroData(volumeId: string, range: ZeroRangeRequest, options: { idempotencyKey?: string } = {}): Promise<WriteResult> {
    return this.request('POST', `/volumes/${encodeURIComponent(volumeId)}/zero`, writeResultSchema, {
      json: range,
      headers: options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey },
    });
  }

  /** Maps a range (default: the whole volume) to runs that hold data or read as zeros. */
  getAllocation(volumeId: string, range: { offset?: number; length?: number } = {}): Promise<Allocation> {
    const query = new URLSearchParams();
    if (range.offset !== undefined) query.set('offset', String(range.offset));
    if (range.length !== undefined) query.set('length', String(range.length));
    const search = query.size > 0 ? `?${query}` : '';
    return this.request('GET', `/volumes/${encodeURIComponent(volumeId)}/allocation${search}`, allocationSchema);
  }

  /** Fetches the head-node replicas of one partition: epochs, committed ops, pending notes. */
  getPartition(volumeId: string, partition: number): Promise<PartitionStatus> {
    return this.request('GET', `/volumes/${encodeURIComponent(volumeId)}/partitions/${partition}`, partitionSchema);
  }

  /** Snapshots the volume at its committed ops; the chunks are stored in the background. */
  createSnapshot(volumeId: string): Promise<Snapshot> {
    return this.request('POST', `/volumes/${encodeURIComponent(volumeId)}/snapshots`, snapshotSchema);
  }

  /** Fetches a snapshot: its state and how far storing its partitions has got. */
  getSnapshot(snapshotId: string): Promise<Snapshot> {
    return this.request('GET', `/snapshots/${encodeURIComponent(snapshotId)}`, snapshotSchema);
  }

  /** Starts a copy job that makes `count` new volumes from a completed snapshot. */
  createCopyJob(snapshotId: string, request: CreateCopyJobRequest): Promise<CopyJobStarted> {
    return this.request('POST', `/snapshots/${encodeURIComponent(snapshotId)}/copies`, copyJobStartedSchema, { json: request });
  }

  /** Fetches a copy job: state, rounds, intermediaries, bytes, throughput and ETA. */
  getCopyJob(jobId: string): Promise<CopyJobStatus> {
    return this.request('GET', `/copy-jobs/${encodeURIComponent(jobId)}`, copyJobSchema);
  }

  /** Fetches the state transitions of a copy job's execution. */
  listCopyJobEvents(jobId: string): Promise<CopyJobEvents> {
    return this.request('GET', `/copy-jobs/${encodeURIComponent(jobId)}/events`, copyJobEventsSchema);
  }
}
