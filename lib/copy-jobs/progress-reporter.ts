import type { CopyJobRepository } from './ports.js';

/** How often a batch reports its progress and so learns whether its job still runs. */
const PROGRESS_REPORT_MS = 1000;

/**
 * Adds a batch's progress to the job about once a second, not once per chunk or task: one
 * conditional write that also tells whether the job still runs (it fails once the job ended).
 */
export class ProgressReporter {
  private chunks = 0;
  private intermediaries = 0;
  private roundTasks: Record<number, number> = {};
  private taskChunks: Record<string, number> = {};
  private last = Date.now();
  private reporting: Promise<boolean> = Promise.resolve(true);
  /** False once a report found the job ended. */
  running = true;

  constructor(
    private readonly jobs: CopyJobRepository,
    private readonly jobId: string,
    private readonly chunkBytes: number,
    /** Whether the job records chunks per task (see MAX_TRACKED_TASKS). */
    private readonly perTask: boolean,
  ) {}

  chunk(taskId: string): void {
    this.chunks++;
    if (this.perTask) this.taskChunks[taskId] = (this.taskChunks[taskId] ?? 0) + 1;
    this.maybeReport();
  }

  task(round: number, intermediary: boolean): void {
    this.roundTasks[round] = (this.roundTasks[round] ?? 0) + 1;
    if (intermediary) this.intermediaries++;
    this.maybeReport();
  }

  private maybeReport(): void {
    if (Date.now() - this.last >= PROGRESS_REPORT_MS) void this.report().catch(() => undefined);
  }

  /** Reports what is not reported yet; resolves to whether the job still runs. */
  async report(): Promise<boolean> {
    this.last = Date.now();
    const delta = {
      chunksCopied: this.chunks,
      bytesCopied: this.chunks * this.chunkBytes,
      intermediariesCreated: this.intermediaries,
      roundTasks: this.roundTasks,
      ...(this.perTask ? { taskChunks: this.taskChunks } : {}),
    };
    this.taskChunks = {};
    this.chunks = 0;
    this.intermediaries = 0;
    this.roundTasks = {};
    // One report at a time, in order; one that failed does not stop the next.
    this.reporting = this.reporting
      .catch(() => true)
      .then(async () => {
        const running = await this.jobs.reportProgress(this.jobId, delta);
        if (!running) this.running = false;
        return running;
      });
    return this.reporting;
  }
}
