import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { AwsClients } from '../lib/aws/clients.js';
import type { ServiceConfig } from '../lib/config.js';
import type { ThreadMemory } from '../lib/local/thread-stats.js';

/**
 * The soak's memory accounting. Every sample is taken after a full garbage collection on every
 * thread, so heaps hold live data only, and splits the process's resident set into who holds it:
 * the service on the main thread (its V8 heap; Buffers outside it, the head cache among them),
 * the emulators' threads, the load's thread (each: the heap's pages and the memory outside it),
 * and what no isolate accounts for (code, stacks, the allocator's free lists and fragments). Next to it, what the emulators store: S3 objects and DynamoDB
 * items, which is data, not a leak, as long as it stops growing with a fixed working set.
 */

const MIB = 1024 * 1024;

export interface EmulatedData {
  readonly s3Objects: number;
  readonly s3Bytes: number;
  readonly dynamoItems: number;
  /** The items' size as JSON on the wire: close to what an in-memory table holds. */
  readonly dynamoBytes: number;
}

export interface MemorySample extends EmulatedData {
  /** Seconds since the load started. */
  readonly t: number;
  readonly rss: number;
  readonly service: ThreadMemory;
  /** The head cache's bytes (part of the service's arrayBuffers; bounded by SLEDS_HEAD_CACHE_MIB). */
  readonly headCache: number;
  readonly emulators: readonly ThreadMemory[];
  readonly load: ThreadMemory;
}

/** What the emulators hold for the service: every object of the sled buckets, every item of its tables. */
export async function emulatedData(clients: AwsClients, config: ServiceConfig): Promise<EmulatedData> {
  let s3Objects = 0;
  let s3Bytes = 0;
  for (const bucket of config.sledBuckets) {
    let token: string | undefined;
    do {
      const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
      for (const object of page.Contents ?? []) {
        s3Objects++;
        s3Bytes += object.Size ?? 0;
      }
      token = page.NextContinuationToken;
    } while (token);
  }
  let dynamoItems = 0;
  let dynamoBytes = 0;
  for (const table of new Set(Object.values(config.tables))) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await clients.dynamodb.send(new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start as never } : {}) }));
      for (const item of page.Items ?? []) {
        dynamoItems++;
        dynamoBytes += Buffer.byteLength(JSON.stringify(item));
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return { s3Objects, s3Bytes, dynamoItems, dynamoBytes };
}

const heapAndOutside = (m: ThreadMemory) => m.heapTotal + m.external;
const sum = (ms: readonly ThreadMemory[]) => ms.reduce((a, m) => a + heapAndOutside(m), 0);

/** The series a verdict looks at, in bytes, by name. */
export function series(sample: MemorySample): Record<SeriesName, number> {
  const accounted = heapAndOutside(sample.service) + sum(sample.emulators) + heapAndOutside(sample.load);
  return {
    rss: sample.rss,
    service: heapAndOutside(sample.service),
    serviceHeap: sample.service.heapUsed,
    headCache: sample.headCache,
    emulators: sum(sample.emulators),
    emulatedData: sample.s3Bytes + sample.dynamoBytes,
    load: heapAndOutside(sample.load),
    unaccounted: sample.rss - accounted,
  };
}
export const SERIES = ['rss', 'service', 'serviceHeap', 'headCache', 'emulators', 'emulatedData', 'load', 'unaccounted'] as const;
export type SeriesName = (typeof SERIES)[number];

/** Least-squares slope of `values` over `times` (seconds), in bytes per minute; NaN under two points. */
export function slopePerMinute(times: readonly number[], values: readonly number[]): number {
  const n = times.length;
  if (n < 2) return Number.NaN;
  const mt = times.reduce((a, t) => a + t, 0) / n;
  const mv = values.reduce((a, v) => a + v, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((times[i] as number) - mt) * ((values[i] as number) - mv);
    den += ((times[i] as number) - mt) ** 2;
  }
  return den === 0 ? Number.NaN : (num / den) * 60;
}

export interface Trend {
  readonly name: SeriesName;
  /** Bytes per minute over the second half of the run. */
  readonly slope: number;
  /** The mean over the second half, in bytes. */
  readonly level: number;
  readonly plateaued: boolean;
}

export interface MemoryVerdict {
  readonly plateaued: boolean;
  readonly trends: readonly Trend[];
  readonly text: string;
}

/**
 * A series has plateaued when, over the second half of the run, its trend would add less than
 * `tolerance` (default 5%) of its level per minute, or less than `floorMib` (default 4 MiB) a
 * minute: a small series' noise is not growth. Memory plateaued when the resident set did; if
 * it did not, the verdict names the parts that grow, and says whether the emulators' stored
 * data (data, not a leak) accounts for them.
 */
export function memoryVerdict(samples: readonly MemorySample[], options: { tolerance?: number; floorMib?: number } = {}): MemoryVerdict {
  const tolerance = options.tolerance ?? 0.05;
  const floor = (options.floorMib ?? 4) * MIB;
  const end = samples.at(-1)?.t ?? 0;
  const half = samples.filter((s) => s.t >= end / 2);
  const times = half.map((s) => s.t);
  const trends = SERIES.map((name): Trend => {
    const values = half.map((s) => series(s)[name]);
    const slope = slopePerMinute(times, values);
    const level = values.reduce((a, v) => a + v, 0) / Math.max(1, values.length);
    return { name, slope, level, plateaued: Number.isFinite(slope) && slope < Math.max(floor, tolerance * Math.abs(level)) };
  });
  const rss = trends[0] as Trend;
  const growing = trends.filter((t) => !t.plateaued && t.name !== 'rss');
  const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)}`;
  const text = !Number.isFinite(rss.slope)
    ? 'no verdict: too few samples in the second half'
    : rss.plateaued
      ? `memory plateaued: RSS ${mib(rss.level)} MiB, ${mib(rss.slope)} MiB/min over the second half`
      : `memory still grows: RSS +${mib(rss.slope)} MiB/min over the second half; growing: ${growing.map((t) => `${t.name} +${mib(t.slope)} MiB/min`).join(', ') || 'no single part'}` +
        (growing.every((t) => t.name === 'emulatedData' || t.name === 'emulators') && growing.length > 0 ? ' (the emulators: stored data)' : '');
  const service = trends.find((t) => t.name === 'service') as Trend;
  const serviceText = Number.isFinite(service.slope) ? `; the service's own memory (heap and Buffers) ${service.plateaued ? 'plateaued' : 'grows'} (${mib(service.slope)} MiB/min)` : '';
  return { plateaued: rss.plateaued, trends, text: text + serviceText };
}
