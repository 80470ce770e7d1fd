import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { HANDLER_ACCESS, KEY_PREFIXES } from '../../infra/grants.js';
import { QUEUE_CONSUMERS, consumerTimeoutSeconds, handlerDefinitions, handlerEntry } from '../../infra/handlers.js';
import { classifyWildcards } from '../../infra/nag.js';
import { API_THROTTLE, METHOD_THROTTLES, REQUIRED_QUERY } from '../../infra/stateless-stack.js';
import { BINARY_MEDIA_TYPES, ROUTES } from '../../lib/api/routes.js';
import { ENV } from '../../lib/config.js';
import { COPY_JOB_TASKS } from '../../lib/copy-jobs/states.js';
import { QUEUES } from '../../lib/resources.js';
import { synthSleds, type CfnResource } from './support.js';

const sleds = synthSleds();
const { stateful, stateless } = sleds;
const template = sleds.statelessTemplate;
const resources = template.toJSON().Resources as Record<string, CfnResource>;
const definitions = handlerDefinitions();

const idOf = (construct: { node: { defaultChild?: unknown } }) => stateless.getLogicalId(construct.node.defaultChild as never);
const statefulIdOf = (construct: { node: { defaultChild?: unknown } }) => stateful.getLogicalId(construct.node.defaultChild as never);

function resource(id: string): CfnResource {
  const found = resources[id];
  if (!found) throw new Error(`no resource ${id}`);
  return found;
}

function fnOf(handler: string): { id: string; resource: CfnResource } {
  const fn = stateless.functions[handler];
  if (!fn) throw new Error(`no function for ${handler}`);
  const id = idOf(fn.function);
  return { id, resource: resource(id) };
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/**
 * Every statement of every policy attached to the handler's role: its inline policy, and the
 * managed "OverflowPolicy" CDK moves statements to once the inline one grows too large.
 */
function statementsOf(handler: string): Statement[] {
  const roleId = idOf(stateless.functions[handler]!.role);
  return Object.values(resources)
    .filter(
      (r) =>
        (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') &&
        JSON.stringify(r.Properties.Roles ?? []).includes(JSON.stringify({ Ref: roleId })),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

const actionsOf = (statements: Statement[]) => [...new Set(statements.flatMap((s) => [s.Action].flat()))].sort();
const statementsWith = (statements: Statement[], action: string) => statements.filter((s) => [s.Action].flat().includes(action));
/** The export names a statement's resources import, e.g. "...SledsSled03...Arn...". */
const text = (value: unknown) => JSON.stringify(value);

/** The full path of an API Gateway resource, from its PathPart and parents. */
function resourcePath(id: string): string {
  const found = resource(id);
  const parent = found.Properties.ParentId as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const part = found.Properties.PathPart as string;
  if (parent['Fn::GetAtt']) return `/${part}`;
  return `${resourcePath(parent.Ref!)}/${part}`;
}

describe('SledsStatelessStack: functions', () => {
  it('deploys one function per handler (routes, copy-job tasks, queue consumers) and no other', () => {
    const expected = [...new Set([...ROUTES.map((r) => r.handler), ...Object.values(COPY_JOB_TASKS).map((t) => t.handler)])];
    for (const name of expected) expect(Object.keys(stateless.functions)).toContain(name);
    expect(Object.keys(stateless.functions).sort()).toEqual(definitions.map((d) => d.name).sort());
    template.resourceCountIs('AWS::Lambda::Function', definitions.length);
  });

  it.each(definitions.map((d) => [d.name, d] as const))('%s: Node.js 22 on arm64, ESM bundle, traced, own log group, sized', (name, definition) => {
    const { resource: fn } = fnOf(name);
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Architectures).toEqual(['arm64']);
    expect(fn.Properties.Handler).toBe('index.handler');
    expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    expect(fn.Properties.MemorySize).toBe(definition.memoryMb);
    expect(fn.Properties.Timeout).toBe(definition.timeoutSeconds);
    if (definition.kind === 'api') expect(fn.Properties.Timeout).toBeLessThanOrEqual(29);
    // Source maps are on, so stack traces name the TypeScript sources.
    expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
    const logGroupId = idOf(stateless.functions[name]!.logGroup);
    expect(fn.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logGroupId } });
    expect(resource(logGroupId).Properties.RetentionInDays).toBe(30);
    expect(fn.Properties.Role).toEqual({ 'Fn::GetAtt': [idOf(stateless.functions[name]!.role), 'Arn'] });
  });

  it('gives every function the whole service environment, imported from the stateful stack', () => {
    const names = Object.keys(stateful.functionEnvironment());
    for (const name of [ENV.volumesTable, ENV.partitionsTable, ENV.snapshotsTable, ENV.copyJobsTable, ENV.sledBuckets, ENV.flushQueueUrl, ENV.snapshotQueueUrl, ENV.copyQueueUrl]) {
      expect(names).toContain(name);
    }
    for (const definition of definitions) {
      const variables = fnOf(definition.name).resource.Properties.Environment.Variables as Record<string, unknown>;
      for (const name of names) expect(variables, `${definition.name} ${name}`).toHaveProperty(name);
      expect(text(variables[ENV.volumesTable])).toContain(statefulIdOf(stateful.tables.volumes));
      expect(variables[ENV.awsEndpoint], 'no endpoint override on AWS').toBeUndefined();
    }
  });

  it('names the state machine only to the functions that start or read executions (a task with it would be a cycle)', () => {
    const withArn = definitions.filter((d) => ENV.copyStateMachineArn in fnOf(d.name).resource.Properties.Environment.Variables).map((d) => d.name);
    // retry-copy-job starts a job's retry execution and reads how the last one ended.
    expect(withArn.sort()).toEqual(['create-copy-job', 'list-copy-job-events', 'retry-copy-job']);
    const machineId = idOf(stateless.copyJobs.stateMachine);
    expect(fnOf('create-copy-job').resource.Properties.Environment.Variables[ENV.copyStateMachineArn]).toEqual({ Ref: machineId });
  });

  it('wires the flush consumer only when functions/flush-partition.ts exists', () => {
    const without = handlerDefinitions((file) => file !== handlerEntry('flush-partition'));
    expect(without.map((d) => d.name)).not.toContain('flush-partition');
    expect(without.map((d) => d.name)).toContain('materialize-snapshot');
    expect(handlerDefinitions(() => true).find((d) => d.name === 'flush-partition')).toMatchObject({ kind: 'consumer', queue: 'flush' });
  });
});

describe('SledsStatelessStack: queue consumers', () => {
  const consumers = definitions.filter((d) => d.kind === 'consumer');

  it('consumes the snapshot queue, and the flush queue once its handler exists', () => {
    expect(consumers.map((d) => d.name)).toContain('materialize-snapshot');
    expect(consumers.length).toBe(QUEUE_CONSUMERS.filter((c) => definitions.some((d) => d.name === c.handler)).length);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', consumers.length);
  });

  it.each(consumers.map((d) => [d.name, d.queue!] as const))(
    '%s: an event-source mapping on the %s queue with ReportBatchItemFailures, timeout a sixth of the visibility timeout',
    (name, queue) => {
      const { id } = fnOf(name);
      const mappings = Object.values(resources).filter(
        (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && text(r.Properties.FunctionName) === text({ Ref: id }),
      );
      expect(mappings).toHaveLength(1);
      const mapping = mappings[0]!;
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.Properties.BatchSize).toBe(5);
      expect(text(mapping.Properties.EventSourceArn)).toContain(statefulIdOf(stateful.queues[queue].queue));
      expect(text(mapping.Properties.EventSourceArn)).not.toContain(statefulIdOf(stateful.queues[queue].deadLetterQueue));
      const timeout = fnOf(name).resource.Properties.Timeout as number;
      expect(timeout).toBe(consumerTimeoutSeconds(queue));
      expect(timeout * 6).toBeLessThanOrEqual(QUEUES[queue].visibilityTimeoutSeconds);
      // The mapping's own permissions: receive and delete on that queue, nothing else on SQS.
      const consume = statementsOf(name).filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:Receive')));
      expect(consume).toHaveLength(1);
      expect(text(consume[0]!.Resource)).toContain(statefulIdOf(stateful.queues[queue].queue));
    },
  );
});

describe('SledsStatelessStack: least privilege', () => {
  const LOGS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
  const XRAY = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];

  it('has an access entry for every handler, and none for a handler that is not deployed', () => {
    for (const definition of definitions) expect(HANDLER_ACCESS, definition.name).toHaveProperty(definition.name);
    const known = new Set([...handlerDefinitions(() => true).map((d) => d.name)]);
    for (const name of Object.keys(HANDLER_ACCESS)) expect(known, name).toContain(name);
  });

  it('get-volume reads one item of the volumes table, and for a hydrating volume its copy job and plan, nothing else', () => {
    const statements = statementsOf('get-volume');
    expect(actionsOf(statements)).toEqual(['dynamodb:GetItem', 's3:GetObject', ...LOGS, ...XRAY].sort());
    expect(actionsOf(statements)).not.toContain('s3:PutObject');
    const get = statementsWith(statements, 'dynamodb:GetItem');
    expect(get).toHaveLength(1);
    expect(text(get[0]!.Resource)).toContain(statefulIdOf(stateful.tables.volumes));
    expect(text(get[0]!.Resource)).not.toContain(statefulIdOf(stateful.tables.partitions));
  });

  it('write-data puts note payloads under volumes/ on every sled, queues flushes, and deletes and reads no object', () => {
    const statements = statementsOf('write-data');
    const actions = actionsOf(statements);
    expect(actions).toContain('s3:PutObject');
    expect(actions).not.toContain('s3:GetObject');
    expect(actions).not.toContain('s3:DeleteObject');
    expect(actions).not.toContain('dynamodb:Scan');
    const put = statementsWith(statements, 's3:PutObject');
    const resources = [put.map((s) => s.Resource)].flat(2);
    expect(resources).toHaveLength(stateful.sledBuckets.length);
    stateful.sledBuckets.forEach((bucket, i) => {
      expect(text(resources[i])).toContain(statefulIdOf(bucket));
      expect(text(resources[i])).toContain(`"/${KEY_PREFIXES.volumes}*"`);
    });
    const send = statementsWith(statements, 'sqs:SendMessage');
    expect(text(send)).toContain(statefulIdOf(stateful.queues.flush.queue));
    expect(text(send)).not.toContain(statefulIdOf(stateful.queues.snapshot.queue));
  });

  it('plan-copy-job writes copy plans on sled 0 only', () => {
    const put = statementsWith(statementsOf('plan-copy-job'), 's3:PutObject');
    const resources = [put.map((s) => s.Resource)].flat(2);
    expect(resources).toHaveLength(1);
    expect(text(resources[0])).toContain(statefulIdOf(stateful.sledBuckets[0]!));
    expect(text(resources[0])).toContain(`"/${KEY_PREFIXES.plans}*"`);
  });

  it('only create-copy-job and retry-copy-job start executions, and only they and list-copy-job-events read their history', () => {
    const machineId = idOf(stateless.copyJobs.stateMachine);
    for (const definition of definitions) {
      const actions = actionsOf(statementsOf(definition.name));
      expect(actions.includes('states:StartExecution'), definition.name).toBe(['create-copy-job', 'retry-copy-job'].includes(definition.name));
      // create-copy-job: a repeated request joins the retry execution of its job while it runs.
      expect(actions.includes('states:GetExecutionHistory'), definition.name).toBe(
        ['list-copy-job-events', 'retry-copy-job', 'create-copy-job'].includes(definition.name),
      );
    }
    expect(text(statementsWith(statementsOf('create-copy-job'), 'states:StartExecution'))).toContain(`{"Ref":"${machineId}"}`);
  });

  it("list-copy-job-events follows the Distributed Map's children, on the copy-job machine only: ListMapRuns on its executions, ListExecutions on its map runs, GetExecutionHistory on its executions and their children", () => {
    const machineId = idOf(stateless.copyJobs.stateMachine);
    const statements = statementsOf('list-copy-job-events');
    const resourcesOf = (action: string) => statementsWith(statements, action).flatMap((s) => [s.Resource].flat()).map((r) => text(sleds.stateless.resolve(r)));
    const all = [...resourcesOf('states:ListMapRuns'), ...resourcesOf('states:ListExecutions'), ...resourcesOf('states:GetExecutionHistory')];
    for (const resource of all) expect(resource).toContain(`{"Ref":"${machineId}"}`);
    expect(resourcesOf('states:ListMapRuns')).toHaveLength(1);
    expect(resourcesOf('states:ListMapRuns')[0]).toMatch(/:execution:".*\]\},":\*"\]/);
    expect(resourcesOf('states:ListExecutions')).toHaveLength(1);
    expect(resourcesOf('states:ListExecutions')[0]).toMatch(/:mapRun:".*\]\},"\/\*"\]/);
    const history = resourcesOf('states:GetExecutionHistory');
    expect(history).toHaveLength(2);
    expect(history.some((r) => /:execution:".*\]\},":\*"\]/.test(r))).toBe(true);
    expect(history.some((r) => /:execution:".*\]\},"\/\*:\*"\]/.test(r))).toBe(true);
    for (const definition of definitions) {
      if (definition.name === 'list-copy-job-events') continue;
      const actions = actionsOf(statementsOf(definition.name));
      expect(actions.filter((a) => ['states:ListMapRuns', 'states:ListExecutions'].includes(a)), definition.name).toEqual([]);
    }
  });

  it.each(['retry-copy-job', 'create-copy-job'])("%s reads only its job's own executions' histories: no map runs, no child executions", (handler) => {
    const machineId = idOf(stateless.copyJobs.stateMachine);
    const statements = statementsOf(handler);
    const history = statementsWith(statements, 'states:GetExecutionHistory');
    expect(history).toHaveLength(1);
    expect([history[0]!.Action].flat()).toEqual(['states:GetExecutionHistory']);
    const resources = [history[0]!.Resource].flat().map((r) => text(sleds.stateless.resolve(r)));
    expect(resources).toHaveLength(1);
    expect(resources[0]).toContain(`{"Ref":"${machineId}"}`);
    // The machine's executions (`execution:<machine>:<name>`), not its children (`execution:<machine>/<label>:<id>`).
    expect(resources[0]).toMatch(/:execution:".*\]\},":\*"\]/);
    expect(resources[0]).not.toMatch(/\/\*:\*/);
    expect(actionsOf(statements).filter((a) => a.startsWith('states:'))).toEqual(['states:GetExecutionHistory', 'states:StartExecution']);
  });

  it('the list routes scan their own table and nothing else', () => {
    for (const [name, table] of [
      ['list-snapshots', stateful.tables.snapshots],
      ['list-copy-jobs', stateful.tables.copyJobs],
      ['list-volumes', stateful.tables.volumes],
    ] as const) {
      const statements = statementsOf(name);
      const scans = statementsWith(statements, 'dynamodb:Scan');
      expect(scans, name).toHaveLength(1);
      expect([scans[0]!.Action].flat(), name).toEqual(['dynamodb:Scan']);
      const resources = [scans[0]!.Resource].flat();
      expect(resources, name).toHaveLength(1);
      expect(text(resources[0]), name).toContain(statefulIdOf(table));
      expect(actionsOf(statements).filter((a) => !LOGS.includes(a) && !XRAY.includes(a)), name).toEqual(['dynamodb:Scan']);
    }
  });

  it.each(definitions.map((d) => [d.name] as const))('%s: exactly the actions infra/grants.ts lists, plus logs, X-Ray and its queue', (name) => {
    const access = HANDLER_ACCESS[name]!;
    const expected = new Set([...LOGS, ...XRAY]);
    for (const actions of Object.values(access.tables ?? {})) for (const action of actions ?? []) expected.add(`dynamodb:${action}`);
    if (access.objects?.read?.length) expected.add('s3:GetObject');
    if (access.objects?.write?.length) expected.add('s3:PutObject');
    if (access.objects?.delete?.length) expected.add('s3:DeleteObject');
    if (access.listSleds) expected.add('s3:ListBucket');
    if (access.sendTo?.length) expected.add('sqs:SendMessage');
    if (access.describeQueues) expected.add('sqs:GetQueueAttributes');
    if (access.copyJobs?.includes('start')) expected.add('states:StartExecution');
    if (access.copyJobs?.includes('history')) expected.add('states:GetExecutionHistory');
    if (access.copyJobs?.includes('timeline')) for (const action of ['states:GetExecutionHistory', 'states:ListMapRuns', 'states:ListExecutions']) expected.add(action);
    if (definitions.find((d) => d.name === name)!.kind === 'consumer') {
      for (const action of ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) expected.add(action);
    }
    expect(actionsOf(statementsOf(name))).toEqual([...expected].sort());
  });

  it('grants no wildcard action, and no wildcard resource that WILDCARD_RULES does not explain', () => {
    const policies = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Policy');
    expect(policies.length).toBeGreaterThan(definitions.length);
    for (const [id, policy] of policies) {
      const document = sleds.stateless.resolve(policy.Properties.PolicyDocument) as { Statement: Statement[] };
      for (const statement of document.Statement) for (const action of [statement.Action].flat()) expect(action, id).not.toContain('*');
      for (const [wildcard, rules] of classifyWildcards(document)) expect(rules, `${id}: ${wildcard}`).toBeDefined();
    }
  });
});

const DATA_HANDLERS: Record<string, () => Promise<unknown>> = {
  'write-data': () => import('../../functions/write-data.js'),
  'read-data': () => import('../../functions/read-data.js'),
};

describe('SledsStatelessStack: REST API', () => {
  const methods = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGateway::Method');

  function methodFor(route: (typeof ROUTES)[number]): CfnResource {
    const found = methods.filter((m) => {
      const parent = m.Properties.ResourceId as { Ref?: string };
      return m.Properties.HttpMethod === route.method && parent.Ref !== undefined && resourcePath(parent.Ref) === route.resource;
    });
    expect(found, `${route.method} ${route.resource}`).toHaveLength(1);
    return found[0]!;
  }

  it('has exactly one method per route', () => {
    expect(methods).toHaveLength(ROUTES.length);
  });

  it.each(ROUTES.map((route) => [`${route.method} ${route.resource}`, route] as const))(
    '%s: IAM-authorized Lambda proxy to its handler, parameters validated',
    (_name, route) => {
      const method = methodFor(route);
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(method.Properties.OperationName).toBe(route.handler);
      expect(method.Properties.Integration.Type).toBe('AWS_PROXY');
      expect(method.Properties.Integration.IntegrationHttpMethod).toBe('POST');
      expect(text(method.Properties.Integration.Uri)).toContain(`{"Fn::GetAtt":["${fnOf(route.handler).id}","Arn"]}`);
      expect(method.Properties.RequestValidatorId).toEqual({ Ref: idOf(stateless.api.node.findChild('Api').node.findChild('Validator') as never) });
      const expected: Record<string, boolean> = {};
      for (const [, name] of route.resource.matchAll(/\{(\w+)\}/g)) expected[`method.request.path.${name}`] = true;
      for (const name of REQUIRED_QUERY[route.handler] ?? []) expected[`method.request.querystring.${name}`] = true;
      expect(method.Properties.RequestParameters ?? {}).toEqual(expected);
    },
  );

  it('requires offset to write and offset and length to read', () => {
    const write = methodFor(ROUTES.find((r) => r.handler === 'write-data')!);
    const read = methodFor(ROUTES.find((r) => r.handler === 'read-data')!);
    expect(write.Properties.RequestParameters['method.request.querystring.offset']).toBe(true);
    expect(read.Properties.RequestParameters).toMatchObject({ 'method.request.querystring.offset': true, 'method.request.querystring.length': true });
  });

  it('lets only API Gateway, for that one method, invoke each API function (no test-invoke)', () => {
    const permissions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Permission');
    expect(permissions).toHaveLength(ROUTES.length);
    for (const permission of permissions) {
      expect(permission.Properties.Principal).toBe('apigateway.amazonaws.com');
      expect(text(permission.Properties.SourceArn)).not.toContain('test-invoke-stage');
    }
  });

  it('passes application/octet-stream bodies as binary', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      BinaryMediaTypes: [...BINARY_MEDIA_TYPES],
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    expect(BINARY_MEDIA_TYPES).toContain('application/octet-stream');
  });

  it('validates parameters (and bodies, where a model asks) on every method', () => {
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 1);
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
  });

  it('throttles the stage, and copy-job creation harder; logs errors (never bodies) and access, traces', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: Match.arrayWith([
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: API_THROTTLE.rateLimit,
          ThrottlingBurstLimit: API_THROTTLE.burstLimit,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          MetricsEnabled: true,
        },
        {
          HttpMethod: 'POST',
          ResourcePath: '/~1snapshots~1{snapshotId}~1copies',
          ThrottlingRateLimit: METHOD_THROTTLES['create-copy-job']!.rateLimit,
          ThrottlingBurstLimit: METHOD_THROTTLES['create-copy-job']!.burstLimit,
          DataTraceEnabled: false,
        },
      ]),
    });
    expect(API_THROTTLE).toEqual({ rateLimit: 1000, burstLimit: 2000 });
    expect(METHOD_THROTTLES['create-copy-job']).toEqual({ rateLimit: 5, burstLimit: 10 });
  });

  it('answers the gateway\'s own refusals in the handlers\' error shape', () => {
    const responses = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGateway::GatewayResponse');
    const byType = Object.fromEntries(responses.map((r) => [r.Properties.ResponseType, r.Properties]));
    expect(Object.keys(byType).sort()).toEqual(['BAD_REQUEST_PARAMETERS', 'DEFAULT_4XX', 'DEFAULT_5XX', 'REQUEST_TOO_LARGE', 'THROTTLED']);
    expect(JSON.parse(byType.BAD_REQUEST_PARAMETERS.ResponseTemplates['application/json'].replace('$context.error.validationErrorString', 'x'))).toEqual({
      error: { code: 'ValidationError', message: 'x' },
    });
    expect(byType.REQUEST_TOO_LARGE.StatusCode).toBe('413');
    expect(byType.REQUEST_TOO_LARGE.ResponseTemplates['application/json']).toContain('"code":"PayloadTooLarge"');
    expect(byType.THROTTLED.StatusCode).toBe('429');
    expect(byType.DEFAULT_4XX.ResponseTemplates['application/json']).toContain('"code":"$context.error.responseType"');
  });

  it('has a handler module for each route with required query parameters', () => {
    expect(Object.keys(DATA_HANDLERS).sort()).toEqual(Object.keys(REQUIRED_QUERY).sort());
  });

  it.each(Object.entries(REQUIRED_QUERY))('%s refuses a request without each required query parameter itself, so the gateway rule changes no answer', async (handler, names) => {
    const module = (await DATA_HANDLERS[handler]!()) as { handler: (event: unknown) => Promise<{ statusCode: number; body: string }> };
    const full = Object.fromEntries(names.map((name) => [name, '0']));
    for (const name of names) {
      const { [name]: _omitted, ...rest } = full;
      void _omitted;
      const response = await module.handler({
        headers: { 'content-type': 'application/octet-stream' },
        pathParameters: { volumeId: 'vol-0123456789abcdef0' },
        queryStringParameters: rest,
        body: '',
        isBase64Encoded: false,
      });
      expect(response.statusCode, `${handler} without ${name}`).toBe(400);
      expect(JSON.parse(response.body).error.code).toBe('ValidationError');
    }
  });
});

describe('SledsStatelessStack: copy-job state machine', () => {
  const machineId = idOf(stateless.copyJobs.stateMachine);

  it('is a Standard workflow with execution logging (ALL) and X-Ray', () => {
    const machine = resource(machineId);
    expect(machine.Properties.StateMachineType).toBe('STANDARD');
    expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.Properties.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      IncludeExecutionData: false,
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [expect.stringMatching(/^CopyJobLogs/), 'Arn'] } } }],
    });
  });

  it('runs each round\'s batches as a Distributed Map, and may start its own child executions', () => {
    const definition = text(resource(machineId).Properties.DefinitionString);
    expect(definition).toContain('\\"Mode\\":\\"DISTRIBUTED\\"');
    expect(definition).toContain('\\"ExecutionType\\":\\"STANDARD\\"');
    const policies = Object.entries(resources).filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.includes('DistributedMapPolicy'));
    expect(policies).toHaveLength(1);
    const statements = policies[0]![1].Properties.PolicyDocument.Statement as Statement[];
    expect(text(statementsWith(statements, 'states:StartExecution'))).toContain(`{"Ref":"${machineId}"}`);
  });

  it('invokes exactly the five task functions', () => {
    const roleId = idOf(stateless.copyJobs.stateMachine.role);
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && text(r.Properties.Roles).includes(roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const invoke = text(statementsWith(statements, 'lambda:InvokeFunction'));
    for (const task of Object.values(COPY_JOB_TASKS)) expect(invoke).toContain(fnOf(task.handler).id);
    for (const route of ROUTES) expect(invoke).not.toContain(`"${fnOf(route.handler).id}"`);
  });
});

describe('SledsStatelessStack: outputs', () => {
  it('exports the API URL, the state machine ARN and console links for it and for one copy job', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'CopyStateMachineArn', 'CopyStateMachineConsoleUrl', 'CopyJobExecutionConsoleUrlPattern']),
    );
    expect(text(outputs.ApiUrl!.Value)).toContain('.execute-api.');
    const stageId = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ApiGateway::Stage' && r.Properties.StageName === 'v1')![0];
    expect(text(outputs.ApiUrl!.Value)).toContain(`{"Ref":"${stageId}"}`);
    expect(outputs.CopyStateMachineArn!.Value).toEqual({ Ref: idOf(stateless.copyJobs.stateMachine) });
    const pattern = text(outputs.CopyJobExecutionConsoleUrlPattern!.Value);
    expect(pattern).toContain('console.aws.amazon.com/states/home?region=');
    expect(pattern).toContain('#/v2/executions/details/arn:');
    expect(pattern).toContain(':execution:');
    expect(pattern).toMatch(/:\{jobId\}"\]\]\}$/);
  });
});

describe('SledsStatelessStack: LocalStack endpoint', () => {
  it('sends every function\'s AWS calls to the awsEndpoint context value', () => {
    const local = synthSleds({ context: { awsEndpoint: 'http://localhost.localstack.cloud:4566' } });
    const functions = Object.values(local.statelessTemplate.toJSON().Resources as Record<string, CfnResource>).filter(
      (r) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(definitions.length);
    for (const fn of functions) expect(fn.Properties.Environment.Variables[ENV.awsEndpoint]).toBe('http://localhost.localstack.cloud:4566');
  });
});
