import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { COPY_JOB_TASKS, type CopyJobTask } from '../lib/copy-jobs/states.js';
import { CopyJobStateMachine } from './constructs/copy-job-state-machine.js';

/** Placeholder ARN of a task's function, for a definition that is not deployed. */
export function localFunctionArn(task: CopyJobTask): string {
  return `arn:aws:lambda:us-east-1:000000000000:function:sleds-${COPY_JOB_TASKS[task].handler}`;
}

type CfnValue = string | { 'Fn::Join': [string, CfnValue[]] } | Record<string, unknown>;

/** Resolves the Fn::Join that CloudFormation would evaluate; any other token is kept as text. */
export function resolveJoin(value: CfnValue): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, CfnValue[]] })['Fn::Join'];
  if (join) return join[1].map(resolveJoin).join(join[0]);
  return JSON.stringify(value);
}

/**
 * The copy-job definition exactly as `cdk synth` emits it, built from the same construct,
 * with the functions' ARNs filled in. The embedded cloud runs this, so there is one source
 * of truth for the state machine.
 */
export function synthesizeCopyJobDefinition(arns: Readonly<Record<CopyJobTask, string>> = defaultArns()): Record<string, unknown> {
  const app = new App();
  const stack = new Stack(app, 'CopyJobDefinition', { env: { account: '000000000000', region: 'us-east-1' } });
  const functions = Object.fromEntries(
    (Object.keys(COPY_JOB_TASKS) as CopyJobTask[]).map((task) => [task, lambda.Function.fromFunctionArn(stack, task, arns[task])]),
  ) as Record<CopyJobTask, lambda.IFunction>;
  new CopyJobStateMachine(stack, 'CopyJob', { functions, observability: false });
  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, { Type: string; Properties: { DefinitionString: CfnValue } }>;
  };
  const machine = Object.values(template.Resources).find((resource) => resource.Type === 'AWS::StepFunctions::StateMachine');
  if (!machine) throw new Error('the copy-job stack has no state machine');
  return JSON.parse(resolveJoin(machine.Properties.DefinitionString)) as Record<string, unknown>;
}

function defaultArns(): Record<CopyJobTask, string> {
  return Object.fromEntries((Object.keys(COPY_JOB_TASKS) as CopyJobTask[]).map((task) => [task, localFunctionArn(task)])) as Record<
    CopyJobTask,
    string
  >;
}
