import { describe, expect, it } from 'vitest';
import { NotePayloadCache } from '../../lib/notes/note-cache.js';

describe('NotePayloadCache', () => {
  it('keeps a private copy, so the writer may reuse its buffer', () => {
    const cache = new NotePayloadCache(1024);
    const payload = Buffer.from('abcd');
    cache.partition('vol-a', 0).put('n1', payload);
    payload.fill(0);
    expect(cache.partition('vol-a', 0).get('n1')?.toString()).toBe('abcd');
    // The same note id on another partition or volume is another note.
    expect(cache.partition('vol-a', 1).get('n1')).toBeUndefined();
    expect(cache.partition('vol-b', 0).get('n1')).toBeUndefined();
  });

  it('drops the oldest notes of any partition past its byte bound, and never holds a note larger than the bound', () => {
    const cache = new NotePayloadCache(10);
    const [p0, p1] = [cache.partition('v', 0), cache.partition('v', 1)];
    p0.put('n1', Buffer.alloc(4));
    p1.put('n2', Buffer.alloc(4));
    p0.put('n3', Buffer.alloc(4));
    expect(p0.get('n1')).toBeUndefined();
    expect(p1.get('n2')).toBeDefined();
    expect(p0.get('n3')).toBeDefined();
    expect(cache.size).toBe(8);
    p0.put('big', Buffer.alloc(11));
    expect(p0.get('big')).toBeUndefined();
    expect(cache.size).toBe(8);
  });

  it('forgets flushed notes, counts their bytes out, and does not let their order entries pile up', () => {
    const cache = new NotePayloadCache(1 << 30);
    const notes = cache.partition('v', 0);
    notes.put('kept', Buffer.alloc(10));
    for (let round = 0; round < 100; round++) {
      const ids = Array.from({ length: 100 }, (_, i) => `r${round}n${i}`);
      for (const id of ids) notes.put(id, Buffer.alloc(1));
      notes.forget(ids);
    }
    expect(notes.get('kept')).toBeDefined();
    expect(notes.get('r0n0')).toBeUndefined();
    expect(cache.size).toBe(10);
    // 10,001 notes were put; the order holds about what is still cached, plus some slack.
    expect(cache.orderLength).toBeLessThanOrEqual(1024 + 2 + 100);
  });

  it('forgets all of one partition at once, and only that partition', () => {
    const cache = new NotePayloadCache(1024);
    const [p0, p1] = [cache.partition('v', 0), cache.partition('v', 1)];
    p0.put('a', Buffer.alloc(10));
    p0.put('b', Buffer.alloc(20));
    p1.put('c', Buffer.alloc(5));
    p0.forgetAll();
    expect(p0.get('a')).toBeUndefined();
    expect(p0.get('b')).toBeUndefined();
    expect(p1.get('c')).toBeDefined();
    expect(cache.size).toBe(5);
  });
});
