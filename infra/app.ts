import { App } from 'aws-cdk-lib';
import { SledsStatefulStack } from './stateful-stack.js';

// The CLI fills these from the caller's credentials when it has any; left unset, the stacks
// are environment-agnostic, so synth needs no AWS account.
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };

const app = new App();

new SledsStatefulStack(app, 'Sleds-Stateful', {
  env,
  description: 'Sleds state: sled buckets, metadata tables and work queues (all retained on delete)',
});

// The stateless stack (functions, copy-job state machine, API) goes here. Keep the stateful
// stack in a `const stateful` and hand it over, so every function gets
// `stateful.functionEnvironment()`:
//   new SledsStatelessStack(app, 'Sleds-Stateless', { env, stateful });

app.synth();
