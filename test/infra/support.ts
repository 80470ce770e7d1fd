import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addSledsStacks } from '../../infra/sleds-app.js';
import type { SledsStatefulStack } from '../../infra/stateful-stack.js';
import type { SledsStatelessStack } from '../../infra/stateless-stack.js';

export type CfnResource = {
  Type: string;
  Properties: Record<string, any>;
  Metadata?: Record<string, any>;
  DependsOn?: string[];
};

/** The feature flags `cdk synth` uses, so assertions describe the deployed templates. */
export const CDK_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }
).context;

export interface SynthesizedSleds {
  readonly app: App;
  readonly stateful: SledsStatefulStack;
  readonly stateless: SledsStatelessStack;
  readonly statefulTemplate: Template;
  readonly statelessTemplate: Template;
  /** The error `app.synth()` threw (cdk-nag findings fail synthesis), if any. */
  readonly synthError?: Error;
}

export interface SynthOptions {
  readonly context?: Record<string, unknown>;
  /** Run esbuild for the functions (slow: about a second each). Off by default. */
  readonly bundle?: boolean;
  /** CDK's built-in CloudFormation validation (WASM, seconds of CPU); `cdk synth` runs it, tests only where asked. */
  readonly cloudFormationValidation?: boolean;
}

/**
 * Both Sleds stacks, built exactly as infra/app.ts builds them (cdk-nag included), and
 * synthesized. Function assets are not bundled unless asked: the templates are the same
 * apart from asset hashes.
 */
export function synthSleds(options: SynthOptions = {}): SynthesizedSleds {
  const app = new App({
    context: { ...CDK_CONTEXT, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...options.context },
    builtinCloudFormationValidation: options.cloudFormationValidation ?? false,
  });
  const { stateful, stateless } = addSledsStacks(app);
  let assembly: ReturnType<App['synth']> | undefined;
  let synthError: Error | undefined;
  try {
    assembly = app.synth();
  } catch (error) {
    synthError = error as Error;
  }
  const template = (name: string) => {
    if (!assembly) throw new Error(`synthesis failed: ${synthError?.message}`);
    return Template.fromJSON(assembly.getStackByName(name).template as Record<string, unknown>);
  };
  return {
    app,
    stateful,
    stateless,
    get statefulTemplate() {
      return template(stateful.stackName);
    },
    get statelessTemplate() {
      return template(stateless.stackName);
    },
    ...(synthError ? { synthError } : {}),
  };
}
