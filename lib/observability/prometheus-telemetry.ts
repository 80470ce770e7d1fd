import { bytesPerSecond, type Telemetry } from './telemetry.js';

/** The Content-Type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Seconds: from a quarter millisecond (a cached read) to a minute (a rebuild). */
const LATENCY_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const GROUP_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];
/** Flush-lag series kept (one per partition flushed); the least recently flushed go first. */
const MAX_LAG_SERIES = 1024;
/** Deleted volumes remembered, so that a flush that ends just after its volume's delete adds no series back. */
const MAX_DELETED_VOLUMES = 1024;

type Labels = Readonly<Record<string, string>>;

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  const escape = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${pairs.map(([name, value]) => `${name}="${escape(value)}"`).join(',')}}`;
}

function number(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    this.buckets.forEach((bound, i) => {
      if (value <= bound) this.counts[i] = (this.counts[i] ?? 0) + 1;
    });
  }

  lines(name: string): string[] {
    return [
      ...this.buckets.map((bound, i) => `${name}_bucket${labelText({}, ['le', number(bound)])} ${this.counts[i] ?? 0}`),
      `${name}_bucket{le="+Inf"} ${this.count}`,
      `${name}_sum ${number(this.sum)}`,
      `${name}_count ${this.count}`,
    ];
  }
}

/**
 * Telemetry kept in the process, for the long-running head process and the embedded cloud,
 * which serves it at GET /metrics in the Prometheus text exposition format (version 0.0.4):
 * counters, gauges and latency histograms. Series carry no volume labels except the flush lag,
 * which is per partition, removed with its volume, and bounded: the others would grow a series per volume.
 */
export class PrometheusTelemetry implements Telemetry {
  private readonly counters = new Map<string, number>();
  private readonly histograms = {
    writeLatency: new Histogram(LATENCY_BUCKETS),
    readLatency: new Histogram(LATENCY_BUCKETS),
    groupSize: new Histogram(GROUP_BUCKETS),
    rebuild: new Histogram(LATENCY_BUCKETS),
  };
  private readonly flushLags = new Map<string, { labels: Labels; lag: number }>();
  /** Volume ids are never reused: a lag reported for one of these is a late report, not a new volume. */
  private readonly deletedVolumes = new Set<string>();
  private copyThroughput = 0;

  private inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  writeCommitted(event: Parameters<Telemetry['writeCommitted']>[0]): void {
    this.inc('writes');
    this.inc('write_bytes', event.bytes);
    this.histograms.writeLatency.observe(event.latencyMs / 1000);
    if (event.leadsOp === false) return;
    this.inc('write_ops');
    this.histograms.groupSize.observe(event.groupSize);
  }

  readServed(event: Parameters<Telemetry['readServed']>[0]): void {
    this.inc('read_ops');
    this.inc('read_bytes', event.bytes);
    this.histograms.readLatency.observe(event.latencyMs / 1000);
  }

  flushLag(event: Parameters<Telemetry['flushLag']>[0]): void {
    this.inc('flushes');
    if (this.deletedVolumes.has(event.volumeId)) return;
    const key = `${event.volumeId}#${event.partition}`;
    this.flushLags.delete(key);
    this.flushLags.set(key, { labels: { volume_id: event.volumeId, partition: String(event.partition) }, lag: Math.max(0, event.committedOp - event.flushedOp) });
    if (this.flushLags.size > MAX_LAG_SERIES) this.flushLags.delete(this.flushLags.keys().next().value as string);
  }

  rebuildFinished(event: Parameters<Telemetry['rebuildFinished']>[0]): void {
    this.inc('rebuilds');
    this.histograms.rebuild.observe(event.millis / 1000);
  }

  copyProgress(event: Parameters<Telemetry['copyProgress']>[0]): void {
    this.inc('copy_bytes', event.bytes);
    this.inc('copy_batches');
    this.copyThroughput = bytesPerSecond(event.bytes, event.millis);
  }

  hydrationRead(event: Parameters<Telemetry['hydrationRead']>[0]): void {
    this.inc(`hydration_reads_${event.source}`);
  }

  /**
   * A deleted volume's flush-lag series go from the next scrape on, as a series of an object
   * that is gone goes from an exporter: Prometheus then marks them stale instead of carrying
   * their last value on. A live volume's series stay however long ago its latest flush was.
   */
  volumeDeleted(event: Parameters<Telemetry['volumeDeleted']>[0]): void {
    for (const [key, { labels }] of this.flushLags) if (labels.volume_id === event.volumeId) this.flushLags.delete(key);
    this.deletedVolumes.add(event.volumeId);
    if (this.deletedVolumes.size > MAX_DELETED_VOLUMES) this.deletedVolumes.delete(this.deletedVolumes.values().next().value as string);
  }

  flush(): void {
    // Kept in memory and read by GET /metrics: nothing to send.
  }

  /** Every series in the Prometheus text exposition format. */
  exposition(): string {
    const out: string[] = [];
    const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const counter = (name: string, key: string, help: string) => family(name, 'counter', help, [`${name} ${number(this.counters.get(key) ?? 0)}`]);
    counter('sleds_write_ops_total', 'write_ops', 'Ops committed on both replicas (a grouped commit is one op).');
    counter('sleds_write_bytes_total', 'write_bytes', 'Bytes written.');
    counter('sleds_writes_total', 'writes', 'Write requests committed (each write of a grouped op counts).');
    family('sleds_write_latency_seconds', 'histogram', 'A write, from request to both replicas committed.', this.histograms.writeLatency.lines('sleds_write_latency_seconds'));
    family('sleds_group_size', 'histogram', 'Writes grouped into one note and one op.', this.histograms.groupSize.lines('sleds_group_size'));
    counter('sleds_read_ops_total', 'read_ops', 'Reads served.');
    counter('sleds_read_bytes_total', 'read_bytes', 'Bytes read.');
    family('sleds_read_latency_seconds', 'histogram', 'A read, from request to the last byte resolved.', this.histograms.readLatency.lines('sleds_read_latency_seconds'));
    counter('sleds_flushes_total', 'flushes', 'Flushes of a partition to its sleds.');
    family(
      'sleds_flush_lag_ops',
      'gauge',
      "Committed ops of a partition not yet flushed to its sleds, at the partition's latest flush.",
      [...this.flushLags.values()].map(({ labels, lag }) => `sleds_flush_lag_ops${labelText(labels)} ${lag}`),
    );
    counter('sleds_rebuilds_total', 'rebuilds', 'Lost replicas rebuilt.');
    family('sleds_rebuild_seconds', 'histogram', 'Building a lost replica, from checkpoint to serving as secondary.', this.histograms.rebuild.lines('sleds_rebuild_seconds'));
    counter('sleds_copy_bytes_total', 'copy_bytes', 'Bytes copied by copy jobs.');
    counter('sleds_copy_batches_total', 'copy_batches', 'Copy-job batches done.');
    family(
      'sleds_hydration_reads_total',
      'counter',
      "Chunk reads of a hydrating copy target's borrowed chunks, by the object that served them: the target's own verified copy, or the snapshot's.",
      (['own', 'snapshot'] as const).map((source) => `sleds_hydration_reads_total${labelText({ source })} ${number(this.counters.get(`hydration_reads_${source}`) ?? 0)}`),
    );
    family('sleds_copy_throughput_bytes_per_second', 'gauge', "Bytes per second of the latest copy-job batch.", [`sleds_copy_throughput_bytes_per_second ${number(this.copyThroughput)}`]);
    return `${out.join('\n')}\n`;
  }
}
