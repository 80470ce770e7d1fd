/**
 * Names a deployment publishes and its clients look up: shared by the CDK app and the CLI,
 * so a renamed output cannot leave `sleds --stack` looking for the old one.
 */

/** The stateless stack's default name: the stack that holds the API. */
export const DEFAULT_API_STACK_NAME = 'Sleds-Stateless';

/** The CloudFormation output key of the API's base URL (`https://<id>.execute-api.<region>.amazonaws.com/v1/`). */
export const API_URL_OUTPUT_KEY = 'ApiUrl';

/** The export name of the API URL output: stable per stack name, for other stacks to import. */
export function apiUrlExportName(stackName: string): string {
  return `${stackName}-${API_URL_OUTPUT_KEY}`;
}

/** The region in an API Gateway hostname (`<id>.execute-api.<region>.amazonaws.com`), if it is one. */
export function regionOfApiHost(hostname: string): string | undefined {
  return /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(hostname)?.[1];
}

/** True for a literal loopback host: the embedded cloud, which may take unsigned requests. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
