/**
 * `sleds nbd serve` as a head-node process of its own, against the embedded emulators: found
 * through the SLEDS_* variables, or through a stack's outputs (a stand-in CloudFormation
 * endpoint answers DescribeStacks), attached to with nbdinfo, qemu-img and nbdcopy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ENV, STATEFUL_STACK_OUTPUTS, serviceEnvironment } from '../../lib/config.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { CLIENTS, describeWithClients, run } from '../support/nbd-clients.js';
import { createVolume, readHttp, writeHttp } from '../support/nbd-volumes.js';

const MiB = 1024 * 1024;

interface Serving {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  readonly exited: Promise<number | null>;
}

/** Runs `sleds nbd serve` with exactly `env` (plus PATH and HOME) and waits for its URL. */
async function serve(args: readonly string[], env: Record<string, string>): Promise<Serving> {
  const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', 'lib/cli/sleds.mjs', 'nbd', 'serve', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /serving NBD on (nbd:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match?.[1]) return { child, url: match[1], output: () => output, exited };
    if (child.exitCode !== null) throw new Error(`sleds nbd serve exited early (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sleds nbd serve did not start in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeWithClients('sleds nbd serve: a head-node process against a deployment', [CLIENTS.nbdinfo, CLIENTS.nbdcopy, CLIENTS.qemuImg], () => {
  const cloud = useLocalCloud();
  let dir = '';
  const running: ChildProcess[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sleds-nbd-serve-'));
  });
  afterAll(async () => {
    for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves volumes found through the SLEDS_* variables; qemu-img and nbdcopy round-trip byte for byte, the API reads the same', async () => {
    const api = cloud().apiUrl;
    const volumeId = await createVolume(api, { sizeBytes: 16 * MiB, name: 'served' });
    const before = randomBytes(MiB);
    await writeHttp(api, volumeId, 0, before);
    const serving = await serve(['--port', '0'], serviceEnvironment(cloud().config));
    running.push(serving.child);
    expect(serving.output()).toContain('volumes of the SLEDS_* variables; head cache 256 MiB');

    const info = JSON.parse((await run('nbdinfo', ['--json', `${serving.url}/${volumeId}`])).stdout).exports[0];
    expect(info).toMatchObject({ 'export-size': 16 * MiB, description: 'served: volume of 16 MiB', is_read_only: false, can_multi_conn: true });
    // What the API wrote, this process reads.
    await run('nbdcopy', [`${serving.url}/${volumeId}`, join(dir, 'before.img')], 60_000);
    expect((await readFile(join(dir, 'before.img'))).subarray(0, MiB).equals(before)).toBe(true);
    // What this process writes, the API reads.
    const image = randomBytes(16 * MiB);
    await writeFile(join(dir, 'in.img'), image);
    await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', join(dir, 'in.img'), `${serving.url}/${volumeId}`], 60_000);
    expect((await readHttp(api, volumeId, 0, 16 * MiB)).equals(image)).toBe(true);
    await run('nbdcopy', [`${serving.url}/${volumeId}`, join(dir, 'out.img')], 60_000);
    expect((await readFile(join(dir, 'out.img'))).equals(image)).toBe(true);

    serving.child.kill('SIGTERM');
    expect(await serving.exited).toBe(0);
    expect(serving.output()).toContain('SIGTERM, stopping the NBD server');
  });

  it('finds the buckets, tables and queues from the stack outputs (DescribeStacks) with --stack and --region', async () => {
    const config = cloud().config;
    const env = serviceEnvironment(config);
    const outputs = Object.fromEntries(Object.entries(STATEFUL_STACK_OUTPUTS).map(([output, name]) => [output, env[name] as string]));
    const requests: string[] = [];
    const cloudFormation: Server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        requests.push(body);
        const params = new URLSearchParams(body);
        if (params.get('Action') !== 'DescribeStacks' || params.get('StackName') !== 'Sleds-Test') {
          response.writeHead(400, { 'content-type': 'text/xml' });
          response.end(
            '<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ' +
              `${params.get('StackName')} does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
          );
          return;
        }
        const members = Object.entries(outputs)
          .map(([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value.replace(/&/g, '&amp;')}</OutputValue></member>`)
          .join('');
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(
          '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>' +
            '<StackName>Sleds-Test</StackName><StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/Sleds-Test/1</StackId>' +
            '<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>' +
            `<Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult>` +
            '<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => cloudFormation.listen(0, '127.0.0.1', resolve));
    try {
      const cfnEndpoint = `http://127.0.0.1:${(cloudFormation.address() as { port: number }).port}`;
      // Only endpoints and the caller's credentials: every name comes from the outputs.
      const endpoints = {
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        [ENV.awsEndpoint]: cfnEndpoint,
        [ENV.s3Endpoint]: config.endpoints.s3 as string,
        [ENV.sqsEndpoint]: config.endpoints.sqs as string,
        [ENV.dynamodbEndpoint]: config.endpoints.dynamodb as string,
      };
      const volumeId = await createVolume(cloud().apiUrl, { sizeBytes: 8 * MiB });
      const serving = await serve(['--stack', 'Sleds-Test', '--region', 'eu-west-1', '--port', '0'], endpoints);
      running.push(serving.child);
      expect(serving.output()).toContain('volumes of stack Sleds-Test in eu-west-1');
      expect(requests).toHaveLength(1);
      const info = JSON.parse((await run('nbdinfo', ['--json', `${serving.url}/${volumeId}`])).stdout).exports[0];
      expect(info['export-size']).toBe(8 * MiB);
      serving.child.kill('SIGINT');
      expect(await serving.exited).toBe(0);

      // A stack that does not exist: a clear error, exit status 1.
      const missing = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', 'lib/cli/sleds.mjs', 'nbd', 'serve', '--stack', 'Nope', '--port', '0'], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...endpoints },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      missing.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => missing.on('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toContain('stack Nope was not found in us-east-1');
    } finally {
      await new Promise<void>((resolve) => cloudFormation.close(() => resolve()));
    }
  });
});
