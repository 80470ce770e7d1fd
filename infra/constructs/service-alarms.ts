import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { DEFAULT_FLUSH_EVERY_OPS } from '../../lib/config.js';
import { METRICS, METRICS_NAMESPACE, METRIC_DIMENSIONS } from '../../lib/observability/metrics.js';
import type { WorkQueue } from './work-queue.js';

/** The alarms' thresholds, in one place (docs/deploying.md lists them). */
export const ALARM_THRESHOLDS = Object.freeze({
  /** Any message in a dead-letter queue is work that failed 5 times: alarm on the first. */
  deadLetterMessages: 0,
  /** Percent of API requests answered 5xx over five minutes. */
  api5xxPercent: 1,
  /**
   * Committed but unflushed ops of a partition: a flush is queued every DEFAULT_FLUSH_EVERY_OPS
   * ops, so four intervals behind means the flush consumer is not keeping up.
   */
  flushLagOps: 4 * DEFAULT_FLUSH_EVERY_OPS,
  /** Throttled Lambda invocations of one function in five minutes. */
  lambdaThrottles: 0,
  /** Throttled read and write events of one table in five minutes. */
  dynamodbThrottles: 0,
});

const FIVE_MINUTES = Duration.minutes(5);

/** Properties of {@link ServiceAlarms}. */
export interface ServiceAlarmsProps {
  readonly api: apigateway.RestApi;
  /** Every function, by handler name. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** Every work queue with its DLQ, by queue name. */
  readonly queues: Readonly<Record<string, WorkQueue>>;
  /** The metadata tables, by table name. */
  readonly tables: Readonly<Record<string, dynamodb.ITable>>;
  /** Subscribe this address to the alarm topic (context `alarmEmail`); none when absent. */
  readonly email?: string;
}

/**
 * The alarms an operator is paged by: a non-empty dead-letter queue (each DLQ), flush lag (the
 * Sleds FlushLag metric), the API's 5xx rate, Lambda throttles (each function) and DynamoDB
 * throttles (each table). Each notifies one SNS topic, encrypted with a key CloudWatch may use.
 */
export class ServiceAlarms extends Construct {
  /** Every alarm, by a readable id. */
  readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;
  /** Where every alarm (and its return to OK) is published. */
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: ServiceAlarmsProps) {
    super(scope, id);
    // An AWS-managed SNS key would not let CloudWatch publish: its policy cannot be changed.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Sleds alarm topic encryption',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Sleds alarms', masterKey: key, enforceSSL: true });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));

    const alarms: Record<string, cloudwatch.Alarm> = {};
    const add = (name: string, alarm: cloudwatch.Alarm) => {
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      alarm.addOkAction(new actions.SnsAction(this.topic));
      alarms[name] = alarm;
    };

    for (const [name, queue] of Object.entries(props.queues)) {
      add(
        `${name}-dead-letters`,
        new cloudwatch.Alarm(this, `${pascal(name)}DeadLetters`, {
          alarmDescription: `The ${name} dead-letter queue holds messages: work that failed every delivery. Replay or explain them.`,
          metric: queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: ALARM_THRESHOLDS.deadLetterMessages,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    add(
      'flush-lag',
      new cloudwatch.Alarm(this, 'FlushLag', {
        alarmDescription: `A partition has more than ${ALARM_THRESHOLDS.flushLagOps} committed ops not flushed to its sleds, for 15 minutes: flushes are not keeping up.`,
        metric: customMetric('flushLag', 'Maximum', FIVE_MINUTES),
        threshold: ALARM_THRESHOLDS.flushLagOps,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    add(
      'api-5xx-rate',
      new cloudwatch.Alarm(this, 'Api5xxRate', {
        alarmDescription: `More than ${ALARM_THRESHOLDS.api5xxPercent}% of API requests answered 5xx over five minutes.`,
        metric: new cloudwatch.MathExpression({
          label: 'API 5xx rate (%)',
          expression: 'IF(requests > 0, 100 * errors / requests, 0)',
          usingMetrics: {
            errors: props.api.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }),
            requests: props.api.metricCount({ period: FIVE_MINUTES, statistic: 'Sum' }),
          },
          period: FIVE_MINUTES,
        }),
        threshold: ALARM_THRESHOLDS.api5xxPercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    for (const [name, fn] of Object.entries(props.functions)) {
      add(
        `${name}-throttles`,
        new cloudwatch.Alarm(this, `${pascal(name)}Throttles`, {
          alarmDescription: `Lambda throttled the ${name} function: concurrency is exhausted.`,
          metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
          threshold: ALARM_THRESHOLDS.lambdaThrottles,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    for (const [name, table] of Object.entries(props.tables)) {
      add(
        `${name}-table-throttles`,
        new cloudwatch.Alarm(this, `${pascal(name)}TableThrottles`, {
          alarmDescription: `DynamoDB throttled reads or writes of the ${name} table.`,
          metric: new cloudwatch.MathExpression({
            label: `${name} throttle events`,
            expression: 'reads + writes',
            usingMetrics: {
              reads: table.metric('ReadThrottleEvents', { period: FIVE_MINUTES, statistic: 'Sum' }),
              writes: table.metric('WriteThrottleEvents', { period: FIVE_MINUTES, statistic: 'Sum' }),
            },
            period: FIVE_MINUTES,
          }),
          threshold: ALARM_THRESHOLDS.dynamodbThrottles,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    this.alarms = Object.freeze(alarms);
  }
}

/** A Sleds custom metric (lib/observability/metrics.ts), with the dimensions the emitter sets. */
export function customMetric(key: keyof typeof METRICS, statistic: string, period: Duration = FIVE_MINUTES, label?: string): cloudwatch.Metric {
  // No label unless asked: an alarm on a labelled metric is rendered as a metric-math query.
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: METRICS[key].name,
    dimensionsMap: { ...METRIC_DIMENSIONS },
    statistic,
    period,
    ...(label ? { label } : {}),
  });
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/gi, (_, __, letter: string) => letter.toUpperCase());
}
