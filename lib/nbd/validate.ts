/**
 * Checks a transmission request against the export and the negotiated features before any
 * device call, and names the error value the spec asks for. Pure.
 */
import { Command, CommandFlag, Errno, type NbdErrno } from './constants.js';
import type { NbdRequest } from './codec/transmission-codec.js';
import type { BlockSizes } from './ports.js';

/** What a request is checked against. */
export interface ExportContext {
  readonly size: number;
  readonly readOnly: boolean;
  readonly blockSizes: BlockSizes;
  /** Structured replies were negotiated. */
  readonly structured: boolean;
  /** At least one metadata context was selected for this export. */
  readonly hasMetaContext: boolean;
}

/** A refused request: the error value and a message for the client. */
export interface Refusal {
  readonly errno: NbdErrno;
  readonly message: string;
}

const FLAGS_BY_COMMAND = new Map<number, number>([
  [Command.READ, CommandFlag.FUA | CommandFlag.DF],
  [Command.WRITE, CommandFlag.FUA],
  [Command.DISC, CommandFlag.FUA],
  [Command.FLUSH, CommandFlag.FUA],
  [Command.TRIM, CommandFlag.FUA],
  [Command.CACHE, CommandFlag.FUA],
  [Command.WRITE_ZEROES, CommandFlag.FUA | CommandFlag.NO_HOLE | CommandFlag.FAST_ZERO],
  [Command.BLOCK_STATUS, CommandFlag.FUA | CommandFlag.REQ_ONE],
]);

const WRITING = new Set<number>([Command.WRITE, Command.WRITE_ZEROES, Command.TRIM]);

/** Returns why the request must be refused, or null if it may go to the device. */
export function validateRequest(request: NbdRequest, ctx: ExportContext): Refusal | null {
  const { type, flags, offset, length } = request;
  const allowed = FLAGS_BY_COMMAND.get(type);
  if (allowed === undefined) return refuse(Errno.EINVAL, `Unknown command ${type}.`);
  if ((flags & ~allowed) !== 0) return refuse(Errno.EINVAL, `Flags 0x${flags.toString(16)} are not valid for command ${type}.`);
  if ((flags & CommandFlag.DF) !== 0 && !ctx.structured) {
    return refuse(Errno.EINVAL, 'NBD_CMD_FLAG_DF needs structured replies.');
  }
  if (type === Command.FLUSH || type === Command.DISC) {
    return offset === 0 && length === 0 ? null : refuse(Errno.EINVAL, 'Offset and length must be zero.');
  }
  if (WRITING.has(type) && ctx.readOnly) return refuse(Errno.EPERM, 'The export is read-only.');
  if (type === Command.BLOCK_STATUS) {
    if (!ctx.hasMetaContext) return refuse(Errno.EINVAL, 'No metadata context was negotiated.');
    if (length === 0) return refuse(Errno.EINVAL, 'A block status query needs a nonzero length.');
  }
  const minimum = ctx.blockSizes.minimum;
  const end = offset + length;
  if (offset % minimum !== 0 || (length % minimum !== 0 && end !== ctx.size)) {
    return refuse(Errno.EINVAL, `Offset ${offset} and length ${length} must be multiples of ${minimum}.`);
  }
  if (type === Command.READ && length > ctx.blockSizes.maximum) {
    // Structured replies may refuse a large read up front with EOVERFLOW; simple ones just fail.
    const errno = ctx.structured ? Errno.EOVERFLOW : Errno.EINVAL;
    return refuse(errno, `A read of ${length} bytes exceeds the maximum payload of ${ctx.blockSizes.maximum}.`);
  }
  if (offset > ctx.size || end > ctx.size) {
    const errno = type === Command.WRITE || type === Command.WRITE_ZEROES ? Errno.ENOSPC : Errno.EINVAL;
    return refuse(errno, `Bytes ${offset} to ${end} are not inside the export of ${ctx.size} bytes.`);
  }
  return null;
}

function refuse(errno: NbdErrno, message: string): Refusal {
  return { errno, message };
}
