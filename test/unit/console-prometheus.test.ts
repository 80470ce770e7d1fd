import { describe, expect, it } from 'vitest';
import { histogram, largest, parsePrometheus, total } from '../../lib/console/app/prometheus.js';
import { PrometheusTelemetry } from '../../lib/observability/prometheus-telemetry.js';

describe("the console's Prometheus text parser", () => {
  it('reads what the embedded cloud serves: counters, the flush-lag gauge per partition, histograms', () => {
    const telemetry = new PrometheusTelemetry();
    for (const latencyMs of [0.3, 2, 2, 40]) telemetry.writeCommitted({ volumeId: 'vol-1', partition: 0, op: 1, bytes: 4096, latencyMs, groupSize: 2, leadsOp: true } as never);
    telemetry.readServed({ volumeId: 'vol-1', bytes: 8192, latencyMs: 1 } as never);
    telemetry.flushLag({ volumeId: 'vol-1', partition: 0, committedOp: 9, flushedOp: 4 } as never);
    telemetry.flushLag({ volumeId: 'vol-"2"\n', partition: 3, committedOp: 2, flushedOp: 2 } as never);
    telemetry.rebuildFinished({ millis: 1500 } as never);
    telemetry.copyProgress({ bytes: 1_048_576, millis: 500 } as never);
    const metrics = parsePrometheus(telemetry.exposition());

    expect(total(metrics, 'sleds_write_ops_total')).toBe(4);
    expect(total(metrics, 'sleds_write_bytes_total')).toBe(4 * 4096);
    expect(total(metrics, 'sleds_read_ops_total')).toBe(1);
    expect(metrics.get('sleds_write_latency_seconds')?.type).toBe('histogram');
    const write = histogram(metrics, 'sleds_write_latency_seconds')!;
    expect(write.count).toBe(4);
    expect(write.mean).toBeCloseTo((0.0003 + 0.002 + 0.002 + 0.04) / 4, 9);
    // Rank 2 of 4 falls in (0.001, 0.0025], which holds observations 2 and 3: halfway in, as histogram_quantile interpolates.
    expect(write.quantile(0.5)).toBeCloseTo(0.00175, 9);
    // The largest lies in (0.025, 0.05].
    expect(write.quantile(1)).toBeCloseTo(0.05, 9);
    expect(histogram(metrics, 'sleds_group_size')!.mean).toBe(2);
    expect(histogram(metrics, 'sleds_rebuild_seconds')).toMatchObject({ count: 1, sum: 1.5 });
    expect(largest(metrics, 'sleds_flush_lag_ops')).toEqual({ value: 5, series: 2 });
    const labels = metrics.get('sleds_flush_lag_ops')!.samples.map((s) => s.labels.volume_id);
    expect(labels).toEqual(['vol-1', 'vol-"2"\n']);
    expect(total(metrics, 'sleds_copy_throughput_bytes_per_second')).toBe(2_097_152);
  });

  it('knows nothing of a metric that is absent, and a histogram without observations has no mean or quantiles', () => {
    const metrics = parsePrometheus(new PrometheusTelemetry().exposition());
    expect(total(metrics, 'sleds_nothing_total')).toBeUndefined();
    expect(largest(metrics, 'sleds_flush_lag_ops')).toBeUndefined();
    const read = histogram(metrics, 'sleds_read_latency_seconds')!;
    expect(read).toMatchObject({ count: 0, sum: 0 });
    expect(read.mean).toBeUndefined();
    expect(read.quantile(0.99)).toBeUndefined();
  });

  it('takes +Inf, NaN, timestamps and untyped samples', () => {
    const metrics = parsePrometheus('x_total 3 1700000000000\ny NaN\nz{le="+Inf"} +Inf\n');
    expect(total(metrics, 'x_total')).toBe(3);
    expect(metrics.get('x_total')?.type).toBe('untyped');
    expect(Number.isNaN(total(metrics, 'y'))).toBe(true);
    expect(total(metrics, 'z')).toBe(Infinity);
  });

  it.each([
    ['sleds_x_total abc\n', /line 1: "abc" is not a number/],
    ['# TYPE a thing\n', /line 1: unknown type "thing"/],
    ['ok 1\nb{le=1} 2\n', /line 2: a label is not name="value"/],
    ['b{le="1} 2\n', /line 1: a label value is not closed/],
    ['{le="1"} 2\n', /line 1: no metric name/],
    ['a_total\n', /line 1: "" is not a number/],
  ])('refuses %j, naming the line', (text, message) => {
    expect(() => parsePrometheus(text)).toThrow(message);
  });
});
