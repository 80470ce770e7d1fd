/**
 * `sleds copy` starts a copy job that makes N volumes from a snapshot; `sleds job list|show|events`
 * look at one. `--watch` follows a job to its end with a progress bar, then prints the
 * fan-out plan and a summary; a job that fails is exit status 1.
 */
import type { Command } from 'commander';
import { COPY_JOB_PAGE } from '../api/params.js';
import { MAX_COPY_COUNT, MAX_SOURCE_FANOUT, type CopyMode } from '../copy-jobs/copy-job.js';
import type { CreateCopyJobRequest } from './copy-job-api.js';
import {
  formatCopyJobDetails,
  formatCopyJobEvents,
  formatCopyJobTable,
  formatCopyStarted,
  formatCopySummary,
  parseClientTokenArgument,
  parseCopyCountArgument,
  parseCopyModeArgument,
  parseFanoutArgument,
} from './copy-format.js';
import { progressEnabled } from './data-commands.js';
import { formatCount, parseJobIdArgument, parseSnapshotIdArgument } from './format.js';
import { addListCommand } from './list-command.js';
import type { CliContext } from './main.js';
import { ProgressBar, formatElapsed } from './progress.js';
import { CopyJobFailedError, watchCopyJob } from './watch.js';

interface WatchFlags {
  watch?: boolean;
  /** true with --progress, false with --no-progress, undefined: only on a terminal. */
  progress?: boolean;
}

interface CopyOptions extends WatchFlags {
  count: number;
  maxSourceFanout?: number;
  mode?: CopyMode;
  clientToken?: string;
}

const watchOptions = (command: Command, watch: string) =>
  command
    .option('--watch', watch)
    .option('--progress', 'with --watch, show the progress bar even when stderr is not a terminal')
    .option('--no-progress', 'with --watch, never show a progress bar');

/**
 * Follows a copy job to its end: the bar on stderr, then (for people) the plan and the
 * summary, or (with --json) the final job. A failed job throws, so the exit status is 1.
 */
async function followCopyJob(context: CliContext, jobId: string, progress: boolean | undefined): Promise<void> {
  const { io } = context;
  const client = context.client();
  const enabled = progressEnabled(progress, io.stderr);
  if (enabled) context.hint(`Ctrl-C stops watching, not the job; watch it again with: sleds job show ${jobId} --watch`);
  const bar = new ProgressBar({ stream: io.stderr, total: 0, enabled, label: 'copy' });
  const job = await watchCopyJob(client, jobId, bar);
  if (context.json) {
    context.printJson(job);
  } else {
    if (job.plan) context.print(`\n${job.plan.trimEnd()}`);
    if (job.state === 'succeeded') {
      // What each target received is the snapshot's stored data; without it the summary counts every byte copied.
      const snapshotBytes = await client.getSnapshot(job.snapshotId).then(
        (snapshot) => snapshot.progress.bytesStored,
        () => undefined,
      );
      context.print(`\n${formatCopySummary(job, snapshotBytes)}`);
    }
  }
  if (job.state === 'failed') throw new CopyJobFailedError(job);
}

/** Adds `copy` and the `job` command group to the program. */
export function registerCopyCommands(program: Command, context: CliContext): void {
  watchOptions(
    program
      .command('copy')
      .description('copy a snapshot into new volumes, fanning out through intermediary copies')
      .argument('<snapshot-id>', 'a completed snapshot, e.g. snap-0123456789abcdef0', parseSnapshotIdArgument)
      .requiredOption('--count <n>', `how many volumes to make, 1 to ${MAX_COPY_COUNT}`, parseCopyCountArgument)
      .option(
        '--max-source-fanout <n>',
        `concurrent reads of one source copy, 1 to ${MAX_SOURCE_FANOUT} (default: 4)`,
        parseFanoutArgument,
      )
      .option(
        '--mode <mode>',
        'pipelined (a tree; copies feed others as they fill), swarm (each chunk from any copy that holds it), rounds (round by round) or direct (all from the snapshot) (default: pipelined)',
        parseCopyModeArgument,
      )
      .option('--client-token <token>', 'a retry with the same token returns the job it started instead of a new one', parseClientTokenArgument),
    'follow the job: a progress bar on stderr, then the fan-out plan and a summary',
  ).action(async (snapshotId: string, options: CopyOptions) => {
    const request: CreateCopyJobRequest = {
      count: options.count,
      ...(options.maxSourceFanout === undefined ? {} : { maxSourceFanout: options.maxSourceFanout }),
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.clientToken === undefined ? {} : { clientToken: options.clientToken }),
    };
    const started = await context.client().createCopyJob(snapshotId, request);
    if (!options.watch) {
      if (context.json) return context.printJson(started);
      context.print(formatCopyStarted(started, snapshotId));
      context.hint(`Follow it with: sleds job show ${started.jobId} --watch`);
      return;
    }
    if (!context.json) context.print(formatCopyStarted(started, snapshotId));
    await followCopyJob(context, started.jobId, options.progress);
  });

  const job = program.command('job').description('list and show copy jobs and the state transitions of their executions');

  addListCommand(job, context, {
    key: 'copyJobs',
    singular: 'copy job',
    defaultLimit: COPY_JOB_PAGE.default,
    page: (options) => context.client().listCopyJobs(options),
    pages: (options) => context.client().listCopyJobPages(options),
    items: (page) => page.copyJobs,
    table: formatCopyJobTable,
    emptyHint: 'Start one with: sleds copy <snapshot-id> --count 8',
  });

  watchOptions(
    job
      .command('show')
      .description("show a copy job: state, rounds, intermediaries, bytes, throughput, ETA and the fan-out plan")
      .argument('<job-id>', 'the job, e.g. copy-0123456789abcdef0', parseJobIdArgument),
    'follow the job to its end as `sleds copy --watch` does; exit status 1 if it fails',
  ).action(async (jobId: string, options: WatchFlags) => {
    if (options.watch) return followCopyJob(context, jobId, options.progress);
    const status = await context.client().getCopyJob(jobId);
    if (context.json) return context.printJson(status);
    context.print(formatCopyJobDetails(status));
  });

  job
    .command('events')
    .description("list the job's state transitions, timed from the first")
    .argument('<job-id>', 'the job, e.g. copy-0123456789abcdef0', parseJobIdArgument)
    .action(async (jobId: string) => {
      const answer = await context.client().listCopyJobEvents(jobId);
      if (context.json) return context.printJson(answer);
      const { events } = answer;
      if (events.length === 0) {
        context.print('No events yet.');
        return;
      }
      context.print(formatCopyJobEvents(events));
      const times = events.map((event) => Date.parse(event.timestamp)).filter(Number.isFinite);
      const span = times.length > 0 ? Math.max(...times) - Math.min(...times) : 0;
      context.hint(`${formatCount(events.length, 'event')} over ${formatElapsed(span)}.`);
    });
}
