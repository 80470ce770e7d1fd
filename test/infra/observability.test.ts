import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ALARM_THRESHOLDS } from '../../infra/constructs/service-alarms.js';
import { DASHBOARD_WIDGETS } from '../../infra/constructs/operations-dashboard.js';
import { handlerDefinitions } from '../../infra/handlers.js';
import { DEFAULT_FLUSH_EVERY_OPS } from '../../lib/config.js';
import { METRICS, METRICS_NAMESPACE } from '../../lib/observability/metrics.js';
import { QUEUES, TABLES } from '../../lib/resources.js';
import { synthSleds, type CfnResource } from './support.js';

const sleds = synthSleds({ context: { alarmEmail: 'ops@example.com' } });
const { stateful, stateless } = sleds;
const template = sleds.statelessTemplate;
const resources = template.toJSON().Resources as Record<string, CfnResource>;
const functionCount = handlerDefinitions().length;
const queueNames = Object.keys(QUEUES);
const tableNames = Object.keys(TABLES);
const statefulIdOf = (construct: { node: { defaultChild?: unknown } }) => stateful.getLogicalId(construct.node.defaultChild as never);
const idOf = (construct: { node: { defaultChild?: unknown } }) => stateless.getLogicalId(construct.node.defaultChild as never);

/** The dashboard body with its Fn::Join flattened: a reference becomes `<{'Ref':'Id'}>` text inside its JSON string. */
function dashboardBody(): string {
  const dashboards = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]!.Properties.DashboardBody as unknown;
  const flat = (value: unknown): string =>
    typeof value === 'string' ? value : (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join']
      ? ((value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].map(flat).join(''))
      : `<${JSON.stringify(value).replace(/"/g, "'")}>`;
  return flat(body);
}

function alarms(): CfnResource[] {
  return Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
}

describe('service alarms', () => {
  it('add one alarm per DLQ, per function and per table, plus flush lag and the API 5xx rate', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', queueNames.length + functionCount + tableNames.length + 2);
    expect(Object.keys(stateless.alarms.alarms).sort()).toEqual(
      [
        ...queueNames.map((name) => `${name}-dead-letters`),
        ...Object.keys(stateless.functions).map((name) => `${name}-throttles`),
        ...tableNames.map((name) => `${name}-table-throttles`),
        'flush-lag',
        'api-5xx-rate',
      ].sort(),
    );
  });

  it('alarm on the first message in every dead-letter queue', () => {
    for (const name of queueNames) {
      const dlq = stateful.queues[name as keyof typeof stateful.queues].deadLetterQueue;
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::ImportValue': Match.stringLikeRegexp(statefulIdOf(dlq)) } }],
      });
    }
    expect(ALARM_THRESHOLDS.deadLetterMessages).toBe(0);
  });

  it('alarm on flush lag: the Sleds FlushLag maximum above four flush intervals for 15 minutes', () => {
    expect(ALARM_THRESHOLDS.flushLagOps).toBe(4 * DEFAULT_FLUSH_EVERY_OPS);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRICS.flushLag.name,
      Dimensions: [{ Name: 'service', Value: 'sleds' }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 256,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarm on the API 5xx rate: a metric math 5XXError / Count above 1%', () => {
    const apiName = { Name: 'ApiName', Value: Match.anyValue() };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)', ReturnData: true }),
        Match.objectLike({ Id: 'errors', ReturnData: false, MetricStat: Match.objectLike({ Stat: 'Sum', Period: 300, Metric: { Namespace: 'AWS/ApiGateway', MetricName: '5XXError', Dimensions: [apiName] } }) }),
        Match.objectLike({ Id: 'requests', ReturnData: false, MetricStat: Match.objectLike({ Stat: 'Sum', Period: 300, Metric: { Namespace: 'AWS/ApiGateway', MetricName: 'Count', Dimensions: [apiName] } }) }),
      ]),
    });
  });

  it('alarm on any Lambda throttle, for each function', () => {
    for (const handler of Object.values(stateless.functions)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Throttles',
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: idOf(handler.function) } }],
      });
    }
  });

  it('alarm on DynamoDB read or write throttle events, for each table', () => {
    for (const table of Object.values(stateful.tables)) {
      const dimensions = [{ Name: 'TableName', Value: { 'Fn::ImportValue': Match.stringLikeRegexp(statefulIdOf(table)) } }];
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'reads + writes' }),
          Match.objectLike({ Id: 'reads', MetricStat: Match.objectLike({ Metric: { Namespace: 'AWS/DynamoDB', MetricName: 'ReadThrottleEvents', Dimensions: dimensions } }) }),
          Match.objectLike({ Id: 'writes', MetricStat: Match.objectLike({ Metric: { Namespace: 'AWS/DynamoDB', MetricName: 'WriteThrottleEvents', Dimensions: dimensions } }) }),
        ]),
      });
    }
  });

  it('notify one KMS-encrypted, TLS-only SNS topic on alarm and on OK, with the context email subscribed', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const topicId = idOf(stateless.alarms.topic);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: topicId } });
    for (const alarm of alarms()) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
  });
});

describe('operations dashboard', () => {
  const body = dashboardBody();
  const widgets = (JSON.parse(body) as { widgets: Array<{ type: string; properties: { title: string; metrics?: unknown[][]; alarms?: unknown[] } }> }).widgets;
  const widget = (title: string) => {
    const found = widgets.find((w) => w.properties.title === title);
    if (!found) throw new Error(`no widget "${title}" in ${widgets.map((w) => w.properties.title).join(', ')}`);
    return found;
  };
  const metricNames = (title: string) => (widget(title).properties.metrics ?? []).map((line) => `${String(line[0])}/${String(line[1])}`);

  it('holds every widget, in order', () => {
    expect(widgets.map((w) => w.properties.title)).toEqual(Object.values(DASHBOARD_WIDGETS));
  });

  it('shows every alarm', () => {
    expect(widget(DASHBOARD_WIDGETS.alarms).properties.alarms).toHaveLength(alarms().length);
  });

  it('graphs the API count, 4xx, 5xx and latency', () => {
    expect(metricNames(DASHBOARD_WIDGETS.apiRequests)).toEqual(['AWS/ApiGateway/Count', 'AWS/ApiGateway/4XXError', 'AWS/ApiGateway/5XXError']);
    expect(metricNames(DASHBOARD_WIDGETS.apiLatency)).toEqual(['AWS/ApiGateway/Latency', 'AWS/ApiGateway/Latency', 'AWS/ApiGateway/IntegrationLatency']);
  });

  it('graphs errors, throttles and duration of every function', () => {
    expect(metricNames(DASHBOARD_WIDGETS.lambdaErrors)).toEqual(Array(functionCount).fill('AWS/Lambda/Errors'));
    expect(metricNames(DASHBOARD_WIDGETS.lambdaThrottles)).toEqual(Array(functionCount).fill('AWS/Lambda/Throttles'));
    expect(metricNames(DASHBOARD_WIDGETS.lambdaDuration)).toEqual(Array(functionCount).fill('AWS/Lambda/Duration'));
    for (const handler of Object.values(stateless.functions)) expect(body).toContain(`"FunctionName","<{'Ref':'${idOf(handler.function)}'}>"`);
  });

  it('graphs depth and age of every queue and every DLQ', () => {
    expect(metricNames(DASHBOARD_WIDGETS.queueDepth)).toEqual(Array(queueNames.length * 2).fill('AWS/SQS/ApproximateNumberOfMessagesVisible'));
    expect(metricNames(DASHBOARD_WIDGETS.queueAge)).toEqual(Array(queueNames.length * 2).fill('AWS/SQS/ApproximateAgeOfOldestMessage'));
    for (const queue of Object.values(stateful.queues)) {
      expect(body).toContain(statefulIdOf(queue.queue));
      expect(body).toContain(statefulIdOf(queue.deadLetterQueue));
    }
  });

  it('graphs copy-job executions, DynamoDB throttles and the custom Sleds metrics', () => {
    expect(metricNames(DASHBOARD_WIDGETS.copyJobs)).toEqual(['AWS/States/ExecutionsSucceeded', 'AWS/States/ExecutionsFailed', 'AWS/States/ExecutionsTimedOut', 'AWS/States/ExecutionsAborted']);
    expect(metricNames(DASHBOARD_WIDGETS.dynamodbThrottles)).toEqual(tableNames.flatMap(() => ['AWS/DynamoDB/ReadThrottleEvents', 'AWS/DynamoDB/WriteThrottleEvents']));
    const custom = [DASHBOARD_WIDGETS.latency, DASHBOARD_WIDGETS.ops, DASHBOARD_WIDGETS.groupSize, DASHBOARD_WIDGETS.flushLag, DASHBOARD_WIDGETS.rebuildTime, DASHBOARD_WIDGETS.copyThroughput].flatMap(metricNames);
    expect(new Set(custom)).toEqual(new Set(Object.values(METRICS).map((metric) => `${METRICS_NAMESPACE}/${metric.name}`)));
  });
});

describe('outputs', () => {
  it('export the API URL under a stable name, for `sleds --stack`', () => {
    template.hasOutput('ApiUrl', { Export: { Name: 'Sleds-Stateless-ApiUrl' }, Value: Match.anyValue() });
    template.hasOutput('DashboardUrl', Match.anyValue());
  });
});
