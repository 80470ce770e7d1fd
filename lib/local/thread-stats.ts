import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

/** CPU milliseconds (user + system) used by the calling thread so far. */
export function threadCpuMs(): number {
  const usage = process.threadCpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * A full garbage collection of this thread, without --expose-gc on the command line. A bench
 * runs one before each timed section, so that no section pays for the garbage of the one before.
 */
export function collectGarbage(): void {
  if (!fullGc) {
    v8.setFlagsFromString('--expose-gc');
    fullGc = vm.runInNewContext('gc') as () => void;
  }
  fullGc();
}
let fullGc: (() => void) | undefined;

let gcPauses: number | undefined;

/** Milliseconds this thread has spent in garbage-collection pauses since the first call. */
export function gcPauseMs(): number {
  if (gcPauses === undefined) {
    gcPauses = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcPauses = (gcPauses ?? 0) + entry.duration;
    }).observe({ entryTypes: ['gc'] });
  }
  return gcPauses;
}

/**
 * One thread's memory: its V8 heap and the memory outside it (Buffers and other ArrayBuffers
 * are `arrayBuffers`, part of `external`). Each worker thread is an isolate of its own, so these
 * are the thread's; the resident set is the whole process's and is not among them.
 */
export interface ThreadMemory {
  readonly thread: string;
  /** The heap's live objects (after a full collection) and the pages it holds for them. */
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** The calling thread's memory, named `thread`. */
export function memoryOfThisThread(thread: string): ThreadMemory {
  const { heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { thread, heapUsed, heapTotal, external, arrayBuffers };
}

/** What other threads report of themselves, summed over them: for a bench that accounts for every thread. */
export interface ThreadStats {
  cpuMs(): Promise<number>;
  gcPauseMs(): Promise<number>;
  /** A full garbage collection on each thread. */
  collectGarbage(): Promise<void>;
  /** Each thread's memory, one entry per thread (memory is not summed: which thread holds it is the point). */
  memory(): Promise<readonly ThreadMemory[]>;
}

/** The questions a thread answers about itself (see ThreadStats). */
export type ThreadQuestion = 'cpu' | 'gc-pauses' | 'gc' | 'memory';

/** This thread's answer to a question; `name` names the thread in a memory answer. */
export function answerAboutThisThread(question: ThreadQuestion, name = 'main'): number | ThreadMemory {
  if (question === 'cpu') return threadCpuMs();
  if (question === 'memory') return memoryOfThisThread(name);
  if (question === 'gc') collectGarbage();
  return gcPauseMs();
}

/** The calling thread's own stats, in the shape of another thread's. */
export const thisThread: ThreadStats = {
  cpuMs: () => Promise.resolve(threadCpuMs()),
  gcPauseMs: () => Promise.resolve(gcPauseMs()),
  collectGarbage: () => Promise.resolve(collectGarbage()),
  memory: () => Promise.resolve([memoryOfThisThread('main')]),
};

/** The sum of several threads' stats. */
export function sumOfThreads(threads: readonly ThreadStats[]): ThreadStats {
  const sum = async (each: (stats: ThreadStats) => Promise<number>) => (await Promise.all(threads.map(each))).reduce((a, b) => a + b, 0);
  return {
    cpuMs: () => sum((stats) => stats.cpuMs()),
    gcPauseMs: () => sum((stats) => stats.gcPauseMs()),
    async collectGarbage() {
      await Promise.all(threads.map((stats) => stats.collectGarbage()));
    },
    memory: async () => (await Promise.all(threads.map((stats) => stats.memory()))).flat(),
  };
}
