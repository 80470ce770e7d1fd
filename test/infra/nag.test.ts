import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { acknowledgeWildcards, classifyWildcards } from '../../infra/nag.js';
import { addSledsStacks } from '../../infra/sleds-app.js';
import { CDK_CONTEXT, synthSleds } from './support.js';

// As `cdk synth` runs it: with CDK's built-in CloudFormation validation too.
const sleds = synthSleds({ cloudFormationValidation: true });

/** Every acknowledgment in the tree: construct path, rule id, reason. */
function acknowledgments(root: App): Array<{ path: string; id: string; reason: unknown }> {
  return root.node.findAll().flatMap((node) =>
    node.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, unknown>).map(([id, reason]) => ({ path: node.node.path, id, reason }))),
  );
}

describe('cdk-nag AwsSolutions checks', () => {
  it('pass on both stacks: synthesis, which runs them, succeeds', () => {
    expect(sleds.synthError?.message).toBeUndefined();
  });

  it('leave no unacknowledged finding, error or warning, on either stack', () => {
    acknowledgeWildcards(sleds.app);
    const { violations } = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(sleds.app);
    const listed = violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(listed).toEqual([]);
  });

  it('checked something: both stacks hold the resources the rules look at', () => {
    const types = new Set(sleds.app.node.findAll().map((node) => (node as { cfnResourceType?: string }).cfnResourceType).filter(Boolean));
    for (const type of ['AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::SQS::Queue', 'AWS::Lambda::Function', 'AWS::IAM::Policy', 'AWS::ApiGateway::RestApi', 'AWS::StepFunctions::StateMachine']) {
      expect(types, type).toContain(type);
    }
  });

  it('every acknowledgment carries a reason of a sentence or more', () => {
    const all = acknowledgments(sleds.app);
    expect(all.length).toBeGreaterThan(10);
    for (const { path, id, reason } of all) {
      expect(typeof reason, `${path} ${id}`).toBe('string');
      expect((reason as string).length, `${path} ${id}`).toBeGreaterThan(40);
    }
    const ids = new Set(all.map((a) => a.id.replace(/^annotation::/i, '').replace(/\[.*$/, '')));
    // The documented set: nothing acknowledged wholesale beyond these.
    expect([...ids].sort()).toEqual(['AwsSolutions-APIG3', 'AwsSolutions-COG4', 'AwsSolutions-IAM4', 'AwsSolutions-IAM5', 'AwsSolutions-L1', 'AwsSolutions-S1']);
    for (const a of all.filter((a) => a.id.includes('IAM4') || a.id.includes('IAM5'))) expect(a.id, a.path).toMatch(/\[.+\]$/);
  });

  it('fail synthesis on a wildcard no rule explains, and on a bucket without access logs', () => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    addSledsStacks(app);
    const rogue = new Stack(app, 'Rogue');
    const role = new iam.Role(rogue, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::someone-elses-bucket/volumes/*'] }));
    new s3.Bucket(rogue, 'Bucket', { enforceSSL: true });
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Resource::arn:aws:s3:::someone-elses-bucket\/volumes\/\*\]/);
    acknowledgeWildcards(app);
    const rules = new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName);
    expect(rules).toContain('AwsSolutions-IAM5[Resource::arn:aws:s3:::someone-elses-bucket/volumes/*]');
    expect(rules).toContain('AwsSolutions-S1');
    expect(rules.every((rule) => !rule.includes('Sleds'))).toBe(true);
  });
});

describe('WILDCARD_RULES', () => {
  const sled = 'Sleds-Stateful:ExportsOutputFnGetAttSledsSled03AB12CD34ArnFE7242B9';
  const explained = (Action: string | string[], Resource: string) =>
    classifyWildcards({ Statement: [{ Effect: 'Allow', Action, Resource }] }).get(Resource) !== undefined;

  it.each([
    ['s3:PutObject', `${sled}/volumes/*`],
    [['s3:GetObject', 's3:DeleteObject'], `${sled}/copy-jobs/*`],
    ['s3:GetObject', '<SledsSled00BF9EDBAC.Arn>/copy-plans/*'],
    [['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], '*'],
    [['logs:CreateLogDelivery', 'xray:PutTraceSegments'], '*'],
    ['lambda:InvokeFunction', '<PlanCopyJobFunction2B8904AE.Arn>:*'],
    ['states:GetExecutionHistory', 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:CopyJobMachine:*'],
    ['states:RedriveExecution', 'arn:aws:states:us-east-1:<AWS::AccountId>:execution:CopyJobMachine/*:*'],
    [['states:DescribeExecution', 'states:StopExecution'], 'arn:aws:states:eu-west-1:123456789012:execution:Machine:*'],
    [['states:GetExecutionHistory', 'states:ListMapRuns'], 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:CopyJobMachine:*'],
    ['states:ListExecutions', 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:mapRun:CopyJobMachine/*'],
  ])('explain %j on %s', (actions, resource) => {
    expect(explained(actions, resource)).toBe(true);
  });

  it.each([
    ['s3:*', `${sled}/volumes/*`],
    ['s3:GetObject', `${sled}/*`],
    ['s3:GetObject', `${sled}/journal/*`],
    ['s3:GetObject', 'arn:aws:s3:::other-bucket/volumes/*'],
    ['s3:GetObject', '*'],
    ['dynamodb:GetItem', '*'],
    [['xray:PutTraceSegments', 's3:GetObject'], '*'],
    ['lambda:InvokeFunction', '*'],
    ['states:StartExecution', 'arn:aws:states:eu-west-1:123456789012:execution:Machine:*'],
    ['states:ListExecutions', 'arn:aws:states:eu-west-1:123456789012:mapRun:*'],
    ['states:ListExecutions', 'arn:aws:states:eu-west-1:123456789012:execution:Machine:*'],
    [['states:ListExecutions', 'states:StopExecution'], 'arn:aws:states:eu-west-1:123456789012:mapRun:Machine/*'],
  ])('do not explain %j on %s', (actions, resource) => {
    expect(explained(actions, resource)).toBe(false);
  });

  it('leave a resource unexplained if any one statement granting it is unexplained', () => {
    const found = classifyWildcards({
      Statement: [
        { Effect: 'Allow', Action: 'xray:PutTraceSegments', Resource: '*' },
        { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' },
      ],
    });
    expect(found.get('*')).toBeUndefined();
    expect(found.has('*')).toBe(true);
  });
});
