import { describe, expect, it } from 'vitest';
import { ByteQueue } from '../../lib/nbd/byte-queue.js';
import { decodeClientFlags, decodeOption, encodeExportNameReply, encodeGreeting, encodeInfoExport, encodeOptionError, parseGoRequest, parseMetaContextRequest } from '../../lib/nbd/codec/handshake-codec.js';
import {
  decodeRequest,
  encodeBlockStatus,
  encodeErrorChunk,
  encodeOffsetHole,
  encodeRequest,
  encodeSimpleReply,
  isOversizedWrite,
  type NbdRequest,
} from '../../lib/nbd/codec/transmission-codec.js';
import { Command, IHAVEOPT, Option, OptionReply, ReplyFlag, ReplyType, SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_MAGIC } from '../../lib/nbd/constants.js';
import { goData, metaContextData } from '../support/nbd-raw-client.js';

function queueOf(...chunks: Buffer[]): ByteQueue {
  const queue = new ByteQueue();
  chunks.forEach((c) => queue.push(c));
  return queue;
}

function option(code: number, data: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeBigUInt64BE(IHAVEOPT, 0);
  header.writeUInt32BE(code, 8);
  header.writeUInt32BE(data.length, 12);
  return Buffer.concat([header, data]);
}

describe('ByteQueue', () => {
  it('peeks, takes and skips across chunk boundaries', () => {
    const queue = queueOf(Buffer.from('ab'), Buffer.from('cde'), Buffer.from('f'));
    expect(queue.length).toBe(6);
    expect(queue.peek(4).toString()).toBe('abcd');
    expect(queue.take(3).toString()).toBe('abc');
    queue.skip(1);
    expect(queue.take(2).toString()).toBe('ef');
    expect(queue.length).toBe(0);
    expect(() => queue.take(1)).toThrow(RangeError);
  });
});

describe('request decoding', () => {
  const write: NbdRequest = { flags: 1, type: Command.WRITE, cookie: 0xfedcba9876543210n, offset: 8192, length: 10, data: Buffer.from('0123456789') };
  const read: NbdRequest = { flags: 0, type: Command.READ, cookie: 2n, offset: 2 ** 40, length: 4096 };

  it('waits for a request split at any byte, header or payload, and decodes it once whole', () => {
    const bytes = encodeRequest(write);
    for (let cut = 0; cut < bytes.length; cut++) {
      const queue = queueOf(bytes.subarray(0, cut));
      const first = decodeRequest(queue, 1 << 20);
      expect(first.kind).toBe('need');
      expect(queue.length).toBe(cut); // nothing consumed while incomplete
      queue.push(bytes.subarray(cut));
      const second = decodeRequest(queue, 1 << 20);
      expect(second).toEqual({ kind: 'ok', value: write });
    }
  });

  it('decodes many requests packed in one chunk, in order', () => {
    const queue = queueOf(Buffer.concat([encodeRequest(read), encodeRequest(write), encodeRequest(read)]));
    const got = [decodeRequest(queue, 1 << 20), decodeRequest(queue, 1 << 20), decodeRequest(queue, 1 << 20), decodeRequest(queue, 1 << 20)];
    expect(got.map((g) => g.kind)).toEqual(['ok', 'ok', 'ok', 'need']);
    expect(got[1]).toEqual({ kind: 'ok', value: write });
    expect(got[2]).toEqual({ kind: 'ok', value: read });
  });

  it('rejects a bad magic and flags an oversized write without waiting for its payload', () => {
    const bad = encodeRequest(read);
    bad.writeUInt32BE(0x12345678, 0);
    expect(decodeRequest(queueOf(bad), 1 << 20).kind).toBe('invalid');
    const queue = queueOf(encodeRequest({ ...write, data: undefined, length: 5000 }).subarray(0, 28));
    const decoded = decodeRequest(queue, 4096);
    expect(decoded.kind === 'ok' && isOversizedWrite(decoded.value)).toBe(true);
    expect(queue.length).toBe(0);
  });
});

describe('handshake codec', () => {
  it('encodes the greeting and the NBD_OPT_EXPORT_NAME reply with or without zeroes', () => {
    const greeting = encodeGreeting(3);
    expect(greeting.toString('latin1', 0, 16)).toBe('NBDMAGICIHAVEOPT');
    expect(greeting.readUInt16BE(16)).toBe(3);
    expect(encodeExportNameReply(1 << 20, 0x1f, true).length).toBe(10);
    const padded = encodeExportNameReply(1 << 20, 0x1f, false);
    expect(padded.length).toBe(134);
    expect(Number(padded.readBigUInt64BE(0))).toBe(1 << 20);
    expect(padded.subarray(10).every((b) => b === 0)).toBe(true);
  });

  it('decodes client flags and options split across chunks, and refuses bad ones', () => {
    const flags = queueOf(Buffer.from([0, 0]));
    expect(decodeClientFlags(flags).kind).toBe('need');
    flags.push(Buffer.from([0, 3]));
    expect(decodeClientFlags(flags)).toEqual({ kind: 'ok', value: 3 });
    const bytes = option(Option.GO, goData('vol', [3]));
    const queue = queueOf(bytes.subarray(0, 20));
    expect(decodeOption(queue, 1024)).toEqual({ kind: 'need', bytes: bytes.length });
    queue.push(bytes.subarray(20));
    const decoded = decodeOption(queue, 1024);
    expect(decoded.kind === 'ok' && decoded.value.option).toBe(Option.GO);
    expect(decodeOption(queueOf(Buffer.alloc(16, 0x41)), 1024).kind).toBe('invalid');
    expect(decodeOption(queueOf(option(Option.GO, Buffer.alloc(2000))), 1024).kind).toBe('invalid');
  });

  it('parses GO and meta-context data and says what is malformed', () => {
    expect(parseGoRequest(goData('vol', [1, 3]))).toEqual({ name: 'vol', infos: [1, 3] });
    expect(parseGoRequest(Buffer.from([0, 0, 0, 9, 0, 0]))).toMatch(/overruns/);
    expect(parseGoRequest(Buffer.concat([goData('vol', [1]), Buffer.from([0])]))).toMatch(/information requests/);
    expect(parseMetaContextRequest(metaContextData('vol', ['base:allocation', 'x:y']))).toEqual({ name: 'vol', queries: ['base:allocation', 'x:y'] });
    const truncated = metaContextData('vol', ['base:allocation']).subarray(0, 20);
    expect(parseMetaContextRequest(truncated)).toMatch(/overruns|missing/);
  });

  it('encodes option replies with the reply magic and errors with bit 31', () => {
    const info = encodeInfoExport(Option.GO, 4096, 0x0d);
    expect(info.readBigUInt64BE(0)).toBe(0x3e889045565a9n);
    expect([info.readUInt32BE(8), info.readUInt32BE(12), info.readUInt32BE(16)]).toEqual([Option.GO, OptionReply.INFO, 12]);
    const error = encodeOptionError(Option.GO, OptionReply.ERR_UNKNOWN, 'no such export');
    expect(error.toString('utf8', 20)).toBe('no such export');
    expect(() => encodeOptionError(Option.GO, OptionReply.ACK, 'x')).toThrow(RangeError);
  });
});

describe('reply codec', () => {
  it('encodes simple replies and structured chunks as the spec lays them out', () => {
    const simple = encodeSimpleReply(9n, 22);
    expect([simple.readUInt32BE(0), simple.readUInt32BE(4), simple.readBigUInt64BE(8)]).toEqual([SIMPLE_REPLY_MAGIC, 22, 9n]);
    const hole = encodeOffsetHole(ReplyFlag.DONE, 5n, 65536, 4096);
    expect([hole.readUInt32BE(0), hole.readUInt16BE(4), hole.readUInt16BE(6), hole.readUInt32BE(16)]).toEqual([STRUCTURED_REPLY_MAGIC, 1, ReplyType.OFFSET_HOLE, 12]);
    expect([Number(hole.readBigUInt64BE(20)), hole.readUInt32BE(28)]).toEqual([65536, 4096]);
    const status = encodeBlockStatus(ReplyFlag.DONE, 5n, 1, [{ length: 4096, flags: 3 }, { length: 8192, flags: 0 }]);
    expect(status.readUInt32BE(16)).toBe(4 + 16);
    expect([status.readUInt32BE(20), status.readUInt32BE(24), status.readUInt32BE(28), status.readUInt32BE(32), status.readUInt32BE(36)]).toEqual([1, 4096, 3, 8192, 0]);
    const error = encodeErrorChunk(ReplyFlag.DONE, 5n, 5, 'boom', 4096);
    expect([error.readUInt16BE(6), error.readUInt32BE(16), error.readUInt32BE(20), error.readUInt16BE(24)]).toEqual([ReplyType.ERROR_OFFSET, 6 + 4 + 8, 5, 4]);
    expect(error.toString('utf8', 26, 30)).toBe('boom');
    expect(Number(error.readBigUInt64BE(30))).toBe(4096);
  });
});
