/**
 * Pure encoders and decoders of the fixed-newstyle handshake and option haggling.
 */
import { type ByteQueue } from '../byte-queue.js';
import {
  IHAVEOPT,
  InfoType,
  MAX_STRING_BYTES,
  NBD_MAGIC,
  OPTION_HEADER_BYTES,
  OPTION_REPLY_MAGIC,
  OptionReply,
} from '../constants.js';
import { type Decoded, invalid, need, ok } from './decoded.js';

/** An option as the client sent it. */
export interface OptionRequest {
  readonly option: number;
  readonly data: Buffer;
}

/** The data of NBD_OPT_INFO and NBD_OPT_GO. */
export interface GoRequest {
  readonly name: string;
  readonly infos: readonly number[];
}

/** The data of NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT. */
export interface MetaContextRequest {
  readonly name: string;
  readonly queries: readonly string[];
}

/** The 18 bytes the server opens with: NBDMAGIC, IHAVEOPT and the handshake flags. */
export function encodeGreeting(handshakeFlags: number): Buffer {
  const out = Buffer.alloc(18);
  out.writeBigUInt64BE(NBD_MAGIC, 0);
  out.writeBigUInt64BE(IHAVEOPT, 8);
  out.writeUInt16BE(handshakeFlags, 16);
  return out;
}

/** Decodes the client's 32-bit flags. */
export function decodeClientFlags(queue: ByteQueue): Decoded<number> {
  if (queue.length < 4) return need(4);
  return ok(queue.take(4).readUInt32BE(0));
}

/**
 * Decodes one option (header and data). An option longer than `maxLength` is treated as a
 * denial of service: the spec lets the server drop the connection.
 */
export function decodeOption(queue: ByteQueue, maxLength: number): Decoded<OptionRequest> {
  if (queue.length < OPTION_HEADER_BYTES) return need(OPTION_HEADER_BYTES);
  const header = queue.peek(OPTION_HEADER_BYTES);
  if (header.readBigUInt64BE(0) !== IHAVEOPT) return invalid('An option did not start with IHAVEOPT.');
  const option = header.readUInt32BE(8);
  const length = header.readUInt32BE(12);
  if (length > maxLength) return invalid(`Option ${option} carries ${length} bytes; the limit is ${maxLength}.`);
  if (queue.length < OPTION_HEADER_BYTES + length) return need(OPTION_HEADER_BYTES + length);
  queue.skip(OPTION_HEADER_BYTES);
  return ok({ option, data: queue.take(length) });
}

/** One option reply: magic, option, reply type, length and data. */
export function encodeOptionReply(option: number, replyType: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(20 + data.length);
  out.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  out.writeUInt32BE(option, 8);
  out.writeUInt32BE(replyType, 12);
  out.writeUInt32BE(data.length, 16);
  data.copy(out, 20);
  return out;
}

/** An error reply (bit 31 set) carrying a message for the user. */
export function encodeOptionError(option: number, replyType: number, message: string): Buffer {
  if (replyType < 0x80000000) throw new RangeError(`Reply type ${replyType} is not an error.`);
  return encodeOptionReply(option, replyType, Buffer.from(truncate(message), 'utf8'));
}

/** NBD_REP_SERVER: one export of an NBD_OPT_LIST answer (name, then a description). */
export function encodeServerReply(option: number, name: string, description?: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const descBytes = Buffer.from(truncate(description ?? ''), 'utf8');
  const data = Buffer.alloc(4 + nameBytes.length + descBytes.length);
  data.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(data, 4);
  descBytes.copy(data, 4 + nameBytes.length);
  return encodeOptionReply(option, OptionReply.SERVER, data);
}

/** NBD_REP_INFO with NBD_INFO_EXPORT: size and transmission flags. */
export function encodeInfoExport(option: number, size: number, transmissionFlags: number): Buffer {
  const data = Buffer.alloc(12);
  data.writeUInt16BE(InfoType.EXPORT, 0);
  data.writeBigUInt64BE(BigInt(size), 2);
  data.writeUInt16BE(transmissionFlags, 10);
  return encodeOptionReply(option, OptionReply.INFO, data);
}

/** NBD_REP_INFO with NBD_INFO_BLOCK_SIZE. */
export function encodeInfoBlockSize(option: number, minimum: number, preferred: number, maximum: number): Buffer {
  const data = Buffer.alloc(14);
  data.writeUInt16BE(InfoType.BLOCK_SIZE, 0);
  data.writeUInt32BE(minimum, 2);
  data.writeUInt32BE(preferred, 6);
  data.writeUInt32BE(maximum, 10);
  return encodeOptionReply(option, OptionReply.INFO, data);
}

/** NBD_REP_INFO with NBD_INFO_NAME or NBD_INFO_DESCRIPTION. */
export function encodeInfoString(option: number, infoType: number, text: string): Buffer {
  const bytes = Buffer.from(truncate(text), 'utf8');
  const data = Buffer.alloc(2 + bytes.length);
  data.writeUInt16BE(infoType, 0);
  bytes.copy(data, 2);
  return encodeOptionReply(option, OptionReply.INFO, data);
}

/** NBD_REP_META_CONTEXT: a context id and name. */
export function encodeMetaContext(option: number, contextId: number, name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  const data = Buffer.alloc(4 + bytes.length);
  data.writeUInt32BE(contextId, 0);
  bytes.copy(data, 4);
  return encodeOptionReply(option, OptionReply.META_CONTEXT, data);
}

/** The answer to NBD_OPT_EXPORT_NAME: size, flags and, unless NO_ZEROES, 124 zero bytes. */
export function encodeExportNameReply(size: number, transmissionFlags: number, noZeroes: boolean): Buffer {
  const out = Buffer.alloc(noZeroes ? 10 : 134);
  out.writeBigUInt64BE(BigInt(size), 0);
  out.writeUInt16BE(transmissionFlags, 8);
  return out;
}

/** Parses NBD_OPT_INFO / NBD_OPT_GO data, or says why it is malformed. */
export function parseGoRequest(data: Buffer): GoRequest | string {
  if (data.length < 6) return `The option carries ${data.length} bytes; at least 6 are needed.`;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 6) return `The export name length ${nameLength} overruns the option.`;
  if (nameLength > MAX_STRING_BYTES) return `The export name is longer than ${MAX_STRING_BYTES} bytes.`;
  const name = data.toString('utf8', 4, 4 + nameLength);
  const count = data.readUInt16BE(4 + nameLength);
  const rest = data.length - 6 - nameLength;
  if (rest !== count * 2) return `${count} information requests need ${count * 2} bytes; ${rest} were sent.`;
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(data.readUInt16BE(6 + nameLength + i * 2));
  return { name, infos };
}

/** Parses NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data, or says why it is malformed. */
export function parseMetaContextRequest(data: Buffer): MetaContextRequest | string {
  if (data.length < 8) return `The option carries ${data.length} bytes; at least 8 are needed.`;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 8) return `The export name length ${nameLength} overruns the option.`;
  const name = data.toString('utf8', 4, 4 + nameLength);
  let at = 4 + nameLength;
  const count = data.readUInt32BE(at);
  at += 4;
  const queries: string[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return `Query ${i + 1} of ${count} is missing.`;
    const length = data.readUInt32BE(at);
    at += 4;
    if (length > data.length - at) return `Query ${i + 1} overruns the option.`;
    queries.push(data.toString('utf8', at, at + length));
    at += length;
  }
  if (at !== data.length) return `${data.length - at} bytes follow the last query.`;
  return { name, queries };
}

function truncate(text: string): string {
  return Buffer.byteLength(text, 'utf8') > MAX_STRING_BYTES ? text.slice(0, MAX_STRING_BYTES / 4) : text;
}
