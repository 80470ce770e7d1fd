import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { METRICS, METRICS_NAMESPACE } from '../../lib/observability/metrics.js';
import { resetProcessLogger } from '../../lib/observability/logger.js';
import { resetProcessTelemetry } from '../../lib/observability/process-telemetry.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { pattern } from '../support/write-path.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const OCTETS = { 'content-type': 'application/octet-stream' };

// Before the cloud starts: it builds the logger from the environment on first use.
vi.stubEnv('SLEDS_LOG_LEVEL', 'debug');

/** Everything written to stdout while `work` runs (Powertools Logger and Metrics write there). */
async function stdoutOf(work: () => Promise<unknown>): Promise<string[]> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  });
  try {
    await work();
  } finally {
    spy.mockRestore();
  }
  return chunks.join('').split('\n').filter((line) => line.trim().length > 0);
}

function jsonLines(lines: string[]): Array<Record<string, any>> {
  return lines.flatMap((line) => {
    try {
      const value = JSON.parse(line) as unknown;
      return value && typeof value === 'object' ? [value as Record<string, any>] : [];
    } catch {
      return [];
    }
  });
}

interface Exposition {
  readonly samples: Map<string, number>;
  readonly types: Map<string, string>;
}

/** Parses the Prometheus text format strictly: every sample's family has HELP and TYPE lines before it. */
function parseExposition(text: string): Exposition {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n').filter((l) => l.length > 0)) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      helps.add(help[1]!);
      continue;
    }
    if (type) {
      expect(helps.has(type[1]!), `HELP before TYPE of ${type[1]}`).toBe(true);
      expect(types.has(type[1]!), `one TYPE line for ${type[1]}`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/.exec(line);
    expect(sample, `a valid sample line: ${line}`).not.toBeNull();
    const [, name, labels, value] = sample!;
    const family = [...types.keys()].find((f) => name === f || (types.get(f) === 'histogram' && [`${f}_bucket`, `${f}_sum`, `${f}_count`].includes(name!)));
    expect(family, `${name} belongs to a family declared before it`).toBeDefined();
    samples.set(`${name}${labels ?? ''}`, Number(value === '+Inf' ? Infinity : value));
  }
  return { samples, types };
}

async function scrape(apiUrl: string): Promise<Exposition> {
  const response = await fetch(`${apiUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
}

describe('observability on the embedded cloud', () => {
  const cloud = useLocalCloud();
  let volumeId: string;

  beforeAll(async () => {
    // 8 MiB: 2 partitions of 4 MiB.
    const created = await call(cloud().apiUrl, 'POST', '/volumes', { sizeBytes: 8 * MIB, partitionChunks: 4 });
    expect(created.status).toBe(201);
    volumeId = created.body.volumeId;
  });

  afterAll(() => {
    vi.unstubAllEnvs();
    resetProcessLogger();
    resetProcessTelemetry();
  });

  it('logs a write as one JSON line keyed by volume, partition and op', async () => {
    const lines = await stdoutOf(async () => {
      const put = await call(cloud().apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${4 * MIB}`, pattern(4 * KIB, 3), OCTETS);
      expect(put.status).toBe(200);
      expect(put.body).toEqual({ ops: [{ partition: 1, op: 1 }] });
    });
    const writes = jsonLines(lines).filter((line) => line.message === 'write committed' && line.volumeId === volumeId);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ level: 'DEBUG', service: 'sleds', volumeId, partition: 1, op: 1, operation: 'write', bytes: 4 * KIB, groupSize: 1 });
    expect(typeof writes[0]!.latencyMs).toBe('number');
    expect(typeof writes[0]!.timestamp).toBe('string');
  });

  it('serves GET /metrics in the Prometheus text format, counting the writes and reads made', async () => {
    const before = await scrape(cloud().apiUrl);
    const writes = 3;
    const reads = 2;
    for (let i = 0; i < writes; i++) {
      const put = await call(cloud().apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${i * 8 * KIB}`, pattern(8 * KIB, i), OCTETS);
      expect(put.status).toBe(200);
    }
    for (let i = 0; i < reads; i++) {
      const read = await fetch(`${cloud().apiUrl}/volumes/${volumeId}/data?offset=0&length=${16 * KIB}`);
      expect(read.status).toBe(200);
      await read.arrayBuffer();
    }
    const after = await scrape(cloud().apiUrl);
    const delta = (name: string) => (after.samples.get(name) ?? NaN) - (before.samples.get(name) ?? 0);
    expect(after.types.get('sleds_write_ops_total')).toBe('counter');
    expect(after.types.get('sleds_read_ops_total')).toBe('counter');
    expect(after.types.get('sleds_write_latency_seconds')).toBe('histogram');
    expect(after.types.get('sleds_read_latency_seconds')).toBe('histogram');
    expect(after.types.get('sleds_flush_lag_ops')).toBe('gauge');
    expect(delta('sleds_write_ops_total')).toBe(writes);
    expect(delta('sleds_write_bytes_total')).toBe(writes * 8 * KIB);
    expect(delta('sleds_read_ops_total')).toBe(reads);
    expect(delta('sleds_read_bytes_total')).toBe(reads * 16 * KIB);
    expect(delta('sleds_write_latency_seconds_count')).toBe(writes);
    expect(delta('sleds_read_latency_seconds_count')).toBe(reads);
    expect(delta('sleds_write_latency_seconds_sum')).toBeGreaterThan(0);
    expect(delta('sleds_read_latency_seconds_sum')).toBeGreaterThan(0);
    expect(after.samples.get('sleds_write_latency_seconds_bucket{le="+Inf"}')).toBe(after.samples.get('sleds_write_latency_seconds_count'));
    expect(delta('sleds_group_size_bucket{le="1"}')).toBe(writes);
  });

  it('reports the flush lag of a checkpointed partition', async () => {
    const checkpoint = await call(cloud().apiUrl, 'POST', `/volumes/${volumeId}/partitions/0/checkpoints`);
    expect(checkpoint.status).toBe(201);
    const after = await scrape(cloud().apiUrl);
    expect(after.samples.get(`sleds_flush_lag_ops{volume_id="${volumeId}",partition="0"}`)).toBe(0);
  });

  it("drops a deleted volume's flush-lag series from GET /metrics, and keeps another volume's", async () => {
    const kept = `sleds_flush_lag_ops{volume_id="${volumeId}",partition="0"}`;
    expect((await call(cloud().apiUrl, 'POST', `/volumes/${volumeId}/partitions/0/checkpoints`)).status).toBe(201);
    const created = await call(cloud().apiUrl, 'POST', '/volumes', { sizeBytes: 8 * MIB, partitionChunks: 4 });
    expect(created.status).toBe(201);
    const doomed: string = created.body.volumeId;
    const series = [0, 1].map((partition) => `sleds_flush_lag_ops{volume_id="${doomed}",partition="${partition}"}`);
    for (const partition of [0, 1]) {
      expect((await call(cloud().apiUrl, 'PUT', `/volumes/${doomed}/data?offset=${partition * 4 * MIB}`, pattern(4 * KIB, partition), OCTETS)).status).toBe(200);
      expect((await call(cloud().apiUrl, 'POST', `/volumes/${doomed}/partitions/${partition}/checkpoints`)).status).toBe(201);
    }
    const before = await scrape(cloud().apiUrl);
    for (const name of [kept, ...series]) expect(before.samples.get(name), name).toBe(0);

    expect((await call(cloud().apiUrl, 'DELETE', `/volumes/${doomed}`)).status).toBe(200);
    const after = await scrape(cloud().apiUrl);
    expect([...after.samples.keys()].filter((name) => name.includes(doomed))).toEqual([]);
    expect(after.samples.get(kept)).toBe(0);
    expect(after.types.get('sleds_flush_lag_ops')).toBe('gauge');
    expect(after.samples.get('sleds_flushes_total')).toBeGreaterThanOrEqual(before.samples.get('sleds_flushes_total')!);
  });

  describe('as a Lambda', () => {
    afterEach(() => {
      vi.stubEnv('SLEDS_METRICS', undefined);
      resetProcessTelemetry();
    });

    it('prints the EMF metrics of an invocation: namespace Sleds, dimension service, the metric names of lib/observability/metrics.ts', async () => {
      vi.stubEnv('SLEDS_METRICS', 'emf');
      resetProcessTelemetry();
      const { handler } = await import('../../functions/write-data.js');
      const context = { functionName: 'sleds-write-data', awsRequestId: 'req-emf-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:sleds-write-data', memoryLimitInMB: '1024', functionVersion: '$LATEST' } as Context;
      const event = {
        resource: '/volumes/{volumeId}/data',
        path: `/volumes/${volumeId}/data`,
        httpMethod: 'PUT',
        headers: OCTETS,
        multiValueHeaders: {},
        queryStringParameters: { offset: String(2 * MIB) },
        multiValueQueryStringParameters: null,
        pathParameters: { volumeId },
        stageVariables: null,
        body: pattern(4 * KIB, 9).toString('base64'),
        isBase64Encoded: true,
        requestContext: {} as never,
      };
      let status = 0;
      const lines = await stdoutOf(async () => {
        status = (await handler(event, context)).statusCode;
      });
      expect(status).toBe(200);
      const emf = jsonLines(lines).filter((line) => line._aws !== undefined);
      expect(emf).toHaveLength(1);
      const [document] = emf;
      const directive = document!._aws.CloudWatchMetrics[0];
      expect(directive.Namespace).toBe(METRICS_NAMESPACE);
      expect(directive.Namespace).toBe('Sleds');
      expect(directive.Dimensions).toEqual([['service']]);
      expect(document!.service).toBe('sleds');
      const names = directive.Metrics.map((metric: { Name: string }) => metric.Name);
      expect(names).toEqual(expect.arrayContaining([METRICS.writeLatency.name, METRICS.writeOps.name, METRICS.groupSize.name]));
      expect(directive.Metrics).toContainEqual({ Name: 'WriteLatency', Unit: 'Milliseconds' });
      expect(document![METRICS.writeOps.name]).toBe(1);
      expect(document![METRICS.groupSize.name]).toBe(1);
      expect(document![METRICS.writeLatency.name]).toBeGreaterThan(0);
      // The invocation's log line carries the Lambda context as well as the keys.
      const write = jsonLines(lines).find((line) => line.message === 'write committed');
      expect(write).toMatchObject({ volumeId, partition: 0, op: expect.any(Number), function_request_id: 'req-emf-1', function_name: 'sleds-write-data' });
    });
  });
});
