/**
 * An ExportResolver over a fixed table of exports: for tests and for serving devices built
 * up front. Entries can also be refusals, to exercise the refusal path.
 */
import type { BlockDevice, ExportListing, ExportOpening, ExportRefusalReason, ExportResolver } from './ports.js';

/** One export of a StaticExportResolver. */
export type StaticExport =
  | { readonly name: string; readonly description?: string; readonly device: BlockDevice }
  | { readonly name: string; readonly description?: string; readonly refusal: { readonly reason: ExportRefusalReason; readonly message: string } };

/** Resolves names from a fixed list; unlisted names are unknown. */
export class StaticExportResolver implements ExportResolver {
  private readonly exports: Map<string, StaticExport>;

  constructor(exports: readonly StaticExport[]) {
    this.exports = new Map(exports.map((e) => [e.name, e]));
  }

  /** Every export, in the order given. */
  async list(): Promise<readonly ExportListing[]> {
    return [...this.exports.values()].map((e) => ({ name: e.name, ...(e.description === undefined ? {} : { description: e.description }) }));
  }

  /** The device of `name`, or why it cannot be had. */
  async open(name: string): Promise<ExportOpening> {
    const entry = this.exports.get(name);
    if (entry === undefined) return { kind: 'refused', reason: 'unknown', message: `There is no export named "${name}".` };
    if ('refusal' in entry) return { kind: 'refused', ...entry.refusal };
    return { kind: 'opened', device: entry.device, ...(entry.description === undefined ? {} : { description: entry.description }) };
  }
}
