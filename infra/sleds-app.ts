import { type App, type Environment } from 'aws-cdk-lib';
import { addNagChecks } from './nag.js';
import { SledsStatefulStack } from './stateful-stack.js';
import { SledsStatelessStack } from './stateless-stack.js';

/** The two Sleds stacks, split by lifetime. */
export interface SledsStacks {
  readonly stateful: SledsStatefulStack;
  readonly stateless: SledsStatelessStack;
}

/**
 * Adds the Sleds stacks to `app`, and cdk-nag's AwsSolutions checks over both, so an
 * unacknowledged finding fails `cdk synth` and `cdk deploy` as it fails the infra tests.
 */
export function addSledsStacks(app: App, env: Environment = {}): SledsStacks {
  const stateful = new SledsStatefulStack(app, 'Sleds-Stateful', {
    env,
    description: 'Sleds state: sled buckets, metadata tables and work queues (all retained on delete)',
  });
  const stateless = new SledsStatelessStack(app, 'Sleds-Stateless', {
    env,
    stateful,
    description: 'Sleds compute: handler functions, the copy-job state machine and the REST API',
  });
  addNagChecks(app);
  return { stateful, stateless };
}
