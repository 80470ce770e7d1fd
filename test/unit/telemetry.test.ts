import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { signRequest } from '../../lib/api/sign-requests.js';
import { metricsResponse } from '../../lib/local/metrics-route.js';
import { sigV4Authorizer } from '../../lib/local/sigv4-auth.js';
import { EmfTelemetry } from '../../lib/observability/emf-telemetry.js';
import { METRICS } from '../../lib/observability/metrics.js';
import { localMetrics } from '../../lib/observability/process-telemetry.js';
import { PrometheusTelemetry } from '../../lib/observability/prometheus-telemetry.js';
import { fanOut, noTelemetry, type Telemetry } from '../../lib/observability/telemetry.js';

const write = { volumeId: 'vol-00000000000000001', partition: 2, op: 7, latencyMs: 12, groupSize: 1, bytes: 4096 };

describe('PrometheusTelemetry', () => {
  it('counts an op once however many writes rode in its group, and each write’s latency and bytes', () => {
    const registry = new PrometheusTelemetry();
    registry.writeCommitted({ ...write, groupSize: 3 });
    registry.writeCommitted({ ...write, groupSize: 3, leadsOp: false });
    registry.writeCommitted({ ...write, groupSize: 3, leadsOp: false });
    const text = registry.exposition();
    expect(text).toContain('\nsleds_write_ops_total 1\n');
    expect(text).toContain('\nsleds_writes_total 3\n');
    expect(text).toContain('\nsleds_write_bytes_total 12288\n');
    expect(text).toContain('\nsleds_write_latency_seconds_count 3\n');
    expect(text).toContain('\nsleds_group_size_bucket{le="2"} 0\n');
    expect(text).toContain('\nsleds_group_size_bucket{le="4"} 1\n');
    expect(text).toContain('\nsleds_group_size_count 1\n');
  });

  it('keeps the flush lag per partition, and the copy and rebuild figures', () => {
    const registry = new PrometheusTelemetry();
    registry.flushLag({ volumeId: 'vol-a', partition: 0, committedOp: 70, flushedOp: 64 });
    registry.flushLag({ volumeId: 'vol-a', partition: 0, committedOp: 130, flushedOp: 128 });
    registry.flushLag({ volumeId: 'vol-"b', partition: 1, committedOp: 5, flushedOp: 5 });
    registry.rebuildFinished({ volumeId: 'vol-a', partition: 0, millis: 1500, source: 'checkpoint', opsCopied: 3 });
    registry.copyProgress({ jobId: 'copy-1', round: 0, batch: 0, bytes: 8 << 20, millis: 500 });
    const text = registry.exposition();
    expect(text).toContain('\nsleds_flush_lag_ops{volume_id="vol-a",partition="0"} 2\n');
    expect(text).toContain('\nsleds_flush_lag_ops{volume_id="vol-\\"b",partition="1"} 0\n');
    expect(text).toContain('\nsleds_flushes_total 3\n');
    expect(text).toContain('\nsleds_rebuild_seconds_sum 1.5\n');
    expect(text).toContain('\nsleds_copy_bytes_total 8388608\n');
    expect(text).toContain('\nsleds_copy_throughput_bytes_per_second 16777216\n');
  });

  it("drops a deleted volume's flush-lag series, every partition of it, and only those", () => {
    const registry = new PrometheusTelemetry();
    registry.flushLag({ volumeId: 'vol-a', partition: 0, committedOp: 3, flushedOp: 1 });
    registry.flushLag({ volumeId: 'vol-a', partition: 5, committedOp: 9, flushedOp: 9 });
    // An id that starts like the deleted one, and a partition key that would collide if keys were split naively.
    registry.flushLag({ volumeId: 'vol-ab', partition: 0, committedOp: 4, flushedOp: 4 });
    registry.flushLag({ volumeId: 'vol-b', partition: 5, committedOp: 8, flushedOp: 6 });
    registry.volumeDeleted({ volumeId: 'vol-a' });
    const lags = registry.exposition().split('\n').filter((line) => line.startsWith('sleds_flush_lag_ops{'));
    expect(lags).toEqual(['sleds_flush_lag_ops{volume_id="vol-ab",partition="0"} 0', 'sleds_flush_lag_ops{volume_id="vol-b",partition="5"} 2']);
    // A flush counted is still counted: the counter is not per volume.
    expect(registry.exposition()).toContain('\nsleds_flushes_total 4\n');
    // Deleting it again, or a volume never flushed, changes nothing.
    registry.volumeDeleted({ volumeId: 'vol-a' });
    registry.volumeDeleted({ volumeId: 'vol-zzz' });
    expect(registry.exposition().split('\n').filter((line) => line.startsWith('sleds_flush_lag_ops{'))).toEqual(lags);
    // A flush that ends just after its volume's delete reports late: counted, but no series comes back.
    registry.flushLag({ volumeId: 'vol-a', partition: 0, committedOp: 3, flushedOp: 3 });
    expect(registry.exposition().split('\n').filter((line) => line.startsWith('sleds_flush_lag_ops{'))).toEqual(lags);
    expect(registry.exposition()).toContain('\nsleds_flushes_total 5\n');
  });
});

describe('EmfTelemetry', () => {
  function capture(work: (telemetry: EmfTelemetry) => void): Array<Record<string, any>> {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      work(new EmfTelemetry());
    } finally {
      spy.mockRestore();
    }
    return lines.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
  }

  it('prints nothing (and no warning) for an invocation that measured nothing', () => {
    const warnings: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      warnings.push(String(chunk));
      return true;
    });
    try {
      expect(capture((telemetry) => telemetry.flush())).toEqual([]);
    } finally {
      stderr.mockRestore();
    }
    expect(warnings).toEqual([]);
  });

  it('prints the flush lag, rebuild time and copy throughput under their names and units', () => {
    const [document, ...rest] = capture((telemetry) => {
      telemetry.flushLag({ volumeId: 'vol-a', partition: 0, committedOp: 70, flushedOp: 64 });
      telemetry.rebuildFinished({ volumeId: 'vol-a', partition: 0, millis: 1500, source: 'checkpoint', opsCopied: 3 });
      telemetry.copyProgress({ jobId: 'copy-1', round: 0, batch: 0, bytes: 1000, millis: 500 });
      telemetry.writeCommitted({ ...write, leadsOp: false });
      telemetry.flush();
    });
    expect(rest).toEqual([]);
    const directive = document!._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe('Sleds');
    expect(directive.Metrics).toEqual(
      expect.arrayContaining([
        { Name: METRICS.flushLag.name, Unit: 'Count' },
        { Name: METRICS.rebuildTime.name, Unit: 'Milliseconds' },
        { Name: METRICS.copyThroughput.name, Unit: 'Bytes/Second' },
        { Name: METRICS.writeLatency.name, Unit: 'Milliseconds' },
      ]),
    );
    // A write that rode in another's group adds its latency, not an op.
    expect(directive.Metrics.map((m: { Name: string }) => m.Name)).not.toContain(METRICS.writeOps.name);
    expect(document).toMatchObject({ FlushLag: 6, RebuildTime: 1500, CopyThroughput: 2000, service: 'sleds' });
  });
});

describe('fanOut', () => {
  it('reports to every sink even when one throws', () => {
    const registry = new PrometheusTelemetry();
    const broken: Telemetry = { ...noTelemetry, writeCommitted: () => { throw new Error('broken sink'); } };
    expect(() => fanOut(broken, registry).writeCommitted(write)).not.toThrow();
    expect(registry.exposition()).toContain('\nsleds_write_ops_total 1\n');
  });
});

describe('GET /metrics on the embedded cloud', () => {
  const KEY = { accessKeyId: 'AKIDTESTMETRICS00001', secretAccessKey: 'metrics-secret' };
  const authorizer = sigV4Authorizer({ ...KEY, region: 'us-east-1' });
  const url = new URL('http://127.0.0.1:4510/metrics');

  it('refuses an unsigned request when the API verifies SigV4, as every route does', async () => {
    const refused = await metricsResponse({ method: 'GET', url, headers: { host: url.host }, body: Buffer.alloc(0) }, authorizer);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).not.toContain('sleds_write_ops_total');
  });

  it('serves a signed request, and any request where the API does not verify', async () => {
    const signed = await signRequest({ method: 'GET', url, headers: {} }, KEY, { region: 'us-east-1' });
    const headers: IncomingHttpHeaders = { ...signed, host: url.host };
    const served = await metricsResponse({ method: 'GET', url, headers, body: Buffer.alloc(0) }, authorizer);
    expect(served.statusCode).toBe(200);
    expect(served.headers?.['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(served.body).toBe(localMetrics.exposition());
    const open = await metricsResponse({ method: 'GET', url, headers: { host: url.host }, body: Buffer.alloc(0) });
    expect(open.statusCode).toBe(200);
    const post = await metricsResponse({ method: 'POST', url, headers: { host: url.host }, body: Buffer.alloc(0) });
    expect(post.statusCode).toBe(405);
  });
});

describe('loadObservabilityConfig', () => {
  it('reads SLEDS_LOG_LEVEL, else POWERTOOLS_LOG_LEVEL, else info; emf inside a Lambda, else prometheus', async () => {
    const { loadObservabilityConfig } = await import('../../lib/config.js');
    expect(loadObservabilityConfig({})).toEqual({ logLevel: 'info', metrics: 'prometheus' });
    expect(loadObservabilityConfig({ SLEDS_LOG_LEVEL: 'DEBUG', POWERTOOLS_LOG_LEVEL: 'error' })).toMatchObject({ logLevel: 'debug' });
    expect(loadObservabilityConfig({ POWERTOOLS_LOG_LEVEL: 'warn' })).toMatchObject({ logLevel: 'warn' });
    expect(loadObservabilityConfig({ AWS_LAMBDA_FUNCTION_NAME: 'sleds-write-data' })).toMatchObject({ metrics: 'emf' });
    expect(loadObservabilityConfig({ AWS_LAMBDA_FUNCTION_NAME: 'f', SLEDS_METRICS: 'prometheus' })).toMatchObject({ metrics: 'prometheus' });
    expect(() => loadObservabilityConfig({ SLEDS_LOG_LEVEL: 'loud' })).toThrow(/SLEDS_LOG_LEVEL must be one of/);
    expect(() => loadObservabilityConfig({ SLEDS_METRICS: 'statsd' })).toThrow(/SLEDS_METRICS must be "emf" or "prometheus"/);
  });
});
