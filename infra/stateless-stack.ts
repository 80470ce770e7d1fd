import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { type Construct } from 'constructs';
import { BINARY_MEDIA_TYPES, ROUTES } from '../lib/api/routes.js';
import { API_URL_OUTPUT_KEY, apiUrlExportName } from '../lib/api/deployment.js';
import { ENV } from '../lib/config.js';
import { COPY_JOB_TASKS, type CopyJobTask } from '../lib/copy-jobs/states.js';
import { CopyJobStateMachine } from './constructs/copy-job-state-machine.js';
import { HandlerFunction } from './constructs/handler-function.js';
import { OperationsDashboard } from './constructs/operations-dashboard.js';
import { ServiceAlarms } from './constructs/service-alarms.js';
import { SledsRestApi, type Throttle } from './constructs/rest-api.js';
import { HANDLER_ACCESS, grantAccess, type GrantTargets } from './grants.js';
import { handlerDefinitions, type HandlerDefinition } from './handlers.js';
import { type SledsStatefulStack } from './stateful-stack.js';

/** CDK context key: an endpoint every function sends its AWS calls to (LocalStack). */
export const AWS_ENDPOINT_CONTEXT = 'awsEndpoint';

/** CDK context key: an email address subscribed to the alarm topic (`cdk deploy -c alarmEmail=ops@example.com`). */
export const ALARM_EMAIL_CONTEXT = 'alarmEmail';

/** The stage's default throttle: steady requests per second and burst. */
export const API_THROTTLE: Throttle = { rateLimit: 1000, burstLimit: 2000 };

/** Each copy job starts an execution that fans out to many Lambdas: a client may start a few per second. */
export const METHOD_THROTTLES: Readonly<Record<string, Throttle>> = {
  'create-copy-job': { rateLimit: 5, burstLimit: 10 },
};

/** Query parameters the gateway requires before the data handlers run (they still check the values). */
export const REQUIRED_QUERY: Readonly<Record<string, readonly string[]>> = {
  'write-data': ['offset'],
  'read-data': ['offset', 'length'],
};

/** Handlers that start or read copy-job executions, and so need the state machine's ARN. */
const NEEDS_STATE_MACHINE = new Set(
  Object.entries(HANDLER_ACCESS)
    .filter(([, access]) => (access.copyJobs ?? []).length > 0)
    .map(([name]) => name),
);

/** SQS batch size per invocation; a consumer handles a batch's messages in parallel. */
const CONSUMER_BATCH_SIZE = 5;

/** Properties of {@link SledsStatelessStack}. */
export interface SledsStatelessStackProps extends StackProps {
  /** The state this compute reaches: its buckets, tables and queues. */
  readonly stateful: SledsStatefulStack;
  /** Send every AWS call to this endpoint (LocalStack); wins over the `awsEndpoint` context value. */
  readonly awsEndpoint?: string;
}

/**
 * Sleds compute: a function per handler, the copy-job state machine, the queue consumers and
 * the REST API. It holds no data, so it can be replaced or destroyed at any time.
 */
export class SledsStatelessStack extends Stack {
  /** Every function, by handler name. */
  readonly functions: Readonly<Record<string, HandlerFunction>>;
  readonly copyJobs: CopyJobStateMachine;
  readonly api: SledsRestApi;
  readonly alarms: ServiceAlarms;
  readonly dashboard: OperationsDashboard;
  private readonly stateful: SledsStatefulStack;

  constructor(scope: Construct, id: string, props: SledsStatelessStackProps) {
    super(scope, id, props);
    const { stateful } = props;
    this.stateful = stateful;
    const awsEndpoint = props.awsEndpoint ?? (this.node.tryGetContext(AWS_ENDPOINT_CONTEXT) as string | undefined);
    const environment = { ...stateful.functionEnvironment(), ...(awsEndpoint ? { [ENV.awsEndpoint]: awsEndpoint } : {}) };

    const definitions = handlerDefinitions();
    const functions: Record<string, HandlerFunction> = {};
    for (const definition of definitions) {
      if (!HANDLER_ACCESS[definition.name]) throw new Error(`infra/grants.ts has no access entry for handler ${definition.name}`);
      functions[definition.name] = new HandlerFunction(this, pascal(definition.name), {
        handler: definition.name,
        environment,
        memoryMb: definition.memoryMb,
        timeoutSeconds: definition.timeoutSeconds,
      });
    }
    this.functions = Object.freeze(functions);

    const taskFunctions = Object.fromEntries(
      (Object.keys(COPY_JOB_TASKS) as CopyJobTask[]).map((task) => [task, this.fn(COPY_JOB_TASKS[task].handler).function]),
    ) as Record<CopyJobTask, HandlerFunction['function']>;
    this.copyJobs = new CopyJobStateMachine(this, 'CopyJob', { functions: taskFunctions });

    const targets: GrantTargets = {
      tables: stateful.tables,
      sledBuckets: stateful.sledBuckets,
      queues: stateful.queues,
      copyJobMachine: this.copyJobs.stateMachine,
    };
    for (const definition of definitions) {
      const handler = this.fn(definition.name);
      grantAccess(handler.role, HANDLER_ACCESS[definition.name]!, targets);
      if (NEEDS_STATE_MACHINE.has(definition.name)) {
        // Only here: a task function with this variable would make the machine depend on itself.
        handler.function.addEnvironment(ENV.copyStateMachineArn, this.copyJobs.stateMachine.stateMachineArn);
      }
      if (definition.kind === 'consumer') this.consume(handler, definition);
    }

    this.api = new SledsRestApi(this, 'Api', {
      routes: ROUTES,
      functionFor: (handler) => this.fn(handler).function,
      binaryMediaTypes: BINARY_MEDIA_TYPES,
      requiredQuery: REQUIRED_QUERY,
      throttle: API_THROTTLE,
      methodThrottles: METHOD_THROTTLES,
    });

    const observed = {
      api: this.api.api,
      functions: Object.fromEntries(Object.entries(this.functions).map(([name, handler]) => [name, handler.function])),
      queues: stateful.queues,
      tables: stateful.tables,
    };
    const email = this.node.tryGetContext(ALARM_EMAIL_CONTEXT) as string | undefined;
    this.alarms = new ServiceAlarms(this, 'Alarms', { ...observed, ...(email ? { email } : {}) });
    this.dashboard = new OperationsDashboard(this, 'Operations', {
      ...observed,
      stateMachine: this.copyJobs.stateMachine,
      alarms: Object.values(this.alarms.alarms),
    });

    this.outputs();
  }

  private fn(handler: string): HandlerFunction {
    const found = this.functions[handler];
    if (!found) throw new Error(`no function for handler ${handler}`);
    return found;
  }

  private consume(handler: HandlerFunction, definition: HandlerDefinition): void {
    if (!definition.queue) throw new Error(`consumer ${definition.name} names no queue`);
    handler.function.addEventSource(
      new SqsEventSource(this.stateful.queues[definition.queue].queue, {
        batchSize: CONSUMER_BATCH_SIZE,
        maxBatchingWindow: Duration.seconds(0),
        // The consumers return batchItemFailures: only the failed messages are redelivered.
        reportBatchItemFailures: true,
      }),
    );
  }

  private outputs(): void {
    const machine = this.copyJobs.stateMachine;
    const consoleUrl = `https://${this.region}.console.aws.amazon.com/states/home?region=${this.region}`;
    new CfnOutput(this, API_URL_OUTPUT_KEY, {
      value: this.api.api.url,
      // Stable per stack name, for other stacks; `sleds --stack` reads the output by its key.
      exportName: apiUrlExportName(this.stackName),
      description: 'Base URL of the Sleds API; every request must be SigV4-signed (service execute-api)',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards/dashboard/${this.dashboard.dashboard.dashboardName}`,
      description: 'The Sleds operations dashboard in the CloudWatch console',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'Every Sleds alarm publishes here; subscribe to be told' });
    new CfnOutput(this, 'CopyStateMachineArn', { value: machine.stateMachineArn, description: 'The copy-job state machine' });
    new CfnOutput(this, 'CopyStateMachineConsoleUrl', {
      value: `${consoleUrl}#/statemachines/view/${machine.stateMachineArn}`,
      description: 'The copy-job state machine and its executions in the Step Functions console',
    });
    new CfnOutput(this, 'CopyJobExecutionConsoleUrlPattern', {
      value: `${consoleUrl}#/v2/executions/details/arn:${this.partition}:states:${this.region}:${this.account}:execution:${machine.stateMachineName}:{jobId}`,
      description: 'A copy job in the console: replace {jobId}; each job is the execution named after its job id',
    });
  }
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_, __, letter: string) => letter.toUpperCase());
}
