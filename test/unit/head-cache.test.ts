import { describe, expect, it } from 'vitest';
import { HeadCache } from '../../lib/notes/head-cache.js';

describe('HeadCache', () => {
  it("keeps a private copy of a note, so the writer may reuse its buffer; a chunk's buffer is handed over", () => {
    const cache = new HeadCache(1024);
    const payload = Buffer.from('abcd');
    const chunk = Buffer.from('efgh');
    cache.partition('vol-a', 0).putNote('n1', payload);
    cache.partition('vol-a', 0).putChunk('chunks/0/op-1', chunk);
    payload.fill(0);
    expect(cache.partition('vol-a', 0).note('n1')?.toString()).toBe('abcd');
    expect(cache.partition('vol-a', 0).chunk('chunks/0/op-1')).toBe(chunk);
    // The same note id on another partition or volume is another note.
    expect(cache.partition('vol-a', 1).note('n1')).toBeUndefined();
    expect(cache.partition('vol-b', 0).note('n1')).toBeUndefined();
  });

  it('drops the oldest entries of any partition past its byte bound, and never holds one larger than the bound', () => {
    const cache = new HeadCache(10);
    const [p0, p1] = [cache.partition('v', 0), cache.partition('v', 1)];
    p0.putNote('n1', Buffer.alloc(4));
    p1.putChunk('c2', Buffer.alloc(4));
    p0.putNote('n3', Buffer.alloc(4));
    expect(p0.note('n1')).toBeUndefined();
    expect(p1.chunk('c2')).toBeDefined();
    expect(p0.note('n3')).toBeDefined();
    expect(cache.size).toBe(8);
    p0.putNote('big', Buffer.alloc(11));
    expect(p0.note('big')).toBeUndefined();
    expect(cache.size).toBe(8);
  });

  it('forgets flushed notes and collected chunks, counts their bytes out, and does not let their order entries pile up', () => {
    const cache = new HeadCache(1 << 30);
    const part = cache.partition('v', 0);
    part.putNote('kept', Buffer.alloc(10));
    for (let round = 0; round < 100; round++) {
      const ids = Array.from({ length: 100 }, (_, i) => `r${round}n${i}`);
      for (const id of ids) {
        part.putNote(id, Buffer.alloc(1));
        part.putChunk(id, Buffer.alloc(2));
      }
      part.forgetNotes(ids);
      part.forgetChunks(ids);
    }
    expect(part.note('kept')).toBeDefined();
    expect(part.note('r0n0')).toBeUndefined();
    expect(part.chunk('r0n0')).toBeUndefined();
    expect(cache.size).toBe(10);
    // 20,001 entries were put; the order holds about what is still cached, plus some slack.
    expect(cache.orderLength).toBeLessThanOrEqual(1024 + 2 + 200);
  });

  it('forgets all notes of one partition at once, keeping its chunks and the other partitions', () => {
    const cache = new HeadCache(1024);
    const [p0, p1] = [cache.partition('v', 0), cache.partition('v', 1)];
    p0.putNote('a', Buffer.alloc(10));
    p0.putNote('b', Buffer.alloc(20));
    p0.putChunk('c', Buffer.alloc(7));
    p1.putNote('d', Buffer.alloc(5));
    p0.forgetAllNotes();
    expect(p0.note('a')).toBeUndefined();
    expect(p0.note('b')).toBeUndefined();
    expect(p0.chunk('c')).toBeDefined();
    expect(p1.note('d')).toBeDefined();
    expect(cache.size).toBe(12);
  });
});
