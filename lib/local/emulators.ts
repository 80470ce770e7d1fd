import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';
import { sumOfThreads, type ThreadQuestion, type ThreadStats } from './thread-stats.js';

export interface Emulators {
  /** fauxqs serves S3 and SQS on one port. */
  readonly s3Endpoint: string;
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
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
}

export type EmulatorKind = 'fauxqs' | 'dynalite';

/** One emulator, running: where it listens, and how to stop it. */
export interface RunningEmulator {
  readonly endpoint: string;
  /** Its thread's own stats, when it has a thread of its own. */
  readonly thread?: ThreadStats;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs (S3, SQS) and dynalite (DynamoDB) on free loopback ports. With `dataDir`,
 * objects are plain files, queues live in SQLite and tables in LevelDB, so a restart keeps
 * everything; without it, all is in memory.
 */
export async function startEmulators(options: EmulatorOptions): Promise<Emulators> {
  const { dataDir } = options;
  if (dataDir) {
    await Promise.all(['s3', 'sqs', 'dynamodb'].map((part) => mkdir(join(dataDir, part), { recursive: true })));
  }
  const start = options.threads ? startEmulatorThread : startEmulator;
  const started = await Promise.allSettled([start('fauxqs', options), start('dynalite', options)]);
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
    ...(options.threads ? { threads: sumOfThreads(running.flatMap((emulator) => (emulator.thread ? [emulator.thread] : []))) } : {}),
    async stop() {
      await Promise.all(running.map((emulator) => emulator.stop()));
    },
  };
}

/** Starts one emulator on this thread. */
export async function startEmulator(kind: EmulatorKind, { dataDir, region }: EmulatorOptions): Promise<RunningEmulator> {
  if (kind === 'fauxqs') {
    const fauxqs = await startFauxqs({
      port: 0,
      logger: false,
      defaultRegion: region,
      ...(dataDir ? { dataDir: join(dataDir, 'sqs'), s3StorageDir: join(dataDir, 's3') } : {}),
    });
    return { endpoint: `http://127.0.0.1:${fauxqs.port}`, stop: () => fauxqs.stop() };
  }
  const dynamo = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir ? { path: join(dataDir, 'dynamodb') } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`,
    stop() {
      dynamo.closeAllConnections();
      return new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}

/** A question to an emulator's thread, and its answer. */
export interface EmulatorThreadRequest {
  readonly id: number;
  readonly ask: ThreadQuestion | 'stop';
}
export type EmulatorThreadMessage = { readonly endpoint: string } | { readonly id: number; readonly answer: number };

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
  const asked = new Map<number, { resolve: (answer: number) => void; reject: (error: Error) => void }>();
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
    new Promise<number>((resolve, reject) => {
      if (gone) return reject(gone);
      const id = ++lastId;
      asked.set(id, { resolve, reject });
      worker.postMessage({ id, ask: question } satisfies EmulatorThreadRequest);
    });
  return {
    endpoint,
    thread: {
      cpuMs: () => ask('cpu'),
      gcPauseMs: () => ask('gc-pauses'),
      collectGarbage: async () => void (await ask('gc')),
    },
    async stop() {
      if (!gone) await ask('stop');
      await worker.terminate();
    },
  };
}

const extensionOf = (url: string) => url.slice(url.lastIndexOf('.'));
