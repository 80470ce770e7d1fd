import { resolve } from 'node:path';
import { cruise, type ICruiseOptions, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { describe, expect, it } from 'vitest';

/**
 * The architecture rules of `npm run arch`, run by dependency-cruiser's API with the real
 * configs over two tiny projects (test/fixtures/arch): each rule reports its deliberate
 * violation, and the clean project breaks none. Without a rule (or with one that cannot
 * match), its expectation below fails.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = resolve(ROOT, 'test/fixtures/arch');

async function violations(config: string, project: 'clean' | 'violations', roots: string[]): Promise<string[]> {
  const options: ICruiseOptions = await extractDepcruiseOptions(resolve(ROOT, config));
  // The fixtures are cruised as projects of their own: `lib/...` is the fixture's lib.
  const { tsConfig: _ignored, ...rest } = options;
  const result = await cruise(roots, { ...rest, baseDir: resolve(FIXTURES, project) });
  if (typeof result.output === 'string') throw new Error(`unexpected string output: ${result.output}`);
  // A fixture import that did not resolve would hide its violation: every one must resolve.
  const unresolved = result.output.modules.flatMap((module) => module.dependencies.filter((dependency) => dependency.couldNotResolve).map((dependency) => `${module.source} -> ${dependency.module}`));
  expect(unresolved).toEqual([]);
  return result.output.summary.violations.map((violation: IViolation) => `${violation.rule.name}: ${violation.from} -> ${violation.to}`).sort();
}

describe('architecture rules (dependency-cruiser)', () => {
  it('report an AWS SDK import outside the adapters and a handler that reaches past the wiring', async () => {
    const found = await violations('.dependency-cruiser.mjs', 'violations', ['lib', 'functions']);
    expect(found).toEqual([
      expect.stringMatching(/^aws-sdk-only-in-adapters: lib\/gamma\/domain-with-sdk\.ts -> .*node_modules\/@aws-sdk\/client-s3\//),
      'handlers-only-through-wiring: functions/handler-with-adapter.ts -> lib/aws/adapter.ts',
    ]);
  });

  it('report a cycle between two folders of lib/, though no module cycle carries it', async () => {
    const found = await violations('.dependency-cruiser-lib-folders.mjs', 'violations', ['lib']);
    expect(found).toEqual(['no-lib-folder-cycles: lib/alpha -> lib/beta', 'no-lib-folder-cycles: lib/beta -> lib/alpha']);
  });

  it('report nothing on a project that keeps them (a module cycle inside one folder included)', async () => {
    expect(await violations('.dependency-cruiser.mjs', 'clean', ['lib', 'functions'])).toEqual([]);
    expect(await violations('.dependency-cruiser-lib-folders.mjs', 'clean', ['lib'])).toEqual([]);
  });
});
