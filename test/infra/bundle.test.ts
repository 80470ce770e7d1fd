import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandlerFunction } from '../../infra/constructs/handler-function.js';
import { createAwsClients, type AwsClients } from '../../lib/aws/clients.js';
import { provisionLocalResources } from '../../lib/aws/provision.js';
import { serviceEnvironment, type ServiceConfig } from '../../lib/config.js';
import { startEmulators, type Emulators } from '../../lib/local/emulators.js';
import { CDK_CONTEXT, type CfnResource } from './support.js';

/**
 * The bundles Lambda runs: built by the same HandlerFunction construct, with the local esbuild
 * (no Docker), then loaded by Node 22 as Lambda loads them (an ES module, `handler` export) and
 * called against the embedded emulators. Proves ESM output, the require() banner for CommonJS
 * dependencies, and the bundled SDK (including lib-dynamodb) all work.
 */
const HANDLERS = ['health', 'create-volume', 'write-data', 'read-data'] as const;

let outdir: string;
let emulators: Emulators;
let clients: AwsClients;
const savedEnv = { ...process.env };
const bundles: Record<string, string> = {};

/**
 * Calls bundled handlers in a fresh Node process, loaded by Node's own ES module loader as
 * Lambda's runtime loads them (not by the test runner's transforming one). Each step's event
 * may use the previous responses (`$` is the list of parsed JSON bodies so far).
 */
async function callInNode(
  steps: ReadonlyArray<{ handler: string; event: string }>,
): Promise<Array<{ statusCode: number; body: string; isBase64Encoded?: boolean }>> {
  const script = `
const results = [];
const $ = [];
${steps
  .map(
    ({ handler, event }) => `{
  const { handler } = await import(${JSON.stringify(pathToFileURL(bundles[handler]!).href)});
  const response = await handler(${event});
  results.push(response);
  try { $.push(JSON.parse(response.body)); } catch { $.push(undefined); }
}`,
  )
  .join('\n')}
process.stdout.write(JSON.stringify(results));
`;
  const file = join(outdir, 'call.mjs');
  writeFileSync(file, script);
  // Asynchronously: the emulators it calls run in this process.
  const { stdout } = await promisify(execFile)(process.execPath, ['--enable-source-maps', file], { env: process.env, encoding: 'utf8' });
  return JSON.parse(stdout) as never;
}

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'sleds-bundle-'));
  const app = new App({ outdir, context: { ...CDK_CONTEXT }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Bundles');
  for (const handler of HANDLERS) {
    new HandlerFunction(stack, handler, { handler, environment: {}, memoryMb: 1024, timeoutSeconds: 29 });
  }
  const template = app.synth().getStackByName('Bundles').template as { Resources: Record<string, CfnResource> };
  emulators = await startEmulators({ region: 'us-east-1' });
  const endpoints = { s3: emulators.s3Endpoint, sqs: emulators.sqsEndpoint, dynamodb: emulators.dynamodbEndpoint };
  const bootstrap: ServiceConfig = {
    region: 'us-east-1',
    endpoints,
    tables: { volumes: '', partitions: '', snapshots: '', copyJobs: '' },
    sledBuckets: [],
    queues: { flush: '', snapshot: '', copy: '' },
    flushEveryOps: 64,
    checkpointEveryOps: 1024,
    headLeaseMs: 0,
    headCacheMib: 0,
    tableNoteBytes: 0,
  };
  clients = createAwsClients(bootstrap);
  Object.assign(process.env, serviceEnvironment({ ...bootstrap, ...(await provisionLocalResources(clients, { sledCount: 2, region: 'us-east-1' })) }));
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const handler = HANDLERS.find((name) => id.startsWith(name.replace(/-/g, '')))!;
    const key = resource.Properties.Code.S3Key as string;
    const file = join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
    bundles[handler] = file;
  }
}, 120_000);

afterAll(async () => {
  clients?.destroy();
  await emulators?.stop();
  Object.assign(process.env, savedEnv);
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('function bundles', () => {
  it('are one minified ES module per handler, with its source map, the SDK inside', () => {
    expect(Object.keys(bundles).sort()).toEqual([...HANDLERS].sort());
    for (const file of Object.values(bundles)) {
      const code = readFileSync(file, 'utf8');
      expect(code.startsWith("import { createRequire as __sledsCreateRequire } from 'node:module';")).toBe(true);
      expect(code).not.toMatch(/from ?["']@aws-sdk\//);
      expect(statSync(`${file}.map`).size).toBeGreaterThan(0);
      expect(statSync(file).size).toBeLessThan(5 * 1024 * 1024);
    }
  });

  it('load on Node 22 and serve requests against real AWS wire protocols', async () => {
    const data = Buffer.alloc(8192, 7);
    data.write('hello from a bundle');
    const [health, created, written, read] = await callInNode([
      { handler: 'health', event: '{ headers: {} }' },
      {
        handler: 'create-volume',
        event: `{ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sizeBytes: 1048576 }) }`,
      },
      {
        handler: 'write-data',
        event: `{ headers: { 'content-type': 'application/octet-stream' }, pathParameters: { volumeId: $[1].volumeId },
          queryStringParameters: { offset: '4096' }, body: ${JSON.stringify(data.toString('base64'))}, isBase64Encoded: true }`,
      },
      {
        handler: 'read-data',
        event: `{ headers: { accept: 'application/octet-stream' }, pathParameters: { volumeId: $[1].volumeId },
          queryStringParameters: { offset: '4096', length: '8192' } }`,
      },
    ]);
    expect(health!.statusCode, health!.body).toBe(200);
    expect(JSON.parse(health!.body).services).toMatchObject({ s3: { status: 'ok' }, dynamodb: { status: 'ok' }, sqs: { status: 'ok' } });
    expect(created!.statusCode, created!.body).toBe(201);
    expect(written!.statusCode, written!.body).toBe(200);
    expect(JSON.parse(written!.body)).toEqual({ ops: [{ partition: 0, op: 1 }] });
    expect(read!.statusCode, read!.body).toBe(200);
    expect(read!.isBase64Encoded).toBe(true);
    expect(Buffer.from(read!.body, 'base64').equals(data)).toBe(true);
  });
});
