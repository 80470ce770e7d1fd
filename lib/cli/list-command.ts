/**
 * The shape every `sleds … list` shares: one page by default (a hint says when more exist),
 * `--all` to follow every page, `--limit` per page, `--json` for the answer as it came.
 */
import type { Command } from 'commander';
import { formatCount, parseCountArgument } from './format.js';
import type { CliContext } from './main.js';

interface ListOptions {
  all?: boolean;
  limit?: number;
}

export interface Listing<T, P extends { readonly nextToken?: string }> {
  /** The plural the API names the list by (`snapshots`, `copyJobs`) and the words for people. */
  readonly key: string;
  readonly singular: string;
  readonly plural?: string;
  readonly defaultLimit: number;
  readonly page: (options: { limit?: number }) => Promise<P>;
  readonly pages: (options: { limit?: number }) => AsyncGenerator<P>;
  readonly items: (page: P) => readonly T[];
  readonly table: (items: readonly T[]) => string;
  /** Said when there is nothing to list. */
  readonly emptyHint: string;
}

/** Adds `list` (alias `ls`) to a command group. */
export function addListCommand<T, P extends { readonly nextToken?: string }>(group: Command, context: CliContext, listing: Listing<T, P>): void {
  const plural = listing.plural ?? `${listing.singular}s`;
  group
    .command('list')
    .alias('ls')
    .description(`list ${plural}, newest first within a page`)
    .option('--all', 'follow every page instead of printing only the first')
    .option('--limit <n>', `${plural} per page (default: the API default, ${listing.defaultLimit})`, (text: string) => parseCountArgument(text, '--limit'))
    .action(async (options: ListOptions) => {
      const limit = options.limit === undefined ? {} : { limit: options.limit };
      let items: T[];
      let more = false;
      if (options.all) {
        items = [];
        for await (const page of listing.pages(limit)) items.push(...listing.items(page));
        if (context.json) return context.printJson({ [listing.key]: items });
      } else {
        const page = await listing.page(limit);
        if (context.json) return context.printJson(page);
        items = [...listing.items(page)];
        more = page.nextToken !== undefined;
      }
      if (items.length === 0) {
        context.print(`No ${plural}.`);
        context.hint(listing.emptyHint);
        return;
      }
      context.print(listing.table(items));
      const counted = formatCount(items.length, listing.singular, plural);
      context.hint(more ? `Showing ${counted} from the first page; more exist. Add --all to list them all.` : `${counted}.`);
    });
}
