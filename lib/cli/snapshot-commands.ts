/**
 * `sleds snapshot create|show|list`: a snapshot fixes a volume's committed ops at once; its
 * chunks are then stored on the sleds in the background, and --wait follows that.
 */
import type { Command } from 'commander';
import type { Snapshot } from '../snapshots/snapshot.js';
import { DEFAULT_PAGE_SIZE } from '../volumes/volume.js';
import { formatSnapshotDetails, formatSnapshotTable } from './copy-format.js';
import { addListCommand } from './list-command.js';
import { progressEnabled } from './data-commands.js';
import { parseSnapshotIdArgument, parseVolumeIdArgument } from './format.js';
import type { CliContext } from './main.js';
import { ProgressBar } from './progress.js';
import { SnapshotFailedError, waitForSnapshot } from './watch.js';

interface WaitOptions {
  wait?: boolean;
  /** true with --progress, false with --no-progress, undefined: only on a terminal. */
  progress?: boolean;
}

/** Adds the `snapshot` command group to the program. */
export function registerSnapshotCommands(program: Command, context: CliContext): Command {
  const { io } = context;
  const snapshot = program.command('snapshot').description('snapshot a volume, show and list snapshots');

  const waitOptions = (command: Command) =>
    command
      .option('--wait', 'wait until every partition is stored on the sleds, with a progress bar on stderr')
      .option('--progress', 'show the progress bar even when stderr is not a terminal')
      .option('--no-progress', 'never show a progress bar');

  /** Waits (with --wait) and prints the snapshot; a failed snapshot is exit status 1. */
  const finish = async (taken: Snapshot, options: WaitOptions): Promise<void> => {
    let shown = taken;
    if (options.wait) {
      const bar = new ProgressBar({
        stream: io.stderr,
        total: taken.progress.partitionsTotal,
        enabled: progressEnabled(options.progress, io.stderr),
        label: 'snapshot',
        unit: 'partitions',
      });
      shown = await waitForSnapshot(context.client(), taken, bar);
    }
    if (context.json) context.printJson(shown);
    else context.print(formatSnapshotDetails(shown));
    if (shown.state === 'failed') throw new SnapshotFailedError(shown);
    if (shown.state === 'creating' && !context.json) {
      context.hint(`Its chunks are being stored; copies can start once it is completed: sleds snapshot show ${shown.snapshotId} --wait`);
    }
  };

  waitOptions(
    snapshot
      .command('create')
      .description("snapshot a volume at its committed ops; the chunks are stored in the background")
      .argument('<volume-id>', 'the volume, e.g. vol-0123456789abcdef0', parseVolumeIdArgument),
  ).action(async (volumeId: string, options: WaitOptions) => {
    const taken = await context.client().createSnapshot(volumeId);
    // The id first, so that it is on screen however long the wait.
    if (!context.json) context.print(`Created ${taken.snapshotId} of ${volumeId}`);
    await finish(taken, options);
  });

  waitOptions(
    snapshot
      .command('show')
      .description('show a snapshot: its state and how many partitions are stored')
      .argument('<snapshot-id>', 'the snapshot, e.g. snap-0123456789abcdef0', parseSnapshotIdArgument),
  ).action(async (snapshotId: string, options: WaitOptions) => {
    await finish(await context.client().getSnapshot(snapshotId), options);
  });

  addListCommand(snapshot, context, {
    key: 'snapshots',
    singular: 'snapshot',
    defaultLimit: DEFAULT_PAGE_SIZE,
    page: (options) => context.client().listSnapshots(options),
    pages: (options) => context.client().listSnapshotPages(options),
    items: (page) => page.snapshots,
    table: formatSnapshotTable,
    emptyHint: 'Take one with: sleds snapshot create <volume-id>',
  });

  return snapshot;
}
