import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS } from '../../lib/observability/metrics.js';
import { customMetric } from './service-alarms.js';
import type { WorkQueue } from './work-queue.js';

/** Properties of {@link OperationsDashboard}. */
export interface OperationsDashboardProps {
  readonly api: apigateway.RestApi;
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly queues: Readonly<Record<string, WorkQueue>>;
  readonly stateMachine: sfn.IStateMachine;
  readonly tables: Readonly<Record<string, dynamodb.ITable>>;
  /** Shown as the dashboard's alarm status row. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  readonly dashboardName?: string;
}

const PERIOD = Duration.minutes(1);
const WIDTH = 8;
const HEIGHT = 6;

/** The dashboard's widget titles, in order; the infra tests look for each. */
export const DASHBOARD_WIDGETS = Object.freeze({
  alarms: 'Alarms',
  apiRequests: 'API requests, 4xx and 5xx',
  apiLatency: 'API latency (ms)',
  copyJobs: 'Copy-job executions',
  lambdaErrors: 'Lambda errors by function',
  lambdaThrottles: 'Lambda throttles by function',
  lambdaDuration: 'Lambda duration p99 by function (ms)',
  queueDepth: 'Queue depth (messages visible), with DLQs',
  queueAge: 'Oldest message age (s), with DLQs',
  dynamodbThrottles: 'DynamoDB throttle events by table',
  latency: 'Sleds write and read latency (ms)',
  ops: 'Sleds ops',
  groupSize: 'Sleds group size (writes per op)',
  flushLag: 'Sleds flush lag (unflushed ops)',
  rebuildTime: 'Sleds rebuild time (ms)',
  copyThroughput: 'Sleds copy throughput (bytes/s)',
});

/**
 * One CloudWatch dashboard for operating Sleds: the API, every function, every queue and DLQ,
 * the copy-job state machine, the tables, and the custom `Sleds` metrics.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const functions = Object.entries(props.functions);
    const queues = Object.entries(props.queues);
    const tables = Object.entries(props.tables);
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, ...extra });
    const sleds = (key: Parameters<typeof customMetric>[0], statistic: string) =>
      customMetric(key, statistic, PERIOD, `${METRICS[key].name} ${statistic}`);
    const perFunction = (make: (fn: IFunction) => cloudwatch.Metric, label: string) =>
      functions.map(([name, fn]) => make(fn).with({ label: `${name} ${label}`, period: PERIOD }));

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(props.dashboardName ? { dashboardName: props.dashboardName } : {}),
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: DASHBOARD_WIDGETS.alarms, alarms: [...props.alarms], width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      graph(DASHBOARD_WIDGETS.apiRequests, [
        props.api.metricCount({ period: PERIOD, statistic: 'Sum', label: 'requests' }),
        props.api.metricClientError({ period: PERIOD, statistic: 'Sum', label: '4xx' }),
        props.api.metricServerError({ period: PERIOD, statistic: 'Sum', label: '5xx' }),
      ]),
      graph(DASHBOARD_WIDGETS.apiLatency, [
        props.api.metricLatency({ period: PERIOD, statistic: 'p50', label: 'latency p50' }),
        props.api.metricLatency({ period: PERIOD, statistic: 'p99', label: 'latency p99' }),
        props.api.metricIntegrationLatency({ period: PERIOD, statistic: 'p99', label: 'integration p99' }),
      ]),
      graph(DASHBOARD_WIDGETS.copyJobs, [
        props.stateMachine.metricSucceeded({ period: PERIOD, statistic: 'Sum', label: 'succeeded' }),
        props.stateMachine.metricFailed({ period: PERIOD, statistic: 'Sum', label: 'failed' }),
        props.stateMachine.metricTimedOut({ period: PERIOD, statistic: 'Sum', label: 'timed out' }),
        props.stateMachine.metricAborted({ period: PERIOD, statistic: 'Sum', label: 'aborted' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph(DASHBOARD_WIDGETS.lambdaErrors, perFunction((fn) => fn.metricErrors({ statistic: 'Sum' }), 'errors')),
      graph(DASHBOARD_WIDGETS.lambdaThrottles, perFunction((fn) => fn.metricThrottles({ statistic: 'Sum' }), 'throttles')),
      graph(DASHBOARD_WIDGETS.lambdaDuration, perFunction((fn) => fn.metricDuration({ statistic: 'p99' }), 'p99')),
    );
    this.dashboard.addWidgets(
      graph(
        DASHBOARD_WIDGETS.queueDepth,
        queues.flatMap(([name, queue]) => [
          queue.queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum', label: name }),
          queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum', label: `${name} DLQ` }),
        ]),
      ),
      graph(
        DASHBOARD_WIDGETS.queueAge,
        queues.flatMap(([name, queue]) => [
          queue.queue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum', label: name }),
          queue.deadLetterQueue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum', label: `${name} DLQ` }),
        ]),
      ),
      graph(
        DASHBOARD_WIDGETS.dynamodbThrottles,
        tables.flatMap(([name, table]) => [
          table.metric('ReadThrottleEvents', { period: PERIOD, statistic: 'Sum', label: `${name} reads` }),
          table.metric('WriteThrottleEvents', { period: PERIOD, statistic: 'Sum', label: `${name} writes` }),
        ]),
      ),
    );
    this.dashboard.addWidgets(
      graph(DASHBOARD_WIDGETS.latency, [
        sleds('writeLatency', 'p50'),
        sleds('writeLatency', 'p99'),
        sleds('readLatency', 'p50'),
        sleds('readLatency', 'p99'),
      ]),
      graph(DASHBOARD_WIDGETS.ops, [sleds('writeOps', 'Sum'), sleds('readOps', 'Sum')]),
      graph(DASHBOARD_WIDGETS.groupSize, [sleds('groupSize', 'Average'), sleds('groupSize', 'Maximum')]),
    );
    this.dashboard.addWidgets(
      graph(DASHBOARD_WIDGETS.flushLag, [sleds('flushLag', 'Maximum')]),
      graph(DASHBOARD_WIDGETS.rebuildTime, [sleds('rebuildTime', 'Maximum'), sleds('rebuildTime', 'Average')]),
      graph(DASHBOARD_WIDGETS.copyThroughput, [sleds('copyThroughput', 'Average'), sleds('copyThroughput', 'Maximum')]),
    );
  }
}
