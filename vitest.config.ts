import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // fauxqs uses node:sqlite, which warns on every start on Node 22.
    execArgv: ['--no-warnings=ExperimentalWarning'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
