/**
 * Pure encoders and decoders of the transmission phase: requests, simple replies and
 * structured reply chunks.
 */
import { type ByteQueue } from '../byte-queue.js';
import {
  Command,
  REQUEST_HEADER_BYTES,
  REQUEST_MAGIC,
  ReplyFlag,
  ReplyType,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_MAGIC,
} from '../constants.js';
import type { Extent } from '../ports.js';
import { type Decoded, invalid, need, ok } from './decoded.js';

/** One transmission request; `data` is the payload of a WRITE. */
export interface NbdRequest {
  readonly flags: number;
  readonly type: number;
  /** Opaque 8 bytes echoed in every reply. */
  readonly cookie: bigint;
  /** Unsigned 64-bit offset; values above 2^53 lose precision but are out of range anyway. */
  readonly offset: number;
  readonly length: number;
  readonly data?: Buffer;
}

/** A WRITE whose payload exceeds the limit: the header was consumed, the payload was not. */
export interface OversizedWrite {
  readonly oversized: true;
  readonly request: NbdRequest;
}

/** Bytes of a structured reply chunk header. */
export const CHUNK_HEADER_BYTES = 20;
/** Bytes of a simple reply. */
export const SIMPLE_REPLY_BYTES = 16;

/**
 * Decodes the next request. A WRITE is returned only once its whole payload is queued; a
 * WRITE longer than `maxWritePayload` comes back as an OversizedWrite instead, with only its
 * header consumed (the caller cannot resynchronise and must end the session).
 */
export function decodeRequest(queue: ByteQueue, maxWritePayload: number): Decoded<NbdRequest | OversizedWrite> {
  if (queue.length < REQUEST_HEADER_BYTES) return need(REQUEST_HEADER_BYTES);
  const header = queue.peek(REQUEST_HEADER_BYTES);
  const magic = header.readUInt32BE(0);
  if (magic !== REQUEST_MAGIC) return invalid(`Bad request magic 0x${magic.toString(16)}.`);
  const request: NbdRequest = {
    flags: header.readUInt16BE(4),
    type: header.readUInt16BE(6),
    cookie: header.readBigUInt64BE(8),
    offset: Number(header.readBigUInt64BE(16)),
    length: header.readUInt32BE(24),
  };
  if (request.type !== Command.WRITE) {
    queue.skip(REQUEST_HEADER_BYTES);
    return ok(request);
  }
  if (request.length > maxWritePayload) {
    queue.skip(REQUEST_HEADER_BYTES);
    return ok({ oversized: true, request });
  }
  const total = REQUEST_HEADER_BYTES + request.length;
  if (queue.length < total) return need(total);
  queue.skip(REQUEST_HEADER_BYTES);
  return ok({ ...request, data: queue.take(request.length) });
}

/** Tells an OversizedWrite from a request. */
export function isOversizedWrite(value: NbdRequest | OversizedWrite): value is OversizedWrite {
  return 'oversized' in value;
}

/** Encodes a request (used by test clients). */
export function encodeRequest(request: NbdRequest): Buffer {
  const data = request.data ?? Buffer.alloc(0);
  const out = Buffer.alloc(REQUEST_HEADER_BYTES + data.length);
  out.writeUInt32BE(REQUEST_MAGIC, 0);
  out.writeUInt16BE(request.flags, 4);
  out.writeUInt16BE(request.type, 6);
  out.writeBigUInt64BE(request.cookie, 8);
  out.writeBigUInt64BE(BigInt(request.offset), 16);
  out.writeUInt32BE(request.length, 24);
  data.copy(out, REQUEST_HEADER_BYTES);
  return out;
}

/** A simple reply header; READ data, if any, follows it. */
export function encodeSimpleReply(cookie: bigint, errno: number): Buffer {
  const out = Buffer.alloc(SIMPLE_REPLY_BYTES);
  out.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  out.writeUInt32BE(errno, 4);
  out.writeBigUInt64BE(cookie, 8);
  return out;
}

/** A structured reply chunk header announcing `length` payload bytes. */
export function encodeChunkHeader(flags: number, type: number, cookie: bigint, length: number): Buffer {
  const out = Buffer.alloc(CHUNK_HEADER_BYTES);
  writeChunkHeader(out, flags, type, cookie, length);
  return out;
}

/** NBD_REPLY_TYPE_NONE with NBD_REPLY_FLAG_DONE: the request succeeded. */
export function encodeNoneChunk(cookie: bigint): Buffer {
  return encodeChunkHeader(ReplyFlag.DONE, ReplyType.NONE, cookie, 0);
}

/** The header and offset of an NBD_REPLY_TYPE_OFFSET_DATA chunk; `dataLength` bytes follow it. */
export function encodeOffsetDataHeader(flags: number, cookie: bigint, offset: number, dataLength: number): Buffer {
  const out = Buffer.alloc(CHUNK_HEADER_BYTES + 8);
  writeChunkHeader(out, flags, ReplyType.OFFSET_DATA, cookie, 8 + dataLength);
  out.writeBigUInt64BE(BigInt(offset), CHUNK_HEADER_BYTES);
  return out;
}

/** An NBD_REPLY_TYPE_OFFSET_HOLE chunk: `size` bytes at `offset` read as zeroes. */
export function encodeOffsetHole(flags: number, cookie: bigint, offset: number, size: number): Buffer {
  const out = Buffer.alloc(CHUNK_HEADER_BYTES + 12);
  writeChunkHeader(out, flags, ReplyType.OFFSET_HOLE, cookie, 12);
  out.writeBigUInt64BE(BigInt(offset), CHUNK_HEADER_BYTES);
  out.writeUInt32BE(size, CHUNK_HEADER_BYTES + 8);
  return out;
}

/** An NBD_REPLY_TYPE_BLOCK_STATUS chunk for one metadata context. */
export function encodeBlockStatus(flags: number, cookie: bigint, contextId: number, extents: readonly Extent[]): Buffer {
  const out = Buffer.alloc(CHUNK_HEADER_BYTES + 4 + 8 * extents.length);
  writeChunkHeader(out, flags, ReplyType.BLOCK_STATUS, cookie, 4 + 8 * extents.length);
  out.writeUInt32BE(contextId, CHUNK_HEADER_BYTES);
  extents.forEach((extent, i) => {
    out.writeUInt32BE(extent.length, CHUNK_HEADER_BYTES + 4 + 8 * i);
    out.writeUInt32BE(extent.flags, CHUNK_HEADER_BYTES + 8 + 8 * i);
  });
  return out;
}

/** An NBD_REPLY_TYPE_ERROR chunk (or ERROR_OFFSET when `offset` is given) with a message. */
export function encodeErrorChunk(flags: number, cookie: bigint, errno: number, message: string, offset?: number): Buffer {
  let text = Buffer.from(message, 'utf8');
  if (text.length > 4096) text = text.subarray(0, 4096);
  const tail = offset === undefined ? 0 : 8;
  const out = Buffer.alloc(CHUNK_HEADER_BYTES + 6 + text.length + tail);
  const type = offset === undefined ? ReplyType.ERROR : ReplyType.ERROR_OFFSET;
  writeChunkHeader(out, flags, type, cookie, 6 + text.length + tail);
  out.writeUInt32BE(errno, CHUNK_HEADER_BYTES);
  out.writeUInt16BE(text.length, CHUNK_HEADER_BYTES + 4);
  text.copy(out, CHUNK_HEADER_BYTES + 6);
  if (offset !== undefined) out.writeBigUInt64BE(BigInt(offset), CHUNK_HEADER_BYTES + 6 + text.length);
  return out;
}

function writeChunkHeader(out: Buffer, flags: number, type: number, cookie: bigint, length: number): void {
  out.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  out.writeUInt16BE(flags, 4);
  out.writeUInt16BE(type, 6);
  out.writeBigUInt64BE(cookie, 8);
  out.writeUInt32BE(length, 16);
}
