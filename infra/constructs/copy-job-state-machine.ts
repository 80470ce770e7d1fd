import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TASK_SIZING } from '../handlers.js';
import { COPY_BATCH_CONCURRENCY, COPY_ERRORS, COPY_JOB_STATES, type CopyJobTask } from '../../lib/copy-jobs/states.js';

export interface CopyJobStateMachineProps {
  /** The function behind each Task state. */
  readonly functions: Readonly<Record<CopyJobTask, IFunction>>;
  /** Execution logs to CloudWatch and X-Ray tracing (on in deployments; off for the local definition). */
  readonly observability?: boolean;
  /**
   * How the batches of one round run: `distributed` (the default) makes each batch a child
   * execution of a Distributed Map; `inline` runs them inside the job's own execution.
   *
   * Distributed, because an inline Map writes about 7 history events per batch into the job's
   * execution, and a Standard execution stops at 25,000 events: an inline job fails hard (no
   * catch, no clean-up) past about 3,500 batches, e.g. 200 copies of 430 non-empty partitions.
   * Each child execution has its own history. The definition stays runnable locally:
   * aws-local-stepfunctions runs a Distributed Map with ItemsPath, ItemSelector and
   * MaxConcurrency (no ItemReader, ItemBatcher or ResultWriter) as an inline Map with the same
   * control flow. It differs on AWS in two visible ways: a failed batch fails the Map with
   * `States.ExceedToleratedFailureThreshold` (the batch's own error is in its child execution),
   * and the batch states' events are in the child executions' histories, not the job's.
   * test/infra/copy-job-definition.test.ts runs this very definition on the local runner.
   */
  readonly batchMap?: 'distributed' | 'inline';
}

/** Throttling and transient errors, retried with jittered backoff. */
const TRANSIENT = [
  COPY_ERRORS.transient,
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

function invoke(
  scope: Construct,
  state: string,
  fn: IFunction,
  timeoutSeconds: number,
  payload: Record<string, string>,
  resultPath: string | typeof sfn.JsonPath.DISCARD = sfn.JsonPath.DISCARD,
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, state, {
    stateName: state,
    lambdaFunction: fn,
    // The function's own timeout, stated: aws-local-stepfunctions otherwise stops a task after 60 s,
    // and a copy batch may wait for a pipelined parent longer than that.
    taskTimeout: sfn.Timeout.duration(Duration.seconds(timeoutSeconds)),
    payload: sfn.TaskInput.fromObject(payload),
    // The function's return value is the state's result: no Lambda envelope to unwrap.
    payloadResponseOnly: true,
    // One retry policy, ours, instead of CDK's default one plus ours.
    retryOnServiceExceptions: false,
    resultPath,
  });
  task.addRetry({
    errors: TRANSIENT,
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts: 6,
    maxDelay: Duration.seconds(30),
    jitterStrategy: sfn.JitterType.FULL,
  });
  return task;
}

/**
 * The copy-job workflow: plan, run the fan-out rounds (each a Map over batches of partition
 * copies), verify and finalize the targets, remove the intermediaries. Any failure is caught
 * once, around the whole job: the job and its volumes are marked failed and everything the
 * job made is removed.
 */
export class CopyJobStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: CopyJobStateMachineProps) {
    super(scope, id);
    const { functions } = props;
    const plan = invoke(this, COPY_JOB_STATES.plan, functions.plan, TASK_SIZING.plan.timeoutSeconds, { 'jobId.$': '$.jobId' }, '$.plan');

    const copyBatch = invoke(this, COPY_JOB_STATES.copyBatch, functions.copyBatch, TASK_SIZING.copyBatch.timeoutSeconds, {
      'jobId.$': '$.jobId',
      'round.$': '$.round',
      'batch.$': '$.batch',
    });
    const batchesProps = {
      stateName: COPY_JOB_STATES.batches,
      itemsPath: '$.batches',
      maxConcurrency: COPY_BATCH_CONCURRENCY,
      itemSelector: { 'jobId.$': '$.jobId', 'round.$': '$.round', 'batch.$': '$$.Map.Item.Value' },
      resultPath: sfn.JsonPath.DISCARD,
    };
    const batches =
      (props.batchMap ?? 'distributed') === 'distributed'
        ? new sfn.DistributedMap(this, COPY_JOB_STATES.batches, {
            ...batchesProps,
            // Standard children: a batch can run for up to 15 minutes per attempt, past Express's 5.
            // No ToleratedFailure*: the default tolerates none, so any failed batch fails the
            // round, as in an inline Map.
            mapExecutionType: sfn.StateMachineType.STANDARD,
          }).itemProcessor(copyBatch)
        : new sfn.Map(this, COPY_JOB_STATES.batches, batchesProps).itemProcessor(copyBatch);
    // Rounds run one after another: a round reads what the previous one wrote.
    const rounds = new sfn.Map(this, COPY_JOB_STATES.rounds, {
      stateName: COPY_JOB_STATES.rounds,
      itemsPath: '$.plan.rounds',
      maxConcurrency: 1,
      itemSelector: { 'jobId.$': '$.jobId', 'round.$': '$$.Map.Item.Value.round', 'batches.$': '$$.Map.Item.Value.batches' },
      resultPath: sfn.JsonPath.DISCARD,
    }).itemProcessor(batches);

    const finalize = invoke(this, COPY_JOB_STATES.finalize, functions.finalize, TASK_SIZING.finalize.timeoutSeconds, { 'jobId.$': '$.jobId' });
    const cleanUp = invoke(this, COPY_JOB_STATES.cleanUp, functions.cleanUp, TASK_SIZING.cleanUp.timeoutSeconds, { 'jobId.$': '$.jobId' });
    const job = new sfn.Parallel(this, COPY_JOB_STATES.job, { stateName: COPY_JOB_STATES.job, resultPath: sfn.JsonPath.DISCARD });
    job.branch(plan.next(rounds).next(finalize).next(cleanUp));

    const markFailed = invoke(this, COPY_JOB_STATES.markFailed, functions.markFailed, TASK_SIZING.markFailed.timeoutSeconds, { 'jobId.$': '$.jobId', 'error.$': '$.error' });
    const failed = new sfn.Fail(this, COPY_JOB_STATES.failed, {
      stateName: COPY_JOB_STATES.failed,
      error: 'CopyJobFailed',
      cause: 'A copy task failed for good; the job, its volumes and its intermediaries were cleaned up.',
    });
    job.addCatch(markFailed.next(failed), { errors: ['States.ALL'], resultPath: '$.error' });
    const succeeded = new sfn.Succeed(this, COPY_JOB_STATES.succeeded, { stateName: COPY_JOB_STATES.succeeded });

    const observability = props.observability ?? true;
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(job.next(succeeded)),
      comment: 'Sleds copy job: intermediary duplication of a snapshot into N volumes',
      ...(observability
        ? {
            tracingEnabled: true,
            logs: {
              destination: new logs.LogGroup(this, 'Logs', {
                retention: logs.RetentionDays.ONE_MONTH,
                removalPolicy: RemovalPolicy.DESTROY,
              }),
              level: sfn.LogLevel.ALL,
              includeExecutionData: false,
            },
          }
        : {}),
    });
  }
}
