/**
 * The handshake and option haggling of one connection, up to the transmission phase.
 * Fixed newstyle only (no oldstyle). TLS modes: NOTLS without a TLS upgrade hook, TLS offered
 * with one, FORCEDTLS when TLS is also required (lib/nbd/tls-policy.ts).
 */
import { ClientFlag, HandshakeFlag, InfoType, Option, OptionReply, BASE_ALLOCATION } from './constants.js';
import {
  decodeClientFlags,
  decodeOption,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfoBlockSize,
  encodeInfoExport,
  encodeInfoString,
  encodeMetaContext,
  encodeOptionError,
  encodeOptionReply,
  encodeServerReply,
  parseGoRequest,
  parseMetaContextRequest,
  type OptionRequest,
} from './codec/handshake-codec.js';
import { nbdMessageOf } from './errors.js';
import { blockSizesProblem, transmissionFlags } from './export-flags.js';
import type { BlockDevice, ExportOpening, ExportRefusalReason, ExportResolver, NbdLogger } from './ports.js';
import type { StreamSource } from './stream-source.js';
import { tlsGate } from './tls-policy.js';

/** The context id this server gives base:allocation. */
export const BASE_ALLOCATION_ID = 1;

/** How negotiation reads, writes and (later) upgrades the connection. */
export interface NegotiationIo {
  readonly source: StreamSource;
  /** Writes whole messages; resolves once they are handed to the socket. */
  send(buffers: readonly Buffer[]): Promise<void>;
  /**
   * Upgrades the connection to TLS after the ACK to NBD_OPT_STARTTLS. Absent: the server runs
   * in NOTLS mode and answers STARTTLS with NBD_REP_ERR_UNSUP.
   */
  readonly startTls?: () => Promise<void>;
  /**
   * FORCEDTLS: until STARTTLS has upgraded the connection, every option but STARTTLS and ABORT
   * is answered NBD_REP_ERR_TLS_REQD (EXPORT_NAME ends the session). Needs `startTls`.
   */
  readonly requireTls?: boolean;
}

/** The state the transmission phase starts from. */
export interface Session {
  readonly exportName: string;
  readonly device: BlockDevice;
  readonly structured: boolean;
  /** The id of base:allocation if the client selected it for this export. */
  readonly allocationContextId: number | undefined;
}

/** How negotiation ended: in transmission, or with the session over (abort, refusal). */
export type NegotiationOutcome = { readonly kind: 'transmission'; readonly session: Session } | { readonly kind: 'ended'; readonly reason: string };

/** Limits of option haggling. */
export interface NegotiationLimits {
  /** Longest option data accepted; a longer option drops the connection. */
  readonly maxOptionBytes: number;
}

const REFUSAL_REPLY: Record<ExportRefusalReason, number> = {
  unknown: OptionReply.ERR_UNKNOWN,
  unavailable: OptionReply.ERR_POLICY,
  'tls-required': OptionReply.ERR_TLS_REQD,
  'shutting-down': OptionReply.ERR_SHUTDOWN,
};

const KNOWN_CLIENT_FLAGS = ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES;

/** Runs the handshake and option haggling; throws NbdProtocolError or NbdConnectionClosedError. */
export async function negotiate(io: NegotiationIo, resolver: ExportResolver, limits: NegotiationLimits, logger: NbdLogger): Promise<NegotiationOutcome> {
  await io.send([encodeGreeting(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES)]);
  const clientFlags = await io.source.next(decodeClientFlags);
  if ((clientFlags & ~KNOWN_CLIENT_FLAGS) !== 0) return { kind: 'ended', reason: `unknown client flags 0x${clientFlags.toString(16)}` };
  const noZeroes = (clientFlags & ClientFlag.NO_ZEROES) !== 0;
  const fixed = (clientFlags & ClientFlag.FIXED_NEWSTYLE) !== 0;
  const requireTls = io.requireTls === true;
  if (requireTls && io.startTls === undefined) throw new Error('TLS is required but the server has no TLS upgrade.');
  let tls = false;
  let structured = false;
  let meta: { exportName: string; selected: boolean } | undefined;

  const reply = (option: number, type: number, data?: Buffer): Promise<void> => io.send([encodeOptionReply(option, type, data)]);
  const fail = (option: number, type: number, message: string): Promise<void> => io.send([encodeOptionError(option, type, message)]);

  for (;;) {
    const { option, data }: OptionRequest = await io.source.next((queue) => decodeOption(queue, limits.maxOptionBytes));
    logger.debug('nbd option', { option, bytes: data.length });
    const gate = tlsGate(option, requireTls, tls);
    if (gate === 'end') return { kind: 'ended', reason: 'NBD_OPT_EXPORT_NAME before TLS, which this server requires' };
    if (gate === 'tls-required') {
      await fail(option, OptionReply.ERR_TLS_REQD, 'This server requires TLS: negotiate NBD_OPT_STARTTLS first.');
      continue;
    }
    switch (option) {
      case Option.EXPORT_NAME: {
        const name = data.toString('utf8');
        const opening = await openSafely(resolver, name);
        if (opening.kind === 'refused') return { kind: 'ended', reason: `export "${name}" refused: ${opening.message}` };
        const problem = blockSizesProblem(opening.device.blockSizes, opening.device.size);
        if (problem !== null) {
          await opening.device.close?.();
          return { kind: 'ended', reason: `export "${name}" is misconfigured: ${problem}` };
        }
        await io.send([encodeExportNameReply(opening.device.size, transmissionFlags(opening.device, structured), noZeroes)]);
        const selected = meta?.selected === true && meta.exportName === name;
        return { kind: 'transmission', session: { exportName: name, device: opening.device, structured, allocationContextId: selected ? BASE_ALLOCATION_ID : undefined } };
      }
      case Option.ABORT:
        await reply(option, OptionReply.ACK);
        return { kind: 'ended', reason: 'client aborted the negotiation' };
      case Option.LIST: {
        if (data.length !== 0) {
          await fail(option, OptionReply.ERR_INVALID, 'NBD_OPT_LIST takes no data.');
          break;
        }
        const exports = await resolver.list();
        await io.send(exports.map((e) => encodeServerReply(option, e.name, e.description)));
        await reply(option, OptionReply.ACK);
        break;
      }
      case Option.STARTTLS:
        if (io.startTls === undefined) await fail(option, OptionReply.ERR_UNSUP, 'This server does not offer TLS.');
        else if (!fixed) await fail(option, OptionReply.ERR_POLICY, 'TLS needs fixed newstyle negotiation.');
        else if (tls) await fail(option, OptionReply.ERR_INVALID, 'TLS is already on.');
        else if (data.length !== 0) await fail(option, OptionReply.ERR_INVALID, 'NBD_OPT_STARTTLS takes no data.');
        else {
          await reply(option, OptionReply.ACK);
          await io.startTls();
          tls = true;
          // Nothing negotiated before TLS may survive it.
          structured = false;
          meta = undefined;
        }
        break;
      case Option.INFO:
      case Option.GO: {
        const request = parseGoRequest(data);
        if (typeof request === 'string') {
          await fail(option, OptionReply.ERR_INVALID, request);
          break;
        }
        const opening = await openSafely(resolver, request.name);
        if (opening.kind === 'refused') {
          // Without TLS on offer the spec forbids NBD_REP_ERR_TLS_REQD.
          const noTls = opening.reason === 'tls-required' && io.startTls === undefined;
          await fail(option, noTls ? OptionReply.ERR_POLICY : REFUSAL_REPLY[opening.reason], opening.message);
          break;
        }
        const { device } = opening;
        const problem = blockSizesProblem(device.blockSizes, device.size);
        if (problem !== null) {
          await device.close?.();
          await fail(option, OptionReply.ERR_POLICY, `Export "${request.name}" is misconfigured: ${problem}.`);
          break;
        }
        const infos = [encodeInfoExport(option, device.size, transmissionFlags(device, structured))];
        // Sent even when not asked for: the minimum block size is not the default of 1.
        infos.push(encodeInfoBlockSize(option, device.blockSizes.minimum, device.blockSizes.preferred, device.blockSizes.maximum));
        if (request.infos.includes(InfoType.NAME)) infos.push(encodeInfoString(option, InfoType.NAME, request.name));
        const description = opening.description;
        if (request.infos.includes(InfoType.DESCRIPTION) && description !== undefined) {
          infos.push(encodeInfoString(option, InfoType.DESCRIPTION, description));
        }
        await io.send(infos);
        await reply(option, OptionReply.ACK);
        if (option === Option.INFO) {
          await device.close?.();
          break;
        }
        const selected = meta?.selected === true && meta.exportName === request.name;
        return { kind: 'transmission', session: { exportName: request.name, device, structured, allocationContextId: selected ? BASE_ALLOCATION_ID : undefined } };
      }
      case Option.STRUCTURED_REPLY:
        if (data.length !== 0) await fail(option, OptionReply.ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data.');
        else {
          structured = true;
          await reply(option, OptionReply.ACK);
        }
        break;
      case Option.LIST_META_CONTEXT:
      case Option.SET_META_CONTEXT: {
        const setting = option === Option.SET_META_CONTEXT;
        if (setting) meta = undefined; // a SET replaces the selection even when it fails
        if (!structured) {
          await fail(option, OptionReply.ERR_INVALID, 'Negotiate NBD_OPT_STRUCTURED_REPLY before metadata contexts.');
          break;
        }
        const request = parseMetaContextRequest(data);
        if (typeof request === 'string') {
          await fail(option, OptionReply.ERR_INVALID, request);
          break;
        }
        const matches = matchesAllocation(request.queries, setting);
        if (setting) meta = { exportName: request.name, selected: matches };
        await io.send(matches ? [encodeMetaContext(option, setting ? BASE_ALLOCATION_ID : 0, BASE_ALLOCATION)] : []);
        await reply(option, OptionReply.ACK);
        break;
      }
      default:
        await fail(option, OptionReply.ERR_UNSUP, `Option ${option} is not supported.`);
    }
  }
}

// LIST with no query lists everything; 'base:' is a wildcard only when listing.
function matchesAllocation(queries: readonly string[], setting: boolean): boolean {
  if (queries.length === 0) return !setting;
  return queries.some((q) => q === BASE_ALLOCATION || (!setting && q === 'base:'));
}

async function openSafely(resolver: ExportResolver, name: string): Promise<ExportOpening> {
  try {
    return await resolver.open(name);
  } catch (error) {
    return { kind: 'refused', reason: 'unavailable', message: `Export "${name}" could not be opened: ${nbdMessageOf(error)}` };
  }
}
