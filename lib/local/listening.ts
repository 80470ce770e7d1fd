import { isIP } from 'node:net';
import { ENV, type ApiAuthConfig, type LocalCloudConfig, type NbdTlsConfig } from '../config.js';

/**
 * The emulators' listen address. They check no credentials, so whoever reaches them can read
 * and overwrite every volume: they stay on loopback whatever SLEDS_LISTEN_HOST says.
 */
export const EMULATOR_HOST = '127.0.0.1';

/**
 * The protections of the user-facing listeners. A listener beyond loopback is safe only once
 * its requests are authenticated: API calls signed with SigV4 and checked, and NBD behind TLS
 * that every client must negotiate (a pre-shared key proves who it is).
 */
export interface ListenerProtections {
  /** The API verifies SigV4 signatures on every request (SLEDS_API_AUTH=sigv4). */
  readonly apiSigV4: boolean;
  /** The NBD server requires TLS with a PSK before anything else (SLEDS_NBD_TLS=require). */
  readonly nbdTls: boolean;
}

/** What Sleds can provide: both, each turned on by its setting (`configuredProtections`). */
export const AVAILABLE_PROTECTIONS: ListenerProtections = Object.freeze({ apiSigV4: true, nbdTls: true });

/** Neither: what an unconfigured embedded cloud has. */
export const NO_PROTECTIONS: ListenerProtections = Object.freeze({ apiSigV4: false, nbdTls: false });

/**
 * The protections the settings turn on. TLS that is only offered (SLEDS_NBD_TLS=on) does not
 * count: a client could still skip it.
 */
export function configuredProtections(apiAuth: Pick<ApiAuthConfig, 'mode'>, nbdTls: Pick<NbdTlsConfig, 'mode'>): ListenerProtections {
  return Object.freeze({
    apiSigV4: AVAILABLE_PROTECTIONS.apiSigV4 && apiAuth.mode === 'sigv4',
    nbdTls: AVAILABLE_PROTECTIONS.nbdTls && nbdTls.mode === 'require',
  });
}

/** True for an address that only this machine can reach: 127.0.0.0/8, ::1, their IPv4-mapped forms, `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  if (isIP(v4) === 4) return v4.split('.')[0] === '127';
  if (isIP(bare) === 6) return expandIpv6(bare) === '0000:0000:0000:0000:0000:0000:0000:0001';
  // A host name may resolve to anything: only `localhost` is taken as loopback.
  return false;
}

function expandIpv6(address: string): string {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((group) => group.padStart(4, '0')).join(':');
}

/**
 * What is missing before the embedded cloud may listen on `config.listenHost`: one phrase per
 * missing protection, naming the setting that provides it; empty when it may. Loopback needs nothing.
 */
export function wideListeningProblems(
  config: Pick<LocalCloudConfig, 'listenHost'>,
  protections: ListenerProtections = NO_PROTECTIONS,
): string[] {
  if (isLoopbackHost(config.listenHost)) return [];
  const problems: string[] = [];
  if (!protections.apiSigV4) problems.push(`SigV4 on the API (${ENV.apiAuth}=sigv4)`);
  if (!protections.nbdTls) problems.push(`TLS on NBD (${ENV.nbdTls}=require with ${ENV.nbdTlsPskFile})`);
  return problems;
}

/** The start-up refusal for a listen host that `wideListeningProblems` objects to; undefined when none. */
export function wideListeningRefusal(
  config: Pick<LocalCloudConfig, 'listenHost'>,
  protections: ListenerProtections = NO_PROTECTIONS,
): string | undefined {
  const problems = wideListeningProblems(config, protections);
  if (problems.length === 0) return undefined;
  return (
    `${ENV.listenHost}=${config.listenHost} needs ${problems.join(' and ')}: without them anyone who ` +
    `reaches this machine could read and overwrite every volume. Unset ${ENV.listenHost} to listen on ` +
    `loopback only (reach it from elsewhere through an SSH tunnel).`
  );
}
