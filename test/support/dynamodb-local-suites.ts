/**
 * `npm run test:dynamodb-local`: the integration suites that lean hardest on DynamoDB, run again
 * with SLEDS_DYNAMODB=dynamodb-local, so that the embedded cloud (test/support/local-cloud.ts
 * and every startLocalCloud) serves DynamoDB from Amazon's DynamoDB Local instead of dynalite.
 * Extra arguments go to vitest. See docs/dynamodb-backends.md.
 */
import { spawnSync } from 'node:child_process';
import { ENV } from '../../lib/config.js';
import { canRunDynamodbLocal } from './java.js';

export const DYNAMODB_LOCAL_SUITES = [
  'test/integration/write-path.test.ts',
  'test/integration/rebuild.test.ts',
  'test/integration/flush.test.ts',
  'test/integration/head-flush.test.ts',
  'test/integration/copy-jobs.test.ts',
];

if (canRunDynamodbLocal()) {
  const run = spawnSync('vitest', ['run', ...DYNAMODB_LOCAL_SUITES, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [ENV.dynamodb]: 'dynamodb-local' },
  });
  if (run.error) throw run.error;
  process.exitCode = run.status ?? 1;
}
