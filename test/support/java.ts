import { spawnSync } from 'node:child_process';
import { JAVA_DEBIAN_PACKAGE } from '../../lib/local/dynamodb-local.js';

/**
 * Whether DynamoDB Local can run here: `java` 17 or later, with the compiler module that runs
 * its loopback launcher as a single-file source program. Where it cannot, CI (CI=true) fails
 * with the Debian package to install, since CI must run the DynamoDB suites on both backends;
 * elsewhere this warns and answers false, so that those suites skip.
 */
export function canRunDynamodbLocal(env: NodeJS.ProcessEnv = process.env): boolean {
  const modules = spawnSync('java', ['--list-modules'], { encoding: 'utf8' });
  const problem =
    modules.error || modules.status !== 0
      ? '`java` does not run'
      : /^jdk\.compiler@/m.test(modules.stdout)
        ? undefined
        : '`java` has no jdk.compiler module (a JRE, not a JDK)';
  if (!problem) return true;
  const message = `DynamoDB Local needs Java 17 with its compiler, but ${problem}: apt-get install -y ${JAVA_DEBIAN_PACKAGE}`;
  if (env.CI === 'true') throw new Error(`${message}. CI runs the DynamoDB suites on DynamoDB Local as well as on dynalite.`);
  console.warn(`${message}. Skipping the DynamoDB Local side.`);
  return false;
}
