import { App } from 'aws-cdk-lib';
import { addSledsStacks } from './sleds-app.js';

// The CLI fills these from the caller's credentials when it has any; left unset, the stacks
// are environment-agnostic, so synth needs no AWS account.
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };

const app = new App();
addSledsStacks(app, env);
app.synth();
