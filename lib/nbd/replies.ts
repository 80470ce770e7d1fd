/**
 * Builds whole replies as lists of buffers, so that the connection writes each reply in one
 * go and replies to concurrent requests never interleave. Pure.
 */
import { ReplyFlag } from './constants.js';
import {
  encodeBlockStatus,
  encodeErrorChunk,
  encodeNoneChunk,
  encodeOffsetDataHeader,
  encodeOffsetHole,
  encodeSimpleReply,
} from './codec/transmission-codec.js';
import type { Extent } from './ports.js';
import type { Refusal } from './validate.js';

/** The smallest zero run a structured read answers with a hole chunk instead of data. */
export const MIN_HOLE_BYTES = 64 * 1024;
/** The most extents one block status chunk carries (the spec says no more than 2^20). */
export const MAX_EXTENTS_PER_REPLY = 1 << 20;

/** The reply to a failed request: a structured error chunk with its message, or a simple reply. */
export function errorReply(cookie: bigint, structured: boolean, refusal: Refusal): Buffer[] {
  if (!structured) return [encodeSimpleReply(cookie, refusal.errno)];
  return [encodeErrorChunk(ReplyFlag.DONE, cookie, refusal.errno, refusal.message)];
}

/** The reply to a request other than READ or BLOCK_STATUS that succeeded. */
export function successReply(cookie: bigint): Buffer[] {
  return [encodeSimpleReply(cookie, 0)];
}

/**
 * The reply to a successful READ of `data` at `offset`. Simple replies carry the data after
 * the header. Structured replies use OFFSET_DATA chunks and, unless the client asked not to
 * fragment (DF), OFFSET_HOLE chunks for aligned zero runs of at least MIN_HOLE_BYTES.
 */
export function readReply(cookie: bigint, structured: boolean, offset: number, data: Buffer, dontFragment: boolean, alignment: number): Buffer[] {
  if (!structured) return [encodeSimpleReply(cookie, 0), data];
  if (data.length === 0) return [encodeNoneChunk(cookie)];
  const runs = dontFragment ? [{ start: 0, end: data.length, zero: false }] : zeroRuns(data, alignment);
  const out: Buffer[] = [];
  runs.forEach((run, i) => {
    const flags = i === runs.length - 1 ? ReplyFlag.DONE : 0;
    if (run.zero) {
      out.push(encodeOffsetHole(flags, cookie, offset + run.start, run.end - run.start));
    } else {
      out.push(encodeOffsetDataHeader(flags, cookie, offset + run.start, run.end - run.start));
      out.push(data.subarray(run.start, run.end));
    }
  });
  return out;
}

/** The reply to a successful BLOCK_STATUS: one chunk for the one selected context. */
export function blockStatusReply(cookie: bigint, contextId: number, extents: readonly Extent[]): Buffer[] {
  return [encodeBlockStatus(ReplyFlag.DONE, cookie, contextId, extents)];
}

/**
 * Normalises a device's extents for a reply to a query of `length` bytes: drops empty ones,
 * merges neighbours with equal flags, ends at the query's end (so every length fits 32 bits),
 * keeps one extent under REQ_ONE and at most MAX_EXTENTS_PER_REPLY otherwise. Returns at least
 * one extent if the device gave any.
 */
export function clipExtents(extents: readonly Extent[], length: number, reqOne: boolean): Extent[] {
  const out: { length: number; flags: number }[] = [];
  let covered = 0;
  for (const extent of extents) {
    if (covered >= length) break;
    if (extent.length <= 0) continue;
    const take = Math.min(extent.length, length - covered);
    const last = out[out.length - 1];
    if (last !== undefined && last.flags === extent.flags) last.length += take;
    else out.push({ length: take, flags: extent.flags });
    covered += take;
  }
  const limit = reqOne ? 1 : MAX_EXTENTS_PER_REPLY;
  return out.slice(0, limit);
}

interface Run {
  start: number;
  end: number;
  zero: boolean;
}

function zeroRuns(data: Buffer, alignment: number): Run[] {
  const block = Math.max(alignment, 4096);
  const zeroBlock = Buffer.alloc(block);
  const runs: Run[] = [];
  for (let start = 0; start < data.length; start += block) {
    const end = Math.min(start + block, data.length);
    const zero = end - start === block && data.subarray(start, end).equals(zeroBlock);
    const last = runs[runs.length - 1];
    if (last !== undefined && last.zero === zero) last.end = end;
    else runs.push({ start, end, zero });
  }
  // Short zero runs cost more as chunks than as data: fold them into their neighbours.
  const merged: Run[] = [];
  for (const run of runs) {
    const zero = run.zero && run.end - run.start >= MIN_HOLE_BYTES;
    const last = merged[merged.length - 1];
    if (last !== undefined && last.zero === zero) last.end = run.end;
    else merged.push({ start: run.start, end: run.end, zero });
  }
  return merged;
}
