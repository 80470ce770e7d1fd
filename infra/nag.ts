import {
  Stack,
  Validations,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';
import { KEY_PREFIXES } from './grants.js';

/** A kind of wildcard Sleds grants on purpose: the resources and actions it covers, and why. */
export interface WildcardRule {
  readonly name: string;
  /** The resource as cdk-nag prints it (`AwsSolutions-IAM5[Resource::<this>]`). */
  readonly resource: RegExp;
  /** Every action of a statement granting such a resource must match. */
  readonly actions: RegExp;
  readonly reason: string;
}

const prefixes = Object.values(KEY_PREFIXES)
  .map((prefix) => prefix.replace(/\/$/, ''))
  .join('|');

/** The only wildcards the Sleds stacks grant. Any other wildcard fails `cdk synth` and the infra tests. */
export const WILDCARD_RULES: readonly WildcardRule[] = [
  {
    name: 'sled objects under one Sleds key prefix',
    // A sled bucket's ARN, as cdk-nag prints it: `<SledsSled03AB12CD34.Arn>` or the cross-stack
    // export `Sleds-Stateful:ExportsOutputFnGetAttSledsSled03AB12CD34Arn...`.
    resource: new RegExp(`^[^*]*SledsSled\\d{2}[0-9A-F]{8}[^*/]*/(${prefixes})/\\*$`),
    actions: /^s3:(GetObject|PutObject|DeleteObject)$/,
    reason:
      'Object keys are made at run time (volume, snapshot, job and chunk ids), so objects are granted by key prefix: one of ' +
      `${Object.values(KEY_PREFIXES).join(', ')} on each sled bucket, and only the prefixes the function's code path touches (infra/grants.ts).`,
  },
  {
    // With @aws-cdk/aws-iam:minimizePolicies, CDK merges the state machine's log-delivery and
    // X-Ray statements into one, so one rule covers both services.
    name: 'X-Ray and log delivery',
    resource: /^\*$/,
    actions:
      /^(xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups))$/,
    reason:
      'X-Ray trace and sampling actions, and the CloudWatch Logs vended-delivery actions Step Functions execution logging needs, ' +
      'accept no resource but "*"; active tracing and execution logging add exactly these.',
  },
  {
    name: 'task function versions',
    resource: /^<[A-Za-z0-9]+\.Arn>:\*$/,
    actions: /^lambda:InvokeFunction$/,
    reason: 'The state machine invokes each task function and its versions ("<function ARN>:*"), and nothing else.',
  },
  {
    name: 'copy-job executions',
    resource: /^arn:(<AWS::Partition>|aws[a-z-]*):states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):execution:[^*]+(\/\*)?:\*$/,
    actions: /^states:(GetExecutionHistory|DescribeExecution|StopExecution|RedriveExecution|ListMapRuns)$/,
    reason:
      'Executions of the copy-job state machine only: each job, and each Distributed Map child execution, is an execution named at run time.',
  },
  {
    name: 'copy-job map runs',
    resource: /^arn:(<AWS::Partition>|aws[a-z-]*):states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):mapRun:[^*/]+\/\*$/,
    actions: /^states:ListExecutions$/,
    reason:
      "The Map Runs of the copy-job state machine's Distributed Map only: each round starts one, named at run time; listing its child executions finds the batches' events.",
  },
];

interface Statement {
  readonly Effect?: string;
  readonly Action?: string | string[];
  readonly Resource?: unknown;
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The wildcard resources of one policy document, each with the rules that explain it, or none if one statement is unexplained. */
export function classifyWildcards(document: { Statement?: Statement[] }): Map<string, WildcardRule[] | undefined> {
  const found = new Map<string, WildcardRule[] | undefined>();
  for (const statement of document.Statement ?? []) {
    if (statement.Effect !== 'Allow') continue;
    const actions = asArray(statement.Action);
    for (const resource of asArray(statement.Resource).map((r) => flattenCfnReference(r as never))) {
      if (!resource.includes('*')) continue;
      const rule = WILDCARD_RULES.find((candidate) => candidate.resource.test(resource) && actions.every((action) => candidate.actions.test(action)));
      const known = found.has(resource) ? found.get(resource) : [];
      found.set(resource, rule && known ? [...new Set([...known, rule])] : undefined);
    }
  }
  return found;
}

/**
 * Acknowledges AwsSolutions-IAM5 for each wildcard that a rule of WILDCARD_RULES explains,
 * with that rule's reason, on the policy that grants it. It must run after the app is
 * prepared: cdk-nag names a finding after the resolved cross-stack export, which does not
 * exist before.
 */
export function acknowledgeWildcards(root: IConstruct): void {
  for (const node of root.node.findAll()) {
    if (!(node instanceof iam.CfnPolicy || node instanceof iam.CfnManagedPolicy)) continue;
    const document = Stack.of(node).resolve(node.policyDocument) as { Statement?: Statement[] };
    for (const [resource, rules] of classifyWildcards(document)) {
      if (!rules) continue;
      Validations.of(node).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason: rules.map((rule) => rule.reason).join(' '),
      });
    }
  }
}

/** Runs {@link acknowledgeWildcards} during synthesis, before cdk-nag's checks. */
class WildcardAcknowledgments implements IPolicyValidationPlugin {
  readonly name = 'SledsWildcardAcknowledgments';

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const root = (context as IPolicyValidationContext & { appConstruct?: IConstruct }).appConstruct;
    if (!root) throw new Error('this CDK version gives validation plugins no construct tree');
    acknowledgeWildcards(root);
    return { success: true, violations: [] };
  }
}

/**
 * cdk-nag's AwsSolutions checks over the whole app: an unacknowledged finding (error or
 * warning) fails `cdk synth`, `cdk deploy` and the infra tests alike.
 */
export function addNagChecks(app: IConstruct): void {
  Validations.of(app).addPlugins(new WildcardAcknowledgments(), new AwsSolutionsChecks(app));
}
