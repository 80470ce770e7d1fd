/**
 * `sleds volume create|list|show|delete`; the data verbs (write, read, partition) come from
 * data-commands.ts.
 */
import type { Command } from 'commander';
import { formatSize } from '../units/sizes.js';
import type { Volume } from '../volumes/volume.js';
import type { CreateVolumeRequest } from './volume-api.js';
import {
  formatCount,
  formatVolumeDetails,
  formatVolumeTable,
  parseCountArgument,
  parseSizeArgument,
  parseVolumeIdArgument,
} from './format.js';
import { registerDataCommands } from './data-commands.js';
import { registerExtentCommands } from './extent-commands.js';
import type { CliContext } from './main.js';

interface CreateOptions {
  size: number;
  chunkSize?: number;
  partitionChunks?: number;
  name?: string;
}

interface ListOptions {
  all?: boolean;
  limit?: number;
}

// Option parsers throw UsageError, which commander lets through untouched (exit status 2).
const size = (flag: string) => (text: string) => parseSizeArgument(text, flag);
const count = (flag: string) => (text: string) => parseCountArgument(text, flag);

/** Adds the `volume` command group to the program. */
export function registerVolumeCommands(program: Command, context: CliContext): Command {
  const volume = program
    .command('volume')
    .description('create, list, show and delete volumes; write and read their data');

  volume
    .command('create')
    .description('create an empty volume')
    .requiredOption('--size <size>', 'volume size in binary units, e.g. 512MiB, 1GiB, 2TiB', size('--size'))
    .option('--chunk-size <size>', 'chunk size, a power of two from 64KiB to 16MiB (default: 1MiB)', size('--chunk-size'))
    .option('--partition-chunks <n>', 'chunks per partition, 1 to 1024 (default: 16)', count('--partition-chunks'))
    .option('--name <name>', 'a name for people; ids stay the way to address a volume')
    .action(async (options: CreateOptions) => {
      const request: CreateVolumeRequest = {
        sizeBytes: options.size,
        ...(options.chunkSize === undefined ? {} : { chunkSizeBytes: options.chunkSize }),
        ...(options.partitionChunks === undefined ? {} : { partitionChunks: options.partitionChunks }),
        ...(options.name === undefined ? {} : { name: options.name }),
      };
      const created = await context.client().createVolume(request);
      if (context.json) return context.printJson(created);
      context.print(`Created ${created.volumeId}`);
      context.print(formatVolumeDetails(created));
    });

  volume
    .command('list')
    .alias('ls')
    .description('list volumes')
    .option('--all', 'follow every page instead of printing only the first')
    .option('--limit <n>', 'volumes per page (default: the API default, 100)', count('--limit'))
    .action(async (options: ListOptions) => {
      const client = context.client();
      const limit = options.limit === undefined ? {} : { limit: options.limit };
      let volumes: Volume[];
      let more = false;
      if (options.all) {
        volumes = [];
        for await (const page of client.listVolumePages(limit)) volumes.push(...page.volumes);
        if (context.json) return context.printJson({ volumes });
      } else {
        const page = await client.listVolumes(limit);
        if (context.json) return context.printJson(page);
        volumes = page.volumes;
        more = page.nextToken !== undefined;
      }
      if (volumes.length === 0) {
        context.print('No volumes.');
        context.hint('Create one with: sleds volume create --size 1GiB');
        return;
      }
      context.print(formatVolumeTable(volumes));
      const total = volumes.reduce((sum, v) => sum + v.sizeBytes, 0);
      if (more) {
        context.hint(`Showing ${formatCount(volumes.length, 'volume')} from the first page; more exist. Add --all to list them all.`);
      } else {
        context.hint(`${formatCount(volumes.length, 'volume')}, ${formatSize(total)} in total.`);
      }
    });

  volume
    .command('show')
    .description('show one volume')
    .argument('<volume-id>', 'the volume, e.g. vol-0123456789abcdef0', parseVolumeIdArgument)
    .action(async (volumeId: string) => {
      const found = await context.client().getVolume(volumeId);
      if (context.json) return context.printJson(found);
      context.print(formatVolumeDetails(found));
    });

  volume
    .command('delete')
    .alias('rm')
    .description('delete a volume and all of its data')
    .argument('<volume-id>', 'the volume, e.g. vol-0123456789abcdef0', parseVolumeIdArgument)
    .option('-y, --yes', 'do not ask for confirmation (the CLI never prompts yet; scripts should pass it)')
    .action(async (volumeId: string) => {
      const result = await context.client().deleteVolume(volumeId);
      if (context.json) return context.printJson(result);
      context.print(`Deleted ${result.volumeId} (${formatCount(result.objectsRemoved, 'object')} removed)`);
    });

  registerDataCommands(volume, context);
  registerExtentCommands(volume, context);

  return volume;
}
