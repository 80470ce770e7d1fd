import { resolve } from 'node:path';
import { ENV, loadApiAuthConfig, loadConsolePort, loadLocalCloudConfig, loadNbdTlsConfig } from '../config.js';
import { signingFetch } from '../api/sign-requests.js';
import { startConsoleServer } from '../console/server.js';
import { diskUrl, loadDiskServerTls, type DiskServerTls } from '../disks/disk-server.js';
import { ConfigError } from '../errors.js';
import { configuredProtections, wideListeningRefusal } from './listening.js';
import { startLocalCloud, type LocalCloud } from './local-cloud.js';
import { PRIVATE_UMASK, preparePrivateDataDir } from './private-data-dir.js';

const SHUTDOWN_DEADLINE_MS = 5000;

/** `npm start`: runs the embedded local cloud until SIGINT or SIGTERM. */
async function main(): Promise<void> {
  const { port, dataDir, listenHost, awsEndpoint, nbdPort, headCacheMib, sledBandwidth, sledLinkSharing } = loadLocalCloudConfig();
  const apiAuth = loadApiAuthConfig();
  const nbdTlsConfig = loadNbdTlsConfig();
  // SLEDS_API_AUTH=sigv4 protects the API, SLEDS_NBD_TLS=require NBD; beyond loopback both must be on.
  const refusal = wideListeningRefusal({ listenHost }, configuredProtections(apiAuth, nbdTlsConfig));
  if (refusal) {
    console.error(`sleds: refusing to start. ${refusal}`);
    process.exit(1);
  }
  // The PSK file is checked (exists, private, parseable) before anything is created.
  let nbdTls: DiskServerTls | undefined;
  try {
    nbdTls = await loadDiskServerTls(nbdTlsConfig);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`sleds: refusing to start. ${error.message}`);
    process.exit(1);
  }
  // Before anything is created: the emulators' files (on their threads too) inherit it.
  process.umask(PRIVATE_UMASK);
  const started = performance.now();
  if (!awsEndpoint) {
    const warning = await preparePrivateDataDir(resolve(dataDir));
    if (warning) console.error(warning);
  }
  let cloud: LocalCloud;
  try {
    cloud = await startLocalCloud({
      port,
      listenHost,
      dataDir: resolve(dataDir),
      emulatorThreads: true,
      apiAuth,
      nbdPort,
      ...(nbdTls ? { nbdTls } : {}),
      headCacheMib,
      warmBeforeOpen: true,
      ...(awsEndpoint ? { awsEndpoint } : {}),
      ...(sledBandwidth === undefined ? {} : { sledBandwidth }),
      ...(sledLinkSharing === undefined ? {} : { sledLinkSharing }),
    });
  } catch (error) {
    const inUse = error as { code?: string; port?: number };
    if (inUse.code === 'EADDRINUSE' && inUse.port === nbdPort && nbdPort !== port) {
      console.error(`sleds: NBD port ${nbdPort} is already in use (another NBD server?); set ${ENV.nbdPort} to another port.`);
      process.exit(1);
    }
    if (inUse.code === 'EADDRINUSE') {
      console.error(
        `sleds: port ${port} is already in use. Another \`npm start\` may be running; stop it, or set SLEDS_PORT to another port.`,
      );
      process.exit(1);
    }
    throw error;
  }
  // Only what a user calls: the emulators' ports are loopback-only internals of this process.
  console.log(`sleds: local cloud ready in ${Math.round(performance.now() - started)} ms`);
  console.log(`  API       ${cloud.apiUrl}   (try: curl ${cloud.apiUrl}/health)`);
  // The console always binds to loopback; a busy port costs the console, not the API.
  // Under SLEDS_API_AUTH=sigv4 the console's proxy signs with the one key pair the API accepts.
  const transport =
    apiAuth.mode === 'sigv4' ? signingFetch(globalThis.fetch, () => Promise.resolve(apiAuth), cloud.config.region) : globalThis.fetch;
  await startConsoleServer({ apiBaseUrl: cloud.apiUrl, port: loadConsolePort(), transport }).then(
    (server) => console.log(`  Console   ${server.url}`),
    (error: unknown) => console.error(`sleds: no console (${(error as Error).message}); set SLEDS_CONSOLE_PORT to another port`),
  );
  if (cloud.nbdUrl && cloud.nbdPort !== undefined) {
    if (nbdTls) {
      const example = diskUrl(exampleHost(listenHost), cloud.nbdPort, '<volume-id>', nbdTls);
      console.log(`  NBD       ${cloud.nbdUrl}   (TLS ${nbdTls.mode === 'require' ? 'required' : 'offered'}, PSK identities: ${[...nbdTls.keys.keys()].join(', ')})`);
      console.log(`            try: nbdinfo '${example}'`);
    } else {
      console.log(`  NBD       ${cloud.nbdUrl}   (try: nbdinfo ${cloud.nbdUrl}/<volume-id>; nbdinfo --list ${cloud.nbdUrl})`);
    }
  }
  console.log(awsEndpoint ? `  data      kept by ${awsEndpoint}` : `  data      ${resolve(dataDir)}`);
  console.log(`  cache     ${headCacheMib > 0 ? `head cache ${headCacheMib} MiB` : 'head cache off'} (${ENV.headCacheMib})`);
  if (apiAuth.mode === 'sigv4') console.log(`  auth      SigV4 (execute-api, ${cloud.config.region}), access key ${apiAuth.accessKeyId}`);
  console.log('  Ctrl-C to stop');
  void cloud.resumedCopyJobs.then(({ resumed, failed, searchError }) => {
    if (searchError) console.error(`sleds: could not look for copy jobs interrupted by the last stop (GET /copy-jobs lists them; POST /copy-jobs/{id}/retry resumes one): ${searchError}`);
    if (resumed.length > 0) console.log(`sleds: resumed ${resumed.length} copy job${resumed.length === 1 ? '' : 's'} interrupted by the last stop: ${resumed.join(', ')}`);
    for (const { jobId, error } of failed) console.error(`sleds: could not resume copy job ${jobId} (POST /copy-jobs/${jobId}/retry): ${error}`);
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`sleds: ${signal}, shutting down`);
    const deadline = setTimeout(() => {
      console.error(`sleds: shutdown took over ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    cloud.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('sleds: error while shutting down', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** A host a client on this machine can connect to: loopback for the wildcard addresses. */
function exampleHost(listenHost: string): string {
  if (listenHost === '0.0.0.0') return '127.0.0.1';
  if (listenHost === '::' || listenHost === '[::]') return '::1';
  return listenHost;
}

main().catch((error: unknown) => {
  console.error('sleds: failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
