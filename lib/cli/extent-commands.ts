/**
 * `sleds volume zero|map`: the thin-provisioning side of a volume. `zero` discards a range of
 * any size as one op per partition (nothing is stored, as NBD TRIM/WRITE_ZEROES do); `map`
 * shows which runs hold data and which read as zeros, the map `nbdinfo --map` shows.
 */
import type { Command } from 'commander';
import { formatSize } from '../units/sizes.js';
import { UsageError, formatTable, parseOffsetArgument, parseVolumeIdArgument } from './format.js';
import type { CliContext } from './main.js';
import type { AllocationExtent } from './volume-api.js';

interface RangeOptions {
  offset?: number;
  length?: number;
}

/** Renders allocation runs as `nbdinfo --map` lays them out: offset, length, type. */
export function formatAllocation(extents: readonly AllocationExtent[]): string {
  const rows = extents.map((extent) => [String(extent.offset), String(extent.length), extent.type, formatSize(extent.length)]);
  return formatTable(
    [{ header: 'OFFSET', align: 'right' }, { header: 'LENGTH', align: 'right' }, { header: 'TYPE' }, { header: 'SIZE', align: 'right' }],
    rows,
  );
}

/** Sums the bytes of each type: what a volume stores, and what reads as zeros. */
export function allocationTotals(extents: readonly AllocationExtent[]): { data: number; zero: number } {
  const totals = { data: 0, zero: 0 };
  for (const extent of extents) totals[extent.type] += extent.length;
  return totals;
}

export function registerExtentCommands(volume: Command, context: CliContext): void {
  const offset = (flag: string) => (text: string) => parseOffsetArgument(text, flag);
  const length = (flag: string) => (text: string) => {
    const bytes = parseOffsetArgument(text, flag);
    if (bytes === 0) throw new UsageError(`invalid ${flag}: "${text}" must be more than 0 bytes`);
    return bytes;
  };

  volume
    .command('zero')
    .description('make a range read as zeros (discard): one op per partition, nothing stored')
    .argument('<volume-id>', 'the volume, e.g. vol-0123456789abcdef0', parseVolumeIdArgument)
    .requiredOption('--offset <size>', 'where the range starts, a multiple of 4KiB, e.g. 0 or 4MiB', offset('--offset'))
    .requiredOption('--length <size>', 'how long the range is, a multiple of 4KiB, e.g. 1GiB', length('--length'))
    .action(async (volumeId: string, options: Required<RangeOptions>) => {
      const result = await context.client().zeroData(volumeId, { offset: options.offset, length: options.length });
      if (context.json) return context.printJson({ volumeId, offset: options.offset, length: options.length, ...result });
      const partitions = result.ops.length;
      context.print(
        `zeroed ${formatSize(options.length)} of ${volumeId} at ${formatSize(options.offset)} ` +
          `(${partitions} ${partitions === 1 ? 'partition' : 'partitions'}, one op each)`,
      );
    });

  volume
    .command('map')
    .description('show which runs of a volume hold data and which read as zeros (its allocation)')
    .argument('<volume-id>', 'the volume, e.g. vol-0123456789abcdef0', parseVolumeIdArgument)
    .option('--offset <size>', 'where to start, a multiple of 4KiB (default: 0)', offset('--offset'))
    .option('--length <size>', 'how much to map, a multiple of 4KiB (default: to the end)', length('--length'))
    .action(async (volumeId: string, options: RangeOptions) => {
      const allocation = await context.client().getAllocation(volumeId, options);
      if (context.json) return context.printJson(allocation);
      const totals = allocationTotals(allocation.extents);
      context.print(formatAllocation(allocation.extents));
      context.hint(`${formatSize(totals.data)} data, ${formatSize(totals.zero)} zeros`);
    });
}
