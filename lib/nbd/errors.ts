/**
 * Errors of the NBD layer, and how any error a device throws becomes an NBD error value.
 * The mapping hook lives here, not in lib/errors.ts: the domain does not know NBD.
 */
import { SledsError } from '../errors.js';
import { Errno, type NbdErrno } from './constants.js';

const KNOWN_ERRNOS = new Set<number>(Object.values(Errno));

/** An I/O error with the NBD error value the client receives (EIO, ENOSPC, ENOTSUP...). */
export class NbdIoError extends SledsError {
  readonly nbdErrno: NbdErrno;

  constructor(nbdErrno: NbdErrno, message: string, options?: { cause?: unknown }) {
    super('NbdIo', 500, message, options);
    this.nbdErrno = nbdErrno;
  }
}

/** The peer broke a mandatory rule of the protocol; the connection is dropped (hard disconnect). */
export class NbdProtocolError extends SledsError {
  constructor(message: string) {
    super('NbdProtocol', 400, message);
  }
}

/** The peer closed the connection while the server still expected bytes. */
export class NbdConnectionClosedError extends SledsError {
  constructor(message = 'The NBD client closed the connection.') {
    super('NbdConnectionClosed', 499, message);
  }
}

/** The NBD server was configured with values the protocol does not allow. */
export class NbdConfigError extends SledsError {
  constructor(message: string) {
    super('NbdConfig', 500, message);
  }
}

// SledsError codes that mean something more precise than EIO to an NBD client.
const bySledsCode = new Map<string, NbdErrno>([
  ['MisalignedIo', Errno.EINVAL],
  ['RangeOutOfBounds', Errno.EINVAL],
  ['ValidationError', Errno.EINVAL],
  ['VolumeStateConflict', Errno.EPERM],
]);

// errno codes of Node system errors (a file-backed device) and their NBD counterparts.
const bySystemCode = new Map<string, NbdErrno>([
  ['EPERM', Errno.EPERM],
  ['EACCES', Errno.EPERM],
  ['EROFS', Errno.EPERM],
  ['ENOSPC', Errno.ENOSPC],
  ['EDQUOT', Errno.ENOSPC],
  ['EFBIG', Errno.ENOSPC],
  ['EINVAL', Errno.EINVAL],
  ['ENOMEM', Errno.ENOMEM],
  ['EOPNOTSUPP', Errno.ENOTSUP],
  ['ENOTSUP', Errno.ENOTSUP],
]);

/**
 * The hook for SledsError subclasses: registers the NBD error value that errors with this
 * `code` are answered with (the default is EIO). Later registrations replace earlier ones.
 */
export function mapSledsErrorToNbd(code: string, nbdErrno: NbdErrno): void {
  bySledsCode.set(code, nbdErrno);
}

/**
 * The NBD error value for an error a device threw: its own `nbdErrno` if it carries a valid
 * one, the registered value of its SledsError code, the counterpart of a system errno code,
 * and EIO otherwise.
 */
export function nbdErrnoOf(error: unknown): NbdErrno {
  if (typeof error === 'object' && error !== null) {
    const own = (error as { nbdErrno?: unknown }).nbdErrno;
    if (typeof own === 'number' && KNOWN_ERRNOS.has(own)) return own as NbdErrno;
    if (error instanceof SledsError) return bySledsCode.get(error.code) ?? Errno.EIO;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return bySystemCode.get(code) ?? Errno.EIO;
  }
  return Errno.EIO;
}

/** A short, printable message for an error sent to the client in a structured error chunk. */
export function nbdMessageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 1024 ? `${text.slice(0, 1021)}...` : text;
}
