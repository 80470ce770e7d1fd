/**
 * The custom metrics Sleds emits (Powertools Metrics, in CloudWatch embedded metric format) and
 * the CDK dashboard and alarms read: one list, so the emitter and the graphs cannot drift
 * apart. No AWS imports: the domain may name a metric without knowing CloudWatch.
 */

/** The CloudWatch namespace of every Sleds metric (Powertools `namespace`). */
export const METRICS_NAMESPACE = 'Sleds';

/** Powertools `serviceName`: it becomes the `service` dimension on every metric. */
export const METRICS_SERVICE = 'sleds';

/** The dimensions every Sleds metric carries (Powertools' default `service` dimension only). */
export const METRIC_DIMENSIONS: Readonly<Record<string, string>> = Object.freeze({ service: METRICS_SERVICE });

/** A CloudWatch unit name, as Powertools' MetricUnit spells it. */
export type MetricUnitName = 'Milliseconds' | 'Count' | 'Bytes/Second';

/** One custom metric: its name, unit and what a data point means. */
export interface MetricDefinition {
  readonly name: string;
  readonly unit: MetricUnitName;
  readonly description: string;
}

/** Every custom metric, by the key the code uses. */
export const METRICS = Object.freeze({
  writeLatency: { name: 'WriteLatency', unit: 'Milliseconds', description: 'A write, from request to both replicas committed' },
  readLatency: { name: 'ReadLatency', unit: 'Milliseconds', description: 'A read, from request to the last byte resolved' },
  writeOps: { name: 'WriteOps', unit: 'Count', description: 'Ops committed (a grouped commit is one op)' },
  readOps: { name: 'ReadOps', unit: 'Count', description: 'Reads served' },
  groupSize: { name: 'GroupSize', unit: 'Count', description: 'Writes grouped into one note and one op' },
  flushLag: { name: 'FlushLag', unit: 'Count', description: "Committed ops of a partition not yet flushed to its sleds, at each flush" },
  rebuildTime: { name: 'RebuildTime', unit: 'Milliseconds', description: 'Building a lost replica, from checkpoint to serving as secondary' },
  copyThroughput: { name: 'CopyThroughput', unit: 'Bytes/Second', description: 'Bytes copied per second by a copy job' },
} satisfies Record<string, MetricDefinition>);

export type MetricKey = keyof typeof METRICS;
