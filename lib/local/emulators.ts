import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Server as NetServer, type AddressInfo, type ListenOptions } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import dynalite from 'dynalite';
import type { FauxqsServer, startFauxqs as StartFauxqs } from 'fauxqs';
import { loadDynamodbBackend, type DynamodbBackend } from '../config.js';
import { startDynamodbLocal } from './dynamodb-local.js';
import { EMULATOR_HOST, isLoopbackHost } from './listening.js';
import { quietSqliteWarning } from './quiet-warnings.js';
import { sumOfThreads, type ThreadMemory, type ThreadQuestion, type ThreadStats } from './thread-stats.js';

export interface Emulators {
  /** fauxqs serves S3 and SQS on one port. */
  readonly s3Endpoint: string;
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** Which emulator serves DynamoDB (absent for an external endpoint such as LocalStack's). */
  readonly dynamodb?: DynamodbBackend;
  /** Their threads' stats, summed, when they run on threads of their own. */
  readonly threads?: ThreadStats;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  readonly region: string;
  /** Keep data on disk here; in memory when absent. */
  readonly dataDir?: string;
  /**
   * Run fauxqs and dynalite each on a worker thread of its own, as S3 and DynamoDB are separate
   * services: a burst of S3 bodies (and the garbage collection it sets off) then does not hold
   * up DynamoDB's answers, nor this thread's work. In one thread, a conditional PutItem sent
   * right after 16 MiB of PutObject waited a median 12 ms; on its own thread, 5 ms.
   */
  readonly threads?: boolean;
  /**
   * Which emulator serves DynamoDB; SLEDS_DYNAMODB (default dynalite) when absent. DynamoDB
   * Local is a JVM process of its own, so it never takes a worker thread.
   */
  readonly dynamodb?: DynamodbBackend;
}

export type EmulatorKind = 'fauxqs' | DynamodbBackend;

/** One emulator, running: where it listens, and how to stop it. */
export interface RunningEmulator {
  readonly endpoint: string;
  /** Its thread's own stats, when it has a thread of its own. */
  readonly thread?: ThreadStats;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs (S3, SQS) and dynalite or DynamoDB Local (DynamoDB) on free loopback ports.
 * With `dataDir`, objects are plain files, queues live in SQLite and tables in LevelDB (DynamoDB
 * Local: its own SQLite file), so a restart keeps everything; without it, all is in memory. The
 * directories it makes are private (0700); the files the emulators write in them are as private
 * as the process umask makes them (`npm start` sets 077).
 */
export async function startEmulators(options: EmulatorOptions): Promise<Emulators> {
  const { dataDir } = options;
  const dynamodb = options.dynamodb ?? loadDynamodbBackend();
  if (dataDir) {
    await Promise.all(['s3', 'sqs', dynamoDataDir(dynamodb)].map((part) => mkdir(join(dataDir, part), { recursive: true, mode: 0o700 })));
  }
  const start = options.threads ? startEmulatorThread : startEmulator;
  const started = await Promise.allSettled([
    start('fauxqs', options),
    dynamodb === 'dynamodb-local' ? startEmulator(dynamodb, options) : start(dynamodb, options),
  ]);
  const running = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(running.map((emulator) => emulator.stop()));
    throw failed.reason;
  }
  const [fauxqs, dynamo] = running as [RunningEmulator, RunningEmulator];
  return {
    s3Endpoint: fauxqs.endpoint,
    sqsEndpoint: fauxqs.endpoint,
    dynamodbEndpoint: dynamo.endpoint,
    dynamodb,
    ...(options.threads ? { threads: sumOfThreads(running.flatMap((emulator) => (emulator.thread ? [emulator.thread] : []))) } : {}),
    async stop() {
      await Promise.all(running.map((emulator) => emulator.stop()));
    },
  };
}

/** Starts one emulator on this thread. */
export async function startEmulator(kind: EmulatorKind, { dataDir, region }: EmulatorOptions): Promise<RunningEmulator> {
  if (kind === 'fauxqs') {
    const fauxqs = await startFauxqsOnLoopback({
      port: 0,
      logger: false,
      defaultRegion: region,
      ...(dataDir ? { dataDir: join(dataDir, 'sqs'), s3StorageDir: join(dataDir, 's3') } : {}),
    });
    return { endpoint: `http://${EMULATOR_HOST}:${fauxqs.port}`, stop: () => fauxqs.stop() };
  }
  if (kind === 'dynamodb-local') {
    const local = await startDynamodbLocal(dataDir ? { dataDir: join(dataDir, dynamoDataDir(kind)) } : {});
    return { endpoint: local.endpoint, stop: () => local.stop() };
  }
  const dynamo = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir ? { path: join(dataDir, 'dynamodb') } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(0, EMULATOR_HOST, () => resolve());
  });
  return {
    endpoint: `http://${EMULATOR_HOST}:${(dynamo.address() as AddressInfo).port}`,
    stop() {
      dynamo.closeAllConnections();
      return new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}

/** Each backend keeps its tables in a folder of its own: neither can read the other's files. */
const dynamoDataDir = (backend: DynamodbBackend) => (backend === 'dynalite' ? 'dynamodb' : 'dynamodb-local');

type FauxqsOptions = NonNullable<Parameters<typeof StartFauxqs>[0]>;

/** Wildcard addresses: every interface of the machine. */
const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

/**
 * Starts fauxqs listening on EMULATOR_HOST only.
 *
 * fauxqs 2.4.1 has no listen-host option: `startFauxqs` calls Fastify's
 * `app.listen({ port, host: "0.0.0.0" })` with the host written in, and its `host` option only
 * names the host in the queue URLs it hands out. Its http server is neither injectable nor
 * returned. So for the duration of the call, the first wildcard `listen` made on this thread
 * (Fastify's, which calls `server.listen(options)` on a node `http.Server`, a `net.Server`) is
 * rewritten to EMULATOR_HOST, and the original `listen` is put back at once. The server that
 * listened is then checked: if fauxqs ever listens another way, start-up fails rather than
 * leave S3 and SQS open to the network.
 */
async function startFauxqsOnLoopback(options: FauxqsOptions): Promise<FauxqsServer> {
  quietSqliteWarning();
  const { startFauxqs } = await import('fauxqs');
  const listen = NetServer.prototype.listen;
  let bound: NetServer | undefined;
  const onLoopback = function (this: NetServer, ...args: unknown[]) {
    const [first] = args;
    if (first !== null && typeof first === 'object' && WILDCARD_HOSTS.has((first as ListenOptions).host ?? '')) {
      NetServer.prototype.listen = listen;
      const server = listen.call(this, { ...(first as ListenOptions), host: EMULATOR_HOST }, ...(args.slice(1) as [() => void]));
      bound = server;
      return server;
    }
    return (listen as (...a: unknown[]) => NetServer).apply(this, args);
  } as typeof listen;
  NetServer.prototype.listen = onLoopback;
  let fauxqs: FauxqsServer;
  try {
    fauxqs = await startFauxqs(options);
  } finally {
    if (NetServer.prototype.listen === onLoopback) NetServer.prototype.listen = listen;
  }
  const address = bound?.address();
  const host = address && typeof address === 'object' ? address.address : new URL(fauxqs.address).hostname;
  if (!isLoopbackHost(host)) {
    await fauxqs.stop();
    throw new Error(`fauxqs listened on ${host}, not on loopback; refusing to serve S3 and SQS to the network`);
  }
  return fauxqs;
}

/** A question to an emulator's thread, and its answer. */
export interface EmulatorThreadRequest {
  readonly id: number;
  readonly ask: ThreadQuestion | 'stop';
}
export type EmulatorThreadMessage = { readonly endpoint: string } | { readonly id: number; readonly answer: number | ThreadMemory };

/** Starts one emulator on a worker thread of its own (see emulator-thread.ts). */
async function startEmulatorThread(kind: EmulatorKind, options: EmulatorOptions): Promise<RunningEmulator> {
  const entry = new URL(`./emulator-thread${extensionOf(import.meta.url)}`, import.meta.url);
  // Run from source (tsx, vitest), the thread needs the TypeScript loader too: tsx, found
  // from here rather than from the working directory.
  const loader = entry.pathname.endsWith('.ts') ? pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href : undefined;
  const worker = new Worker(entry, {
    workerData: { kind, options: { region: options.region, dataDir: options.dataDir } },
    ...(loader ? { execArgv: ['--import', loader] } : {}),
  });
  const asked = new Map<number, { resolve: (answer: number | ThreadMemory) => void; reject: (error: Error) => void }>();
  let lastId = 0;
  /** Why the thread is no more, once it is not: nothing it was asked will be answered. */
  let gone: Error | undefined;
  const started = new Promise<string>((resolve, reject) => {
    const failAll = (error: Error) => {
      gone ??= error;
      reject(error);
      for (const { reject: fail } of asked.values()) fail(error);
      asked.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`the ${kind} thread exited (code ${code})`)));
    worker.on('message', (message: EmulatorThreadMessage) => {
      if ('endpoint' in message) return resolve(message.endpoint);
      asked.get(message.id)?.resolve(message.answer);
      asked.delete(message.id);
    });
  });
  let endpoint: string;
  try {
    endpoint = await started;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  const ask = (question: EmulatorThreadRequest['ask']) =>
    new Promise<number | ThreadMemory>((resolve, reject) => {
      if (gone) return reject(gone);
      const id = ++lastId;
      asked.set(id, { resolve, reject });
      worker.postMessage({ id, ask: question } satisfies EmulatorThreadRequest);
    });
  return {
    endpoint,
    thread: {
      cpuMs: async () => (await ask('cpu')) as number,
      gcPauseMs: async () => (await ask('gc-pauses')) as number,
      collectGarbage: async () => void (await ask('gc')),
      memory: async () => [(await ask('memory')) as ThreadMemory],
    },
    async stop() {
      if (!gone) await ask('stop');
      await worker.terminate();
    },
  };
}

const extensionOf = (url: string) => url.slice(url.lastIndexOf('.'));
