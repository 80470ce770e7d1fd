import { describe, expect, it } from 'vitest';
import { AllocationFlag, Command, CommandFlag, Errno, ReplyFlag, ReplyType, TransmissionFlag as F } from '../../lib/nbd/constants.js';
import { SledsError, MisalignedIoError, BackendUnavailableError } from '../../lib/errors.js';
import { mapSledsErrorToNbd, NbdIoError, nbdErrnoOf } from '../../lib/nbd/errors.js';
import { blockSizesProblem, transmissionFlags } from '../../lib/nbd/export-flags.js';
import { MemoryBlockDevice } from '../../lib/nbd/memory-device.js';
import { clipExtents, MIN_HOLE_BYTES, readReply } from '../../lib/nbd/replies.js';
import { type ExportContext, validateRequest } from '../../lib/nbd/validate.js';

const ctx: ExportContext = {
  size: 1 << 20,
  readOnly: false,
  blockSizes: { minimum: 4096, preferred: 65536, maximum: 1 << 18 },
  structured: true,
  hasMetaContext: true,
};

function check(type: number, offset: number, length: number, flags = 0, over: Partial<ExportContext> = {}): number {
  return validateRequest({ type, offset, length, flags, cookie: 1n }, { ...ctx, ...over })?.errno ?? 0;
}

describe('request validation', () => {
  it('accepts aligned requests inside the export', () => {
    expect(check(Command.READ, 0, 4096)).toBe(0);
    expect(check(Command.WRITE, (1 << 20) - 4096, 4096, CommandFlag.FUA)).toBe(0);
    expect(check(Command.WRITE_ZEROES, 0, 1 << 20, CommandFlag.NO_HOLE | CommandFlag.FAST_ZERO)).toBe(0);
    expect(check(Command.BLOCK_STATUS, 0, 1 << 20, CommandFlag.REQ_ONE)).toBe(0);
    expect(check(Command.TRIM, 0, 1 << 20)).toBe(0); // larger than the payload limit: no payload
    expect(check(Command.FLUSH, 0, 0)).toBe(0);
  });

  it('names the error the spec asks for', () => {
    expect(check(Command.READ, 1 << 20, 4096)).toBe(Errno.EINVAL);
    expect(check(Command.WRITE, 1 << 20, 4096)).toBe(Errno.ENOSPC);
    expect(check(Command.WRITE_ZEROES, (1 << 20) - 4096, 8192)).toBe(Errno.ENOSPC);
    expect(check(Command.TRIM, 2 ** 62, 4096)).toBe(Errno.EINVAL);
    expect(check(Command.READ, 512, 4096)).toBe(Errno.EINVAL);
    expect(check(Command.WRITE, 0, 100)).toBe(Errno.EINVAL);
    expect(check(Command.READ, 0, 1 << 19)).toBe(Errno.EOVERFLOW);
    expect(check(Command.READ, 0, 1 << 19, 0, { structured: false })).toBe(Errno.EINVAL);
    expect(check(Command.WRITE, 0, 4096, 0, { readOnly: true })).toBe(Errno.EPERM);
    expect(check(Command.TRIM, 0, 4096, 0, { readOnly: true })).toBe(Errno.EPERM);
    expect(check(Command.READ, 0, 4096, 0, { readOnly: true })).toBe(0);
    expect(check(Command.BLOCK_STATUS, 0, 4096, 0, { hasMetaContext: false })).toBe(Errno.EINVAL);
    expect(check(Command.READ, 0, 4096, CommandFlag.DF, { structured: false })).toBe(Errno.EINVAL);
    expect(check(Command.WRITE, 0, 4096, CommandFlag.REQ_ONE)).toBe(Errno.EINVAL);
    expect(check(Command.FLUSH, 4096, 0)).toBe(Errno.EINVAL);
    expect(check(99, 0, 4096)).toBe(Errno.EINVAL);
  });

  it('allows an unaligned length only where it ends at the end of an unaligned export', () => {
    expect(check(Command.READ, 8192, 100, 0, { size: 8292 })).toBe(0);
    expect(check(Command.READ, 8192, 100, 0, { size: 16384 })).toBe(Errno.EINVAL);
  });
});

describe('read replies', () => {
  const data = Buffer.concat([Buffer.alloc(4096, 1), Buffer.alloc(MIN_HOLE_BYTES), Buffer.alloc(4096, 2), Buffer.alloc(8192)]);

  it('sends a simple reply header then the data without structured replies', () => {
    const reply = readReply(3n, false, 0, data, false, 4096);
    expect(reply).toHaveLength(2);
    expect(reply[1]).toBe(data);
  });

  it('sends long zero runs as holes, short ones as data, and DONE on the last chunk', () => {
    const reply = readReply(3n, true, 1 << 20, data, false, 4096);
    const headers = reply.filter((b) => b.length >= 20 && b.readUInt32BE(0) === 0x668e33ef);
    expect(headers.map((h) => h.readUInt16BE(6))).toEqual([ReplyType.OFFSET_DATA, ReplyType.OFFSET_HOLE, ReplyType.OFFSET_DATA]);
    expect(headers.map((h) => h.readUInt16BE(4))).toEqual([0, 0, ReplyFlag.DONE]);
    expect(headers.map((h) => Number(h.readBigUInt64BE(20)) - (1 << 20))).toEqual([0, 4096, 4096 + MIN_HOLE_BYTES]);
    expect(headers[2]?.readUInt32BE(16)).toBe(8 + 4096 + 8192); // trailing short zero run folded into data
  });

  it('sends one data chunk under DF and a NONE chunk for an empty read', () => {
    const reply = readReply(3n, true, 0, data, true, 4096);
    expect(reply).toHaveLength(2);
    expect(reply[0]?.readUInt16BE(6)).toBe(ReplyType.OFFSET_DATA);
    expect(readReply(3n, true, 0, Buffer.alloc(0), false, 4096)[0]?.readUInt16BE(6)).toBe(ReplyType.NONE);
  });
});

describe('block status extents', () => {
  it('merges equal neighbours, drops empty extents, ends at the query and honours REQ_ONE', () => {
    const extents = [{ length: 4096, flags: 3 }, { length: 0, flags: 0 }, { length: 4096, flags: 3 }, { length: 65536, flags: 0 }];
    expect(clipExtents(extents, 16384, false)).toEqual([{ length: 8192, flags: 3 }, { length: 8192, flags: 0 }]);
    expect(clipExtents(extents, 16384, true)).toEqual([{ length: 8192, flags: 3 }]);
    expect(clipExtents(extents, 4096, true)).toEqual([{ length: 4096, flags: 3 }]);
    expect(clipExtents([], 4096, false)).toEqual([]);
  });
});

describe('error values', () => {
  it('uses the error’s own value, then the SledsError code, then a system errno, then EIO', () => {
    expect(nbdErrnoOf(new NbdIoError(Errno.ENOTSUP, 'slow'))).toBe(Errno.ENOTSUP);
    expect(nbdErrnoOf(new MisalignedIoError('x'))).toBe(Errno.EINVAL);
    expect(nbdErrnoOf(new BackendUnavailableError('S3'))).toBe(Errno.EIO);
    expect(nbdErrnoOf(Object.assign(new Error('full'), { code: 'EDQUOT' }))).toBe(Errno.ENOSPC);
    expect(nbdErrnoOf(Object.assign(new Error('odd'), { nbdErrno: 12345 }))).toBe(Errno.EIO);
    expect(nbdErrnoOf('a string')).toBe(Errno.EIO);
    class QuotaError extends SledsError {
      constructor() {
        super('TestQuotaExceeded', 507, 'quota');
      }
    }
    expect(nbdErrnoOf(new QuotaError())).toBe(Errno.EIO);
    mapSledsErrorToNbd('TestQuotaExceeded', Errno.ENOSPC);
    expect(nbdErrnoOf(new QuotaError())).toBe(Errno.ENOSPC);
  });
});

describe('advertised export', () => {
  it('advertises flags truthfully', () => {
    const rw = new MemoryBlockDevice({ size: 1 << 20 });
    const flags = transmissionFlags(rw, false);
    for (const f of [F.HAS_FLAGS, F.SEND_FLUSH, F.SEND_FUA, F.SEND_TRIM, F.SEND_WRITE_ZEROES, F.SEND_FAST_ZERO, F.SEND_CACHE, F.CAN_MULTI_CONN]) expect(flags & f).toBe(f);
    expect(flags & (F.READ_ONLY | F.SEND_DF | F.ROTATIONAL)).toBe(0);
    expect(transmissionFlags(rw, true) & F.SEND_DF).toBe(F.SEND_DF);
    const ro = transmissionFlags(new MemoryBlockDevice({ size: 1 << 20, readOnly: true, canMultiConn: false }), true);
    expect(ro & F.READ_ONLY).toBe(F.READ_ONLY);
    expect(ro & (F.SEND_TRIM | F.SEND_WRITE_ZEROES | F.SEND_FUA | F.CAN_MULTI_CONN)).toBe(0);
  });

  it('checks block sizes against the spec', () => {
    expect(blockSizesProblem({ minimum: 4096, preferred: 1 << 20, maximum: 32 << 20 }, 1 << 30)).toBeNull();
    expect(blockSizesProblem({ minimum: 3000, preferred: 4096, maximum: 4096 }, 1 << 20)).toMatch(/minimum/);
    expect(blockSizesProblem({ minimum: 1 << 17, preferred: 1 << 17, maximum: 1 << 20 }, 1 << 20)).toMatch(/minimum/);
    expect(blockSizesProblem({ minimum: 512, preferred: 256, maximum: 4096 }, 1 << 20)).toMatch(/preferred/);
    expect(blockSizesProblem({ minimum: 4096, preferred: 8192, maximum: 4096 }, 1 << 20)).toMatch(/maximum/);
    expect(blockSizesProblem({ minimum: 4096, preferred: 8192, maximum: 8192 }, 5000)).toMatch(/size/);
  });
});

describe('MemoryBlockDevice', () => {
  it('keeps a sparse allocation map: holes, data, allocated zeroes', async () => {
    const device = new MemoryBlockDevice({ size: 1 << 20 });
    const { HOLE, ZERO } = AllocationFlag;
    expect(await device.blockStatus(0, 1 << 20)).toEqual([{ length: 1 << 20, flags: HOLE | ZERO }]);
    await device.write(8192, Buffer.alloc(8192, 7), { fua: false });
    await device.zero(16384, 4096, { fua: false, noHole: true, fastZero: false });
    expect(await device.blockStatus(0, 32768)).toEqual([
      { length: 8192, flags: HOLE | ZERO },
      { length: 8192, flags: 0 },
      { length: 4096, flags: ZERO },
      { length: 12288, flags: HOLE | ZERO },
    ]);
    expect(device.allocatedBytes).toBe(8192);
    await device.trim(8192, 4096);
    await device.zero(12288, 4096, { fua: false, noHole: false, fastZero: true });
    expect(device.allocatedBytes).toBe(0);
    expect((await device.read(8192, 8192)).every((b) => b === 0)).toBe(true);
  });

  it('handles writes and zeroes that cover parts of pages', async () => {
    const device = new MemoryBlockDevice({ size: 1 << 16, blockSizes: { minimum: 512, preferred: 4096, maximum: 1 << 16 }, pageSize: 4096 });
    await device.write(1000, Buffer.alloc(5000, 9), { fua: false });
    const back = await device.read(0, 8192);
    expect(back.subarray(0, 1000).every((b) => b === 0)).toBe(true);
    expect(back.subarray(1000, 6000).every((b) => b === 9)).toBe(true);
    expect(back.subarray(6000).every((b) => b === 0)).toBe(true);
    await device.zero(2000, 1000, { fua: false, noHole: false, fastZero: false });
    const zeroed = await device.read(0, 8192);
    expect(zeroed.subarray(2000, 3000).every((b) => b === 0)).toBe(true);
    expect(zeroed[1999]).toBe(9);
    expect(zeroed[3000]).toBe(9);
    await expect(device.read(1 << 16, 1)).rejects.toThrow(RangeError);
  });
});
