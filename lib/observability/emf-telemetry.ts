import { Metrics, type MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS, METRICS_NAMESPACE, METRICS_SERVICE, type MetricKey } from './metrics.js';
import { bytesPerSecond, type Telemetry } from './telemetry.js';

/**
 * Telemetry as CloudWatch embedded metric format (Powertools Metrics), for Lambda: the metrics
 * of an invocation are buffered and printed as one EMF document on stdout by flush(), which the
 * handler wrapper calls once per invocation (lib/api/lambda.ts). Namespace `Sleds`, the one
 * dimension `service=sleds`: what the dashboard and alarms read (lib/observability/metrics.ts).
 */
export class EmfTelemetry implements Telemetry {
  private readonly metrics: Metrics;

  constructor(metrics?: Metrics) {
    this.metrics = metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
  }

  private add(key: MetricKey, value: number): void {
    const { name, unit } = METRICS[key];
    this.metrics.addMetric(name, unit as (typeof MetricUnit)[keyof typeof MetricUnit], value);
  }

  writeCommitted(event: Parameters<Telemetry['writeCommitted']>[0]): void {
    this.add('writeLatency', event.latencyMs);
    if (event.leadsOp === false) return;
    this.add('writeOps', 1);
    this.add('groupSize', event.groupSize);
  }

  readServed(event: Parameters<Telemetry['readServed']>[0]): void {
    this.add('readLatency', event.latencyMs);
    this.add('readOps', 1);
  }

  flushLag(event: Parameters<Telemetry['flushLag']>[0]): void {
    this.add('flushLag', Math.max(0, event.committedOp - event.flushedOp));
  }

  rebuildFinished(event: Parameters<Telemetry['rebuildFinished']>[0]): void {
    this.add('rebuildTime', event.millis);
  }

  copyProgress(event: Parameters<Telemetry['copyProgress']>[0]): void {
    this.add('copyThroughput', bytesPerSecond(event.bytes, event.millis));
  }

  hydrationRead(): void {
    // Not a CloudWatch metric: S3's request metrics per prefix show where reads go on AWS.
  }

  volumeDeleted(): void {
    // No metric has a volume dimension: nothing of the volume's to retire.
  }

  flush(): void {
    // Publishing nothing would print a warning on every invocation that wrote no metric.
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}
