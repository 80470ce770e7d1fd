import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { SledsStatefulStack } from '../../infra/stateful-stack.js';
import { ENV, STATEFUL_STACK_OUTPUTS, environmentFromStackOutputs } from '../../lib/config.js';
import {
  ABORT_INCOMPLETE_UPLOAD_DAYS,
  DEFAULT_SLED_COUNT,
  QUEUES,
  TABLES,
  type KeyAttribute,
  type QueueDefinition,
  type TableDefinition,
} from '../../lib/resources.js';

type CfnResource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

const DAY_SECONDS = 24 * 60 * 60;

// The same feature flags `cdk synth` uses, so these assertions describe the deployed template.
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

function newApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...cdkJson.context, ...context } });
}

function synth(context: Record<string, unknown> = {}): { stack: SledsStatefulStack; template: Template } {
  const stack = new SledsStatefulStack(newApp(context), 'Sleds-Stateful');
  return { stack, template: Template.fromStack(stack) };
}

const { stack, template } = synth();
const resources = template.toJSON().Resources as Record<string, CfnResource>;

function resource(logicalId: string): CfnResource {
  const found = resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}

/** The single policy of `type` whose target property references `targetId`. */
function policyOf(type: string, targetProperty: string, targetId: string): CfnResource {
  const policies = (Object.values(template.findResources(type)) as CfnResource[]).filter((policy) =>
    JSON.stringify(policy.Properties[targetProperty]).includes(JSON.stringify({ Ref: targetId })),
  );
  expect(policies, `${type} for ${targetId}`).toHaveLength(1);
  return policies[0]!;
}

/** Asserts the policy denies `action` on any request that is not over TLS. */
function expectTlsOnly(policy: CfnResource, action: string): void {
  Template.fromJSON({ Resources: { Policy: policy } }).hasResourceProperties(policy.Type, {
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: action,
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      ]),
    },
  });
}

function expectRetained(found: CfnResource): void {
  expect(found.DeletionPolicy).toBe('Retain');
  expect(found.UpdateReplacePolicy).toBe('Retain');
}

function keySchema(partitionKey: KeyAttribute, sortKey?: KeyAttribute) {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' }] : []),
  ];
}

/** Every key attribute of the table and its indexes, once each, sorted by name. */
function attributeDefinitions(table: TableDefinition) {
  const attributes = new Map<string, string>();
  for (const key of [table.partitionKey, table.sortKey, ...(table.indexes ?? []).flatMap((i) => [i.partitionKey, i.sortKey])]) {
    if (key) attributes.set(key.name, key.type);
  }
  return [...attributes].sort(([a], [b]) => a.localeCompare(b)).map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
}

describe('SledsStatefulStack: sled buckets', () => {
  it(`has DEFAULT_SLED_COUNT (${DEFAULT_SLED_COUNT}) buckets without a sledCount`, () => {
    template.resourceCountIs('AWS::S3::Bucket', DEFAULT_SLED_COUNT);
    expect(stack.sledBuckets).toHaveLength(DEFAULT_SLED_COUNT);
  });

  it('takes the count from the sledCount context, as a number or as a -c string', () => {
    synth({ sledCount: 3 }).template.resourceCountIs('AWS::S3::Bucket', 3);
    synth({ sledCount: '5' }).template.resourceCountIs('AWS::S3::Bucket', 5);
    const fromProps = new SledsStatefulStack(newApp({ sledCount: 3 }), 'Props', { sledCount: 2 });
    Template.fromStack(fromProps).resourceCountIs('AWS::S3::Bucket', 2);
  });

  it.each([0, -1, 2.5, 'x', ''])('rejects sledCount %j', (sledCount) => {
    expect(() => synth({ sledCount })).toThrow(/sledCount must be a positive integer/);
  });

  it('blocks public access, encrypts, aborts stale uploads and is retained, on every bucket', () => {
    for (const bucket of stack.sledBuckets) {
      const found = resource(logicalId(bucket));
      expect(found.Type).toBe('AWS::S3::Bucket');
      expect(found.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(found.Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      expect(found.Properties.LifecycleConfiguration).toEqual({
        Rules: [
          expect.objectContaining({
            Status: 'Enabled',
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: ABORT_INCOMPLETE_UPLOAD_DAYS },
          }),
        ],
      });
      expectRetained(found);
    }
  });

  it('gives every bucket a retained TLS-only bucket policy', () => {
    template.resourceCountIs('AWS::S3::BucketPolicy', DEFAULT_SLED_COUNT);
    for (const bucket of stack.sledBuckets) {
      const policy = policyOf('AWS::S3::BucketPolicy', 'Bucket', logicalId(bucket));
      expectTlsOnly(policy, 's3:*');
      expectRetained(policy);
    }
  });
});

describe('SledsStatefulStack: metadata tables', () => {
  const definitions = Object.entries(TABLES) as [keyof typeof TABLES, TableDefinition][];

  it('has exactly the tables of lib/resources.ts', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', definitions.length);
    expect(Object.keys(stack.tables).sort()).toEqual(Object.keys(TABLES).sort());
  });

  it.each(definitions)('%s: keys and indexes from TABLES, on-demand, PITR, protected, encrypted, retained', (name, definition) => {
    const found = resource(logicalId(stack.tables[name]));
    expect(found.Type).toBe('AWS::DynamoDB::Table');
    expect(logicalId(stack.tables[name])).toContain(definition.id);
    expect(found.Properties.KeySchema).toEqual(keySchema(definition.partitionKey, definition.sortKey));
    const attributes = [...(found.Properties.AttributeDefinitions as { AttributeName: string }[])];
    expect(attributes.sort((a, b) => a.AttributeName.localeCompare(b.AttributeName))).toEqual(attributeDefinitions(definition));
    const indexes = (definition.indexes ?? []).map((index) => ({
      IndexName: index.name,
      KeySchema: keySchema(index.partitionKey, index.sortKey),
      Projection: { ProjectionType: 'KEYS_ONLY' },
    }));
    expect(found.Properties.GlobalSecondaryIndexes).toEqual(indexes.length > 0 ? indexes : undefined);
    expect(found.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(found.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(found.Properties.DeletionProtectionEnabled).toBe(true);
    expect(found.Properties.SSESpecification).toEqual({ SSEEnabled: true });
    expectRetained(found);
  });
});

describe('SledsStatefulStack: work queues', () => {
  const definitions = Object.entries(QUEUES) as [keyof typeof QUEUES, QueueDefinition][];

  it('has each queue of lib/resources.ts plus one DLQ each', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2 * definitions.length);
    expect(Object.keys(stack.queues).sort()).toEqual(Object.keys(QUEUES).sort());
    const deadLetterIds = new Set(Object.values(stack.queues).map(({ deadLetterQueue }) => logicalId(deadLetterQueue)));
    expect(deadLetterIds.size).toBe(definitions.length);
  });

  it.each(definitions)('%s: redrives to its own DLQ with the counts and retention of QUEUES', (name, definition) => {
    const { queue, deadLetterQueue } = stack.queues[name];
    const queueId = logicalId(queue);
    const deadLetterId = logicalId(deadLetterQueue);
    const found = resource(queueId);
    expect(found.Properties).toEqual(
      expect.objectContaining({
        VisibilityTimeout: definition.visibilityTimeoutSeconds,
        MessageRetentionPeriod: definition.retentionDays * DAY_SECONDS,
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterId, 'Arn'] },
          maxReceiveCount: definition.maxReceiveCount,
        },
      }),
    );
    const deadLetter = resource(deadLetterId);
    expect(deadLetter.Type).toBe('AWS::SQS::Queue');
    expect(deadLetter.Properties).toEqual(
      expect.objectContaining({
        MessageRetentionPeriod: definition.deadLetterRetentionDays * DAY_SECONDS,
        SqsManagedSseEnabled: true,
      }),
    );
    expect(deadLetter.Properties.RedrivePolicy).toBeUndefined();
    expectRetained(found);
    expectRetained(deadLetter);
  });

  it.each(definitions)('%s: queue and DLQ each have a retained TLS-only queue policy', (name) => {
    const { queue, deadLetterQueue } = stack.queues[name];
    for (const id of [logicalId(queue), logicalId(deadLetterQueue)]) {
      const policy = policyOf('AWS::SQS::QueuePolicy', 'Queues', id);
      expectTlsOnly(policy, 'sqs:*');
      expectRetained(policy);
    }
  });
});

describe('SledsStatefulStack: function environment', () => {
  it('wires every ENV name a function needs, across stacks, with buckets comma-separated in sled order', () => {
    const app = newApp({ sledCount: 3 });
    const stateful = new SledsStatefulStack(app, 'Stateful');
    const consumer = new Stack(app, 'Consumer');
    new lambda.Function(consumer, 'Probe', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {};'),
      environment: stateful.functionEnvironment(),
    });
    const functions = Template.fromStack(consumer).findResources('AWS::Lambda::Function');
    const variables = (Object.values(functions)[0] as CfnResource).Properties.Environment as {
      Variables: Record<string, unknown>;
    };
    const env = variables.Variables;
    for (const name of [ENV.volumesTable, ENV.partitionsTable, ENV.sledBuckets, ENV.flushQueueUrl, ENV.copyQueueUrl]) {
      expect(env, name).toHaveProperty(name);
    }
    // Each value must be a cross-stack import of the right stateful resource, not a literal.
    const imports = (value: unknown) => JSON.stringify(value).match(/"Fn::ImportValue":"[^"]+"/g) ?? [];
    const exportOf = (construct: { node: { defaultChild?: unknown } }) => stateful.getLogicalId(construct.node.defaultChild as never);
    expect(imports(env[ENV.volumesTable]).join()).toContain(exportOf(stateful.tables.volumes));
    expect(imports(env[ENV.partitionsTable]).join()).toContain(exportOf(stateful.tables.partitions));
    expect(imports(env[ENV.flushQueueUrl]).join()).toContain(exportOf(stateful.queues.flush.queue));
    expect(imports(env[ENV.copyQueueUrl]).join()).toContain(exportOf(stateful.queues.copy.queue));
    const buckets = env[ENV.sledBuckets] as { 'Fn::Join': [string, unknown[]] };
    const [separator, parts] = buckets['Fn::Join'];
    expect(separator).toBe('');
    const bucketImports = parts.filter((part) => typeof part !== 'string');
    expect(bucketImports).toHaveLength(3);
    expect(parts.filter((part) => typeof part === 'string')).toEqual([',', ',']);
    bucketImports.forEach((part, index) => {
      expect(imports(part).join()).toContain(exportOf(stateful.sledBuckets[index]!));
    });
  });
});

describe('SledsStatefulStack: outputs for processes outside the stack', () => {
  it('outputs every table, queue and the sled buckets (comma-separated, in sled order) under STATEFUL_STACK_OUTPUTS', () => {
    const sleds = synth({ sledCount: 3 });
    const outputs = sleds.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const ref = (construct: { node: { defaultChild?: unknown } }) => ({ Ref: sleds.stack.getLogicalId(construct.node.defaultChild as never) });
    expect(Object.keys(outputs).sort()).toEqual(Object.keys(STATEFUL_STACK_OUTPUTS).sort());
    expect(outputs.VolumesTableName?.Value).toEqual(ref(sleds.stack.tables.volumes));
    expect(outputs.PartitionsTableName?.Value).toEqual(ref(sleds.stack.tables.partitions));
    expect(outputs.SnapshotsTableName?.Value).toEqual(ref(sleds.stack.tables.snapshots));
    expect(outputs.CopyJobsTableName?.Value).toEqual(ref(sleds.stack.tables.copyJobs));
    expect(outputs.FlushQueueUrl?.Value).toEqual(ref(sleds.stack.queues.flush.queue));
    expect(outputs.SnapshotQueueUrl?.Value).toEqual(ref(sleds.stack.queues.snapshot.queue));
    expect(outputs.CopyQueueUrl?.Value).toEqual(ref(sleds.stack.queues.copy.queue));
    expect(outputs.SledBucketNames?.Value).toEqual({
      'Fn::Join': ['', [ref(sleds.stack.sledBuckets[0]!), ',', ref(sleds.stack.sledBuckets[1]!), ',', ref(sleds.stack.sledBuckets[2]!)]],
    });
  });

  it('maps the outputs back to the environment the services read, and names a missing one', () => {
    const outputs = Object.fromEntries(Object.keys(STATEFUL_STACK_OUTPUTS).map((name) => [name, `value-of-${name}`]));
    const env = environmentFromStackOutputs('Sleds-Stateful', outputs);
    expect(env[ENV.volumesTable]).toBe('value-of-VolumesTableName');
    expect(env[ENV.sledBuckets]).toBe('value-of-SledBucketNames');
    expect(env[ENV.copyQueueUrl]).toBe('value-of-CopyQueueUrl');
    const { FlushQueueUrl: _gone, ...missing } = outputs;
    void _gone;
    expect(() => environmentFromStackOutputs('Sleds-Stateful', missing)).toThrow(/stack Sleds-Stateful has no output FlushQueueUrl \(SLEDS_FLUSH_QUEUE_URL\)/);
  });
});
