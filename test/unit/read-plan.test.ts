import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExtentIndex } from '../../lib/notes/extent-index.js';
import { ReadExecutor } from '../../lib/notes/head/read-executor.js';
import { planRead, singleSource, type MemoryHolds, type ReadPlan } from '../../lib/notes/head/read-plan.js';
import type { ChunkMap, ChunkRef, PartitionMeta } from '../../lib/notes/ports.js';
import { FakeChunkStore, FakeJournalStore } from '../support/fakes/in-memory-stores.js';

const CHUNK = 64;
const GRID = { start: 1024, chunkSizeBytes: CHUNK };
const NOTHING_HELD: MemoryHolds = { note: () => false, chunk: () => false };

const ref = (chunk: number): ChunkRef => ({ sled: 0, key: `c${chunk}`, sha256: 'x' });
const mapOf = (chunks: number[]): ChunkMap => ({
  volumeId: 'vol-1',
  partition: 0,
  replicaId: 'r1',
  baseOp: 0,
  version: 1,
  chunks: Object.fromEntries(chunks.map((chunk) => [String(chunk), ref(chunk)])),
});

/** What the plan says each byte of the range is: `n<op>@<byte of note>`, `c<chunk>@<byte of chunk>` or `0`. */
function bytesOf(plan: ReadPlan, offset: number, length: number, noteOps: Map<string, number>): string[] {
  const bytes = new Array<string | undefined>(length).fill(undefined);
  const claim = (at: number, label: string) => {
    expect(bytes[at], `byte ${offset + at} planned twice`).toBeUndefined();
    bytes[at] = label;
  };
  for (const read of [...plan.notesInMemory, ...plan.notesInJournal]) {
    for (let i = 0; i < read.length; i++) claim(read.at + i, `n${noteOps.get(read.noteId)}@${read.start + i}`);
  }
  for (const read of [...plan.chunksInMemory, ...plan.chunksOnSleds]) {
    for (const [from, to] of read.pieces) for (let at = from; at < to; at++) claim(at - offset, `${read.ref.key}@${at - read.chunkStart}`);
  }
  for (const [from, to] of plan.zeros) for (let at = from; at < to; at++) claim(at - offset, '0');
  return bytes.map((label, i) => label ?? `unplanned ${offset + i}`);
}

describe('the read plan', () => {
  it('takes each byte from the newest op that wrote it, the base chunk under the notes, and zeros under both', () => {
    const write = fc.record({ offset: fc.integer({ min: 0, max: 4 * CHUNK - 1 }), length: fc.integer({ min: 1, max: 2 * CHUNK }) });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 12 }), fc.subarray([0, 1, 2, 3]), fc.integer({ min: 0, max: 4 * CHUNK - 1 }), fc.integer({ min: 1, max: 4 * CHUNK }), (writes, chunks, from, size) => {
        const length = Math.min(size, 4 * CHUNK - from);
        const offset = GRID.start + from;
        const index = new ExtentIndex();
        const noteOps = new Map<string, number>();
        // The model: for each byte, the newest op that covers it, else its base chunk, else zero.
        const model = new Array<string>(4 * CHUNK).fill('');
        for (let at = 0; at < 4 * CHUNK; at++) model[at] = chunks.includes(Math.floor(at / CHUNK)) ? `c${Math.floor(at / CHUNK)}@${at % CHUNK}` : '0';
        writes.forEach((w, i) => {
          const op = i + 1;
          const end = Math.min(w.offset + w.length, 4 * CHUNK);
          index.apply(GRID.start + w.offset, end - w.offset, { op, noteId: `note${op}`, noteOffset: GRID.start + w.offset });
          noteOps.set(`note${op}`, op);
          for (let at = w.offset; at < end; at++) model[at] = `n${op}@${at - w.offset}`;
        });
        const plan = planRead(index.lookup(offset, length), mapOf(chunks), GRID, offset, length, NOTHING_HELD);
        expect(bytesOf(plan, offset, length, noteOps)).toEqual(model.slice(from, from + length));
      }),
      { numRuns: 300 },
    );
  });

  it('plans zeros for a partition never written nor flushed', () => {
    const plan = planRead([], undefined, GRID, GRID.start + 10, 100, NOTHING_HELD);
    expect(plan).toEqual({ notesInMemory: [], notesInJournal: [], chunksInMemory: [], chunksOnSleds: [], zeros: [[GRID.start + 10, GRID.start + 110]] });
  });

  it('reads a chunk once, from its first uncovered piece to its last, and takes what memory holds from memory', () => {
    const index = new ExtentIndex();
    index.apply(GRID.start + 10, 10, { op: 1, noteId: 'held', noteOffset: GRID.start + 10 });
    index.apply(GRID.start + 30, 10, { op: 2, noteId: 'far', noteOffset: GRID.start });
    const holds: MemoryHolds = { note: (id) => id === 'held', chunk: (key) => key === 'c1' };
    const plan = planRead(index.lookup(GRID.start, 2 * CHUNK), mapOf([0, 1]), GRID, GRID.start, 2 * CHUNK, holds);
    expect(plan.notesInMemory).toEqual([{ noteId: 'held', start: 0, length: 10, at: 10 }]);
    expect(plan.notesInJournal).toEqual([{ noteId: 'far', start: 30, length: 10, at: 30 }]);
    expect(plan.chunksOnSleds).toEqual([{ ref: ref(0), chunkStart: GRID.start, pieces: [[GRID.start, GRID.start + 10], [GRID.start + 20, GRID.start + 30], [GRID.start + 40, GRID.start + 64]] }]);
    expect(plan.chunksInMemory.map((read) => read.ref.key)).toEqual(['c1']);
    expect(plan.zeros).toEqual([]);
  });

  it('names the one object that holds a whole range, and none when the range spans more', () => {
    const index = new ExtentIndex();
    index.apply(GRID.start, 32, { op: 1, noteId: 'a', noteOffset: GRID.start });
    // The note holds any range inside it; a range that runs past it needs more than one object.
    expect(singleSource(index.lookup(GRID.start + 8, 8), mapOf([0]), GRID, GRID.start + 8, 8)).toEqual({ kind: 'note', noteId: 'a', start: 8 });
    expect(singleSource(index.lookup(GRID.start + 24, 16), mapOf([0]), GRID, GRID.start + 24, 16)).toBeUndefined();
    expect(singleSource(index.lookup(GRID.start, 32), mapOf([0]), GRID, GRID.start, 32)).toEqual({ kind: 'note', noteId: 'a', start: 0 });
    expect(singleSource([], mapOf([1]), GRID, GRID.start + CHUNK + 4, 8)).toEqual({ kind: 'chunk', ref: ref(1), start: 4 });
    expect(singleSource([], mapOf([1]), GRID, GRID.start + CHUNK + 60, 8)).toBeUndefined();
    expect(singleSource([], undefined, GRID, GRID.start, 8)).toBeUndefined();
  });
});

describe('the read executor', () => {
  it('reads notes over a base chunk, zeros where neither is, in one journal call and one chunk read', async () => {
    const journal = new FakeJournalStore();
    const chunks = new FakeChunkStore();
    const meta = { primary: { replicaId: 'r1', sled: 0 } } as PartitionMeta;
    const log = { volumeId: 'vol-1', partition: 0, replicaId: 'r1' };
    await chunks.put(ref(0), Buffer.alloc(CHUNK, 7), 'x');
    await journal.put(0, log, 'a', Buffer.alloc(16, 1), { offset: 0, sha256: 'x' });
    await journal.put(0, log, 'b', Buffer.alloc(8, 2), { offset: 0, sha256: 'x' });
    const index = new ExtentIndex();
    index.apply(GRID.start + 8, 16, { op: 1, noteId: 'a', noteOffset: GRID.start + 8 });
    index.apply(GRID.start + 16, 8, { op: 2, noteId: 'b', noteOffset: GRID.start + 16 });
    const executor = new ReadExecutor(journal, chunks, { note: () => undefined, chunk: () => undefined }, GRID, () => log);
    const into = Buffer.alloc(2 * CHUNK);
    await executor.start({ meta, base: mapOf([0]), index }, GRID.start, 2 * CHUNK, into, 0);
    const expected = Buffer.concat([Buffer.alloc(8, 7), Buffer.alloc(8, 1), Buffer.alloc(8, 2), Buffer.alloc(CHUNK - 24, 7), Buffer.alloc(CHUNK, 0)]);
    expect(into.equals(expected)).toBe(true);
    expect(journal.reads).toEqual(['a', 'b']);
    expect(chunks.reads).toEqual([{ key: 'c0', start: 0, length: CHUNK }]);
  });
});
