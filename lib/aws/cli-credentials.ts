import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';

/** Credentials the CLI signs with. */
export interface CliCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * The AWS SDK's credential chain (environment, SSO, profiles, web identity, process, ECS and
 * EC2 metadata) for the CLI. Resolves undefined when no provider has credentials; with an
 * explicit profile, a profile that cannot be loaded is an error instead. The chain caches what
 * it finds and refreshes it before it expires.
 */
export function awsCredentialSource(options: { profile?: string } = {}): () => Promise<CliCredentials | undefined> {
  const chain = fromNodeProviderChain(options.profile ? { profile: options.profile } : {});
  return async () => {
    try {
      const { accessKeyId, secretAccessKey, sessionToken } = await chain();
      return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
    } catch (error) {
      if (!options.profile && (error as { name?: string }).name === 'CredentialsProviderError') return undefined;
      throw error;
    }
  };
}

/**
 * Reads one output of a CloudFormation stack (DescribeStacks), signed with the same credential
 * chain. Throws when the stack does not exist or has no such output.
 */
export async function readStackOutput(options: {
  stackName: string;
  outputKey: string;
  region: string;
  profile?: string;
}): Promise<string> {
  const client = new CloudFormationClient({
    region: options.region,
    credentials: fromNodeProviderChain(options.profile ? { profile: options.profile } : {}),
  });
  try {
    const { Stacks: stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: options.stackName }));
    const output = stacks[0]?.Outputs?.find((candidate) => candidate.OutputKey === options.outputKey);
    if (!output?.OutputValue) {
      throw new Error(`stack ${options.stackName} in ${options.region} has no output ${options.outputKey}`);
    }
    return output.OutputValue;
  } finally {
    client.destroy();
  }
}
