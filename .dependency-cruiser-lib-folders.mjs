/**
 * The rule on cycles between the folders of lib/, run by `npm run arch` over lib/ alone.
 * It cruises only the modules in lib/<concept>/ (lib/*.ts, such as errors.ts and wiring.ts,
 * are shared by all concepts): dependency-cruiser aggregates every module into its parent
 * folders too ("lib"), and folder-scoped rules take no `via`, so a cruise that saw lib/*.ts,
 * functions/ or test/ would report cycles through "lib" or "functions" that no concept has.
 */
import modules from './.dependency-cruiser.mjs';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-lib-folder-cycles',
      comment:
        'The concepts of lib/ (notes, flush, snapshots, ...) depend on each other one way only. A cycle between two ' +
        'such folders (lib/notes -> lib/flush -> lib/notes), even one that no module cycle carries, means a concept ' +
        'reaches into another: move the shared piece to the lower folder. Cycles between modules of one folder are allowed.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^lib/[^/]+$' },
      to: { path: '^lib/[^/]+$', circular: true },
    },
  ],
  options: {
    ...modules.options,
    includeOnly: '^lib/[^/]+/',
  },
};
