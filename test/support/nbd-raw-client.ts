import { connect, type Socket } from 'node:net';
import { type Decoded, invalid, need, ok } from '../../lib/nbd/codec/decoded.js';
import { encodeRequest, type NbdRequest } from '../../lib/nbd/codec/transmission-codec.js';
import { ClientFlag, IHAVEOPT, InfoType, Option, OPTION_REPLY_MAGIC, SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_MAGIC } from '../../lib/nbd/constants.js';
import { StreamSource } from '../../lib/nbd/stream-source.js';
import type { ByteQueue } from '../../lib/nbd/byte-queue.js';

/** One option reply. */
export interface OptionReplyMessage {
  readonly option: number;
  readonly type: number;
  readonly data: Buffer;
}

/** One transmission reply: a simple reply or a structured chunk. */
export type ReplyMessage =
  | { readonly kind: 'simple'; readonly cookie: bigint; readonly error: number; readonly data?: Buffer }
  | { readonly kind: 'chunk'; readonly cookie: bigint; readonly flags: number; readonly type: number; readonly payload: Buffer };

function decodeOptionReply(queue: ByteQueue): Decoded<OptionReplyMessage> {
  if (queue.length < 20) return need(20);
  const header = queue.peek(20);
  if (header.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) return invalid('bad option reply magic');
  const length = header.readUInt32BE(16);
  if (queue.length < 20 + length) return need(20 + length);
  queue.skip(20);
  return ok({ option: header.readUInt32BE(8), type: header.readUInt32BE(12), data: queue.take(length) });
}

/**
 * A tiny NBD client over node:net for protocol tests: it sends exactly what a test asks,
 * including what no real client would send.
 */
export class RawNbdClient {
  source: StreamSource;
  /** Resolves when the server closes the connection (or it fails). */
  readonly closed: Promise<void>;
  private readonly readLengths = new Map<bigint, number>();
  private nextCookie = 1n;

  private constructor(public socket: Socket) {
    socket.setNoDelay(true);
    this.source = new StreamSource(socket, 64 * 1024 * 1024);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects; resolves once TCP is up (nothing read yet). */
  static connect(port: number): Promise<RawNbdClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawNbdClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Talks over `stream` from now on (after a TLS handshake on top of the raw socket). */
  switchTo(stream: Socket): void {
    this.source.detach();
    this.socket = stream;
    this.source = new StreamSource(stream, 64 * 1024 * 1024);
  }

  /** Reads exactly `n` bytes. */
  async read(n: number): Promise<Buffer> {
    await this.source.waitFor(n);
    return this.source.queue.take(n);
  }

  /** Reads the greeting and answers with fixed newstyle and no zeroes. */
  async handshake(): Promise<{ handshakeFlags: number }> {
    const greeting = await this.read(18);
    this.socket.write(Buffer.from([0, 0, 0, ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES]));
    return { handshakeFlags: greeting.readUInt16BE(16) };
  }

  /** Sends one option. */
  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(IHAVEOPT, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.length, 12);
    this.socket.write(Buffer.concat([header, data]));
  }

  /** Sends an option and collects replies up to the final one (ACK or an error). */
  async option(option: number, data?: Buffer): Promise<OptionReplyMessage[]> {
    this.sendOption(option, data);
    const replies: OptionReplyMessage[] = [];
    for (;;) {
      const reply = await this.source.next(decodeOptionReply);
      replies.push(reply);
      if (reply.type === 1 || reply.type >= 0x80000000) return replies;
    }
  }

  /** Negotiates up to transmission on `name`; returns the final replies (the caller checks success). */
  async go(name: string, options: { structured?: boolean; allocation?: boolean } = {}): Promise<OptionReplyMessage[]> {
    await this.handshake();
    if (options.structured === true) await this.option(Option.STRUCTURED_REPLY);
    if (options.allocation === true) await this.option(Option.SET_META_CONTEXT, metaContextData(name, ['base:allocation']));
    return this.option(Option.GO, goData(name, [InfoType.BLOCK_SIZE]));
  }

  /** Sends a request (and remembers READ lengths for simple replies); returns its cookie. */
  send(request: Omit<NbdRequest, 'cookie'> & { cookie?: bigint }): bigint {
    const cookie = request.cookie ?? this.nextCookie++;
    if (request.type === 0) this.readLengths.set(cookie, request.length);
    this.socket.write(encodeRequest({ ...request, cookie }));
    return cookie;
  }

  /** Tells the client that `cookie` is a READ of `length` bytes sent by hand (simple replies carry no length). */
  expectRead(cookie: bigint, length: number): void {
    this.readLengths.set(cookie, length);
  }

  /** Reads the next reply message. */
  async reply(): Promise<ReplyMessage> {
    const header = await this.peek(4);
    const magic = header.readUInt32BE(0);
    if (magic === SIMPLE_REPLY_MAGIC) {
      const h = await this.read(16);
      const cookie = h.readBigUInt64BE(8);
      const error = h.readUInt32BE(4);
      const readLength = this.readLengths.get(cookie);
      this.readLengths.delete(cookie);
      if (readLength !== undefined && error === 0) return { kind: 'simple', cookie, error, data: await this.read(readLength) };
      return { kind: 'simple', cookie, error };
    }
    if (magic === STRUCTURED_REPLY_MAGIC) {
      const h = await this.read(20);
      const payload = await this.read(h.readUInt32BE(16));
      return { kind: 'chunk', cookie: h.readBigUInt64BE(8), flags: h.readUInt16BE(4), type: h.readUInt16BE(6), payload };
    }
    throw new Error(`unexpected reply magic 0x${magic.toString(16)}`);
  }

  /** Sends NBD_CMD_DISC and closes the writing side. */
  disconnect(): void {
    this.socket.end(encodeRequest({ flags: 0, type: 2, cookie: 0n, offset: 0, length: 0 }));
  }

  /** Closes the socket at once. */
  destroy(): void {
    this.socket.destroy();
  }

  private async peek(n: number): Promise<Buffer> {
    await this.source.waitFor(n);
    return this.source.queue.peek(n);
  }
}

/** The data of NBD_OPT_GO / NBD_OPT_INFO. */
export function goData(name: string, infos: readonly number[] = []): Buffer {
  const nameBytes = Buffer.from(name);
  const out = Buffer.alloc(6 + nameBytes.length + 2 * infos.length);
  out.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(out, 4);
  out.writeUInt16BE(infos.length, 4 + nameBytes.length);
  infos.forEach((info, i) => out.writeUInt16BE(info, 6 + nameBytes.length + 2 * i));
  return out;
}

/** The data of NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT. */
export function metaContextData(name: string, queries: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  const nameBytes = Buffer.from(name);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(nameBytes.length);
  parts.push(head, nameBytes);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(queries.length);
  parts.push(count);
  for (const query of queries) {
    const q = Buffer.from(query);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(q.length);
    parts.push(len, q);
  }
  return Buffer.concat(parts);
}

/** The error value of a structured error chunk. */
export function chunkErrno(reply: ReplyMessage): number {
  if (reply.kind === 'simple') return reply.error;
  return reply.type >= 0x8000 ? reply.payload.readUInt32BE(0) : 0;
}

/** The message of a structured error chunk. */
export function chunkMessage(reply: ReplyMessage): string {
  if (reply.kind === 'simple' || reply.type < 0x8000) return '';
  return reply.payload.toString('utf8', 6, 6 + reply.payload.readUInt16BE(4));
}
