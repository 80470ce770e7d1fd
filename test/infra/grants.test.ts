/// <reference types="vite/client" />
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HANDLER_ACCESS, KEY_PREFIXES, type HandlerAccess, type KeySpace, type TableAction } from '../../infra/grants.js';
import { handlerDefinitions } from '../../infra/handlers.js';
import type { AwsClients } from '../../lib/aws/clients.js';
import { createAwsClients } from '../../lib/aws/clients.js';
import { provisionLocalResources } from '../../lib/aws/provision.js';
import { journalPrefix } from '../../lib/aws/s3-journal-store.js';
import { DEFAULT_TABLE_NOTE_BYTES, ENV, serviceEnvironment, type ServiceConfig } from '../../lib/config.js';
import type { WorkflowRunner } from '../../lib/copy-jobs/ports.js';
import type * as Faults from '../../lib/faults.js';
import { startEmulators, type Emulators } from '../../lib/local/emulators.js';
import { snapshotChunkKey } from '../../lib/snapshots/snapshot.js';
import { volumeKeyPrefix } from '../../lib/volumes/volume.js';

/**
 * The grants of infra/grants.ts, checked against what each handler really calls: every
 * handler runs in a fresh module graph (a Lambda cold start: no cache of another function
 * helps it), against the embedded emulators, while an SDK middleware records each call with
 * the handler that made it. Each call must be allowed by that handler's access entry.
 */

const KIB = 1024;
const GEOMETRY = { sizeBytes: 512 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 2, name: 'grants audit' };

/** One IAM permission a call needs. */
interface Need {
  readonly action: string;
  /** Table key, `sled#key`, `sled` (bucket-level), queue key, or `machine`. */
  readonly on: string;
}

const audit = new AsyncLocalStorage<string>();
const needs = new Map<string, Need[]>();
const exercised = new Set<string>();

function record(need: Need): void {
  const handler = audit.getStore() ?? '(outside any handler)';
  needs.set(handler, [...(needs.get(handler) ?? []), need]);
}

let emulators: Emulators;
let config: ServiceConfig;
let setupClients: AwsClients;
const savedEnv = { ...process.env };

const handlerModules = import.meta.glob<{ handler: (event: unknown) => Promise<any> }>('../../functions/*.ts');

function reverse(map: Readonly<Record<string, string>>, value: string): string {
  const found = Object.entries(map).find(([, v]) => v === value);
  if (!found) throw new Error(`unknown resource ${value}`);
  return found[0];
}

/** What one SDK call needs, in IAM terms. */
function needsOf(service: string, command: string, input: Record<string, any>): Need[] {
  const operation = command.replace(/Command$/, '');
  const sled = (bucket: string) => {
    const index = config.sledBuckets.indexOf(bucket);
    if (index < 0) throw new Error(`bucket ${bucket} is not a sled`);
    return index;
  };
  const object = (action: string, bucket: string, key: string): Need => ({ action, on: `${sled(bucket)}#${key}` });
  switch (service) {
    case 'DynamoDB': {
      if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') {
        return Object.keys(input.RequestItems).map((table) => ({ action: `dynamodb:${operation}`, on: reverse(config.tables, table) }));
      }
      const table = reverse(config.tables, input.TableName);
      return [{ action: `dynamodb:${operation}`, on: input.IndexName ? `${table}/index/${input.IndexName}` : table }];
    }
    case 'S3':
      switch (operation) {
        case 'GetObject':
        case 'HeadObject':
          return [object('s3:GetObject', input.Bucket, input.Key)];
        case 'PutObject':
          return [object('s3:PutObject', input.Bucket, input.Key)];
        case 'CopyObject': {
          const [sourceBucket, ...rest] = (input.CopySource as string).split('/');
          const sourceKey = rest.map(decodeURIComponent).join('/');
          return [object('s3:PutObject', input.Bucket, input.Key), object('s3:GetObject', sourceBucket!, sourceKey)];
        }
        case 'DeleteObject':
          return [object('s3:DeleteObject', input.Bucket, input.Key)];
        case 'DeleteObjects':
          return (input.Delete.Objects as Array<{ Key: string }>).map(({ Key }) => object('s3:DeleteObject', input.Bucket, Key));
        case 'ListObjectsV2':
        case 'HeadBucket':
          return [{ action: 's3:ListBucket', on: String(sled(input.Bucket)) }];
        default:
          throw new Error(`the audit does not know S3 ${operation}`);
      }
    case 'SQS': {
      const queue = reverse(config.queues, input.QueueUrl);
      if (operation === 'SendMessage' || operation === 'SendMessageBatch') return [{ action: 'sqs:SendMessage', on: queue }];
      return [{ action: `sqs:${operation}`, on: queue }];
    }
    default:
      throw new Error(`the audit does not know ${service} ${operation}`);
  }
}

function spaceOf(key: string): KeySpace | undefined {
  return (Object.entries(KEY_PREFIXES) as Array<[KeySpace, string]>).find(([, prefix]) => key.startsWith(prefix))?.[0];
}

/** Why `access` does not allow `need`, or undefined when it does. */
function refusal(access: HandlerAccess, need: Need): string | undefined {
  const [service, action] = need.action.split(':') as [string, string];
  if (service === 'dynamodb') {
    const table = need.on.split('/')[0] as keyof NonNullable<HandlerAccess['tables']>;
    return access.tables?.[table]?.includes(action as TableAction) ? undefined : `${need.action} on table ${need.on}`;
  }
  if (need.action === 's3:ListBucket') return access.listSleds ? undefined : `s3:ListBucket on sled ${need.on}`;
  if (service === 's3') {
    const [sled, key] = need.on.split(/#(.*)/s) as [string, string];
    const space = spaceOf(key);
    if (!space) return `${need.action} on ${key}: under no KEY_PREFIXES prefix`;
    if (space === 'plans' && sled !== '0') return `${need.action} on ${key} on sled ${sled}: plans are granted on sled 0 only`;
    const list = { 's3:GetObject': access.objects?.read, 's3:PutObject': access.objects?.write, 's3:DeleteObject': access.objects?.delete }[need.action];
    return list?.includes(space) ? undefined : `${need.action} on ${KEY_PREFIXES[space]}* (${space})`;
  }
  if (need.action === 'sqs:SendMessage') return access.sendTo?.includes(need.on as never) ? undefined : `sqs:SendMessage to ${need.on}`;
  if (need.action === 'sqs:GetQueueAttributes') return access.describeQueues ? undefined : `sqs:GetQueueAttributes on ${need.on}`;
  if (need.action === 'states:StartExecution') return access.copyJobs?.includes('start') ? undefined : 'states:StartExecution';
  if (need.action === 'states:GetExecutionHistory') {
    return access.copyJobs?.includes('history') || access.copyJobs?.includes('timeline') ? undefined : 'states:GetExecutionHistory';
  }
  return `${need.action} (unknown to the audit)`;
}

/** Records every call a client makes, under the handler running it. */
function instrument(clients: AwsClients): void {
  for (const [service, client] of [
    ['S3', clients.s3],
    ['DynamoDB', clients.dynamodb],
    ['SQS', clients.sqs],
    ['SFN', clients.sfn],
  ] as const) {
    (client.middlewareStack as { add: (m: unknown, o: unknown) => void }).add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName: string }) => async (args: { input: Record<string, any> }) => {
        for (const need of needsOf(service, context.commandName, args.input)) record(need);
        return next(args);
      },
      { step: 'initialize', name: 'sledsGrantAudit' },
    );
  }
}

/** A stand-in for Step Functions: the audit drives the task handlers itself. */
const stubRunner: WorkflowRunner = {
  async start(name) {
    record({ action: 'states:StartExecution', on: 'machine' });
    return { executionArn: `arn:aws:states:us-east-1:000000000000:execution:sleds-copy-job:${name}` };
  },
  async history() {
    record({ action: 'states:GetExecutionHistory', on: 'machine' });
    return [];
  },
};

/**
 * Invokes a handler as a cold Lambda would: fresh modules (so fresh clients and caches), the
 * clients instrumented, the stand-in runner registered. `prepare` may arm failpoints on the
 * fresh modules.
 */
async function invoke(handler: string, event: unknown, prepare?: (faults: typeof Faults) => void): Promise<any> {
  vi.resetModules();
  const wiring = await import('../../lib/wiring.js');
  instrument(wiring.processServices().clients);
  (await import('../../lib/copy-jobs/workflow-registry.js')).registerInProcessRunner(stubRunner);
  const disarm = prepare?.(await import('../../lib/faults.js'));
  const load = handlerModules[`../../functions/${handler}.ts`];
  if (!load) throw new Error(`no functions/${handler}.ts`);
  const { handler: fn } = await load();
  exercised.add(handler);
  try {
    return await audit.run(handler, () => fn(event));
  } finally {
    if (typeof disarm === 'function') (disarm as () => void)();
    // Let fire-and-forget work (flush requests, progress) finish inside its handler's context.
    await new Promise((resolve) => setTimeout(resolve, 50));
    wiring.processServices().clients.destroy();
  }
}

function api(path: Record<string, string> = {}, options: { body?: unknown; query?: Record<string, string>; headers?: Record<string, string> } = {}) {
  const binary = Buffer.isBuffer(options.body);
  return {
    headers: { 'content-type': binary ? 'application/octet-stream' : 'application/json', ...options.headers },
    pathParameters: path,
    queryStringParameters: options.query ?? null,
    body: options.body === undefined ? null : binary ? (options.body as Buffer).toString('base64') : JSON.stringify(options.body),
    isBase64Encoded: binary,
  };
}

async function ok(handler: string, event: unknown, prepare?: Parameters<typeof invoke>[2]): Promise<any> {
  const response = await invoke(handler, event, prepare);
  if (response && typeof response === 'object' && 'statusCode' in response) {
    expect(response.statusCode, `${handler}: ${response.body}`).toBeLessThan(300);
    return response.headers?.['content-type']?.includes('json') ? JSON.parse(response.body) : response.body;
  }
  if (response && typeof response === 'object' && 'batchItemFailures' in response) expect(response.batchItemFailures, handler).toEqual([]);
  return response;
}

const sqsEvent = (bodies: unknown[]) => ({
  Records: bodies.map((body, i) => ({ messageId: `m${i}`, body: JSON.stringify(body), attributes: {}, messageAttributes: {} })),
});

const pattern = (length: number, seed: number) => Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) % 251));

beforeAll(async () => {
  emulators = await startEmulators({ region: 'us-east-1' });
  const endpoints = { s3: emulators.s3Endpoint, sqs: emulators.sqsEndpoint, dynamodb: emulators.dynamodbEndpoint };
  const bootstrap: ServiceConfig = {
    region: 'us-east-1',
    endpoints,
    tables: { volumes: '', partitions: '', snapshots: '', copyJobs: '' },
    sledBuckets: [],
    queues: { flush: '', snapshot: '', copy: '' },
    flushEveryOps: 1,
    checkpointEveryOps: 1,
    headLeaseMs: 0,
    headCacheMib: 0,
    // As the stacks deploy it: small notes in the partitions table, the others on their sleds.
    tableNoteBytes: DEFAULT_TABLE_NOTE_BYTES,
  };
  setupClients = createAwsClients(bootstrap);
  const resources = await provisionLocalResources(setupClients, { sledCount: 3, region: 'us-east-1' });
  config = { ...bootstrap, ...resources };
  // Every write asks for a flush and every flush checkpoints, so those paths run too.
  Object.assign(process.env, serviceEnvironment(config), { [ENV.flushEveryOps]: '1', [ENV.checkpointEveryOps]: '1' });
}, 60_000);

afterAll(async () => {
  setupClients?.destroy();
  await emulators?.stop();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('infra/grants.ts against the calls each handler makes', () => {
  it('matches the key prefixes lib writes under', () => {
    expect(volumeKeyPrefix('vol-0123456789abcdef0').startsWith(KEY_PREFIXES.volumes)).toBe(true);
    expect(journalPrefix({ volumeId: 'vol-0123456789abcdef0', partition: 0, replicaId: 'r1' }).startsWith(KEY_PREFIXES.volumes)).toBe(true);
    expect(snapshotChunkKey('snap-0123456789abcdef0', 0, 0).startsWith(KEY_PREFIXES.snapshots)).toBe(true);
  });

  it('runs every handler through a whole scenario, each call allowed by its handler\'s grants', async () => {
    // Volumes and the write path.
    await ok('health', api());
    const volume = await ok('create-volume', api({}, { body: GEOMETRY }));
    const volumeId: string = volume.volumeId;
    await ok('list-volumes', api({}, { query: { limit: '10' } }));
    await ok('get-volume', api({ volumeId }));
    const first = pattern(128 * KIB, 1);
    await ok('write-data', api({ volumeId }, { body: first, query: { offset: '0' }, headers: { 'idempotency-key': 'audit-1' } }));
    await ok('write-data', api({ volumeId }, { body: first, query: { offset: '0' }, headers: { 'idempotency-key': 'audit-1' } }));
    await ok('write-data', api({ volumeId }, { body: pattern(64 * KIB, 2), query: { offset: String(256 * KIB) } }));
    // Small writes: their notes are kept in the partitions table.
    await ok('write-data', api({ volumeId }, { body: pattern(4 * KIB, 4), query: { offset: String(8 * KIB) } }));
    await ok('write-data', api({ volumeId }, { body: pattern(4 * KIB, 5), query: { offset: String(260 * KIB) } }));
    await ok('read-data', api({ volumeId }, { query: { offset: '0', length: String(GEOMETRY.sizeBytes) } }));
    // Zero notes (no payload), one keyed and retried, and the allocation map over them.
    await ok('zero-data', api({ volumeId }, { body: { offset: 64 * KIB, length: 64 * KIB } }));
    await ok('zero-data', api({ volumeId }, { body: { offset: 0, length: 8 * KIB }, headers: { 'idempotency-key': 'audit-zero' } }));
    await ok('zero-data', api({ volumeId }, { body: { offset: 0, length: 8 * KIB }, headers: { 'idempotency-key': 'audit-zero' } }));
    await ok('get-allocation', api({ volumeId }));
    await ok('get-allocation', api({ volumeId }, { query: { offset: '0', length: String(128 * KIB) } }));
    await ok('get-partition', api({ volumeId, partition: '0' }));

    // Flush (chunks, maps, checkpoint, garbage collection) and checkpoints.
    await ok('flush-partition', sqsEvent([{ volumeId, partition: 0, uptoOp: 1 }]));
    await ok('write-data', api({ volumeId }, { body: pattern(64 * KIB, 3), query: { offset: '0' } }));
    await ok('write-data', api({ volumeId }, { body: pattern(4 * KIB, 6), query: { offset: String(72 * KIB) } }));
    await ok('flush-partition', sqsEvent([{ volumeId, partition: 0, uptoOp: 2 }]));
    await ok('create-checkpoint', api({ volumeId, partition: '2' }));
    // The sweep of orphans each checkpoint queues: both journals and the chunk prefix listed.
    await ok('flush-partition', sqsEvent([{ volumeId, partition: 0, sweep: true }]));
    await ok('create-sweep', api({ volumeId, partition: '0' }));
    await ok('read-data', api({ volumeId }, { query: { offset: '0', length: String(GEOMETRY.sizeBytes) } }));

    // Replica loss and rebuild, one interrupted after the promotion and finished apart.
    await ok('fail-replica', api({ volumeId, partition: '0' }, { body: { replica: 'secondary' } }));
    const interrupted = await invoke('fail-replica', api({ volumeId, partition: '2' }, { body: { replica: 'primary' } }), (faults) =>
      faults.armFailpoint('rebuild', (context) => {
        if (context.step === 'promoted') throw new Error('injected: crash after the promotion');
      }),
    );
    expect(interrupted.statusCode).toBe(500);
    await ok('rebuild-partition', api({ volumeId, partition: '2' }));

    // Snapshot, materialized by the queue consumer.
    const snapshot = await ok('create-snapshot', api({ volumeId }));
    const partitions = Object.keys(snapshot.ops).map(Number);
    expect(partitions.length).toBeGreaterThan(0);
    await ok('materialize-snapshot', sqsEvent(partitions.map((partition) => ({ snapshotId: snapshot.snapshotId, partition }))));
    expect((await ok('get-snapshot', api({ snapshotId: snapshot.snapshotId }))).state).toBe('completed');
    expect((await ok('list-snapshots', api({}, { query: { limit: '10' } }))).snapshots.map((s: any) => s.snapshotId)).toContain(snapshot.snapshotId);

    // A copy job that succeeds (pipelined, with intermediaries), its tasks driven one by one.
    const job = await ok('create-copy-job', api({ snapshotId: snapshot.snapshotId }, { body: { count: 5, maxSourceFanout: 2 } }));
    const planned = await ok('plan-copy-job', { jobId: job.jobId });
    for (const { round, batches } of planned.rounds) {
      for (const batch of batches) await ok('copy-partition-batch', { jobId: job.jobId, round, batch });
    }
    await ok('finalize-copy-job', { jobId: job.jobId });
    await ok('clean-up-copy-job', { jobId: job.jobId });
    expect((await ok('get-copy-job', api({ jobId: job.jobId }))).state).toBe('succeeded');
    expect((await ok('get-copy-job', api({ jobId: job.jobId }, { query: { include: 'tree' } }))).tree.nodes.length).toBeGreaterThan(0);
    await ok('list-copy-job-events', api({ jobId: job.jobId }));
    expect((await ok('list-copy-jobs', api({}, { query: { limit: '10' } }))).copyJobs.map((j: any) => j.jobId)).toContain(job.jobId);

    // A copy job that fails after one batch, in rounds mode.
    const failing = await ok('create-copy-job', api({ snapshotId: snapshot.snapshotId }, { body: { count: 3, maxSourceFanout: 2, mode: 'rounds' } }));
    const failingPlan = await ok('plan-copy-job', { jobId: failing.jobId });
    await ok('copy-partition-batch', { jobId: failing.jobId, round: failingPlan.rounds[0].round, batch: 0 });
    await ok('fail-copy-job', { jobId: failing.jobId, error: { Error: 'Injected', Cause: 'audit' } });
    // Its targets stay hydrating, reading through to the snapshot: the snapshot refuses to go
    // (409), and a retry finishes them, its tasks driven one by one again; then it may go.
    expect((await ok('get-volume', api({ volumeId: failing.volumeIds[0] }))).hydration.jobState).toBe('failed');
    expect((await invoke('delete-snapshot', api({ snapshotId: snapshot.snapshotId }))).statusCode).toBe(409);
    expect((await ok('retry-copy-job', api({ jobId: failing.jobId }))).restarted).toBe(true);
    const replanned = await ok('plan-copy-job', { jobId: failing.jobId });
    for (const { round, batches } of replanned.rounds) {
      for (const batch of batches) await ok('copy-partition-batch', { jobId: failing.jobId, round, batch });
    }
    await ok('finalize-copy-job', { jobId: failing.jobId });
    await ok('clean-up-copy-job', { jobId: failing.jobId });
    expect((await ok('delete-snapshot', api({ snapshotId: snapshot.snapshotId }))).deleted).toBe(true);

    // Deletes: a copy and then the source.
    await ok('delete-volume', api({ volumeId: job.volumeIds[0] }));
    await ok('delete-volume', api({ volumeId }));

    const missing = handlerDefinitions()
      .map((d) => d.name)
      .filter((name) => !exercised.has(name));
    expect(missing, 'handlers the audit scenario does not run yet: add them').toEqual([]);

    const refused: string[] = [];
    const unused: string[] = [];
    for (const [handler, calls] of needs) {
      const access = HANDLER_ACCESS[handler];
      if (!access) {
        refused.push(`${handler}: no access entry (${calls.length} calls)`);
        continue;
      }
      for (const reason of new Set(calls.map((need) => refusal(access, need)).filter(Boolean))) refused.push(`${handler}: ${reason}`);
      const used = new Set(calls.map((need) => need.action));
      for (const [table, actions] of Object.entries(access.tables ?? {})) {
        for (const action of actions ?? []) if (!calls.some((n) => n.action === `dynamodb:${action}` && n.on.startsWith(table))) unused.push(`${handler}: dynamodb:${action} on ${table}`);
      }
      if (access.listSleds && !used.has('s3:ListBucket')) unused.push(`${handler}: s3:ListBucket`);
    }
    // Grants a scenario did not need are not errors (a path may be rarer than the scenario), but worth a look.
    if (unused.length > 0) console.info(`grants not exercised by the audit scenario:\n  ${unused.join('\n  ')}`);
    expect(refused).toEqual([]);
  }, 120_000);
});
