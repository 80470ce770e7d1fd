import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ConfigError } from '../errors.js';
import { translateAwsError } from './aws-errors.js';

export interface StackOutputsOptions {
  readonly region: string;
  /** A named profile of the shared AWS config files; the default credential chain otherwise. */
  readonly profile?: string;
  /** An AWS-compatible endpoint (LocalStack) instead of AWS. */
  readonly endpoint?: string;
}

/** A deployed stack's outputs, by output key (CloudFormation DescribeStacks). */
export async function readStackOutputs(stackName: string, options: StackOutputsOptions): Promise<Record<string, string>> {
  const client = new CloudFormationClient({
    region: options.region,
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks?.[0];
    if (!stack) throw new ConfigError(`stack ${stackName} was not found in ${options.region}`);
    const outputs: Record<string, string> = {};
    for (const output of stack.Outputs ?? []) if (output.OutputKey && output.OutputValue !== undefined) outputs[output.OutputKey] = output.OutputValue;
    return outputs;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as { name?: string }).name === 'ValidationError') {
      throw new ConfigError(`stack ${stackName} was not found in ${options.region}: ${(error as Error).message}`);
    }
    throw translateAwsError('CloudFormation', error);
  } finally {
    client.destroy();
  }
}
