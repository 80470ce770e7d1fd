import { isIP } from 'node:net';
import { ENV, type LocalCloudConfig } from '../config.js';

/**
 * The emulators' listen address. They check no credentials, so whoever reaches them can read
 * and overwrite every volume: they stay on loopback whatever SLEDS_LISTEN_HOST says.
 */
export const EMULATOR_HOST = '127.0.0.1';

/**
 * The protections that the user-facing listeners have today. A listener beyond loopback is
 * safe only once its requests are authenticated: API calls signed with SigV4 and checked, and
 * NBD behind TLS. When one of these lands, flip it here (or derive it from config), and
 * `wideListeningProblems` stops naming it.
 */
export interface ListenerProtections {
  /** The API verifies SigV4 signatures on every request. */
  readonly apiSigV4: boolean;
  /** The NBD server speaks TLS (and checks client certificates or a PSK). */
  readonly nbdTls: boolean;
}

/** What Sleds has now: neither. */
export const AVAILABLE_PROTECTIONS: ListenerProtections = Object.freeze({ apiSigV4: false, nbdTls: false });

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
 * What is missing before the embedded cloud may listen on `config.listenHost`: one sentence
 * per missing protection, empty when it may. Loopback needs nothing.
 */
export function wideListeningProblems(
  config: Pick<LocalCloudConfig, 'listenHost'>,
  protections: ListenerProtections = AVAILABLE_PROTECTIONS,
): string[] {
  if (isLoopbackHost(config.listenHost)) return [];
  const problems: string[] = [];
  if (!protections.apiSigV4) problems.push('SigV4 on the API (not available yet)');
  if (!protections.nbdTls) problems.push('TLS on NBD (not available yet)');
  return problems;
}

/** The start-up refusal for a listen host that `wideListeningProblems` objects to; undefined when none. */
export function wideListeningRefusal(
  config: Pick<LocalCloudConfig, 'listenHost'>,
  protections: ListenerProtections = AVAILABLE_PROTECTIONS,
): string | undefined {
  const problems = wideListeningProblems(config, protections);
  if (problems.length === 0) return undefined;
  return (
    `${ENV.listenHost}=${config.listenHost} needs ${problems.join(' and ')}: without them anyone who ` +
    `reaches this machine could read and overwrite every volume. Unset ${ENV.listenHost} to listen on ` +
    `loopback only (reach it from elsewhere through an SSH tunnel).`
  );
}
