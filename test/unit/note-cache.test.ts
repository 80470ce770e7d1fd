import { describe, expect, it } from 'vitest';
import { NotePayloadCache } from '../../lib/notes/note-cache.js';

describe('NotePayloadCache', () => {
  it('keeps a private copy, so the writer may reuse its buffer', () => {
    const cache = new NotePayloadCache(1024);
    const payload = Buffer.from('abcd');
    cache.put('vol-a', 0, 'n1', payload);
    payload.fill(0);
    expect(cache.get('vol-a', 0, 'n1')?.toString()).toBe('abcd');
    // Same note id on another partition or volume is another note.
    expect(cache.get('vol-a', 1, 'n1')).toBeUndefined();
    expect(cache.get('vol-b', 0, 'n1')).toBeUndefined();
  });

  it('drops the oldest notes past its byte bound, and never holds a note larger than the bound', () => {
    const cache = new NotePayloadCache(10);
    cache.put('v', 0, 'n1', Buffer.alloc(4));
    cache.put('v', 0, 'n2', Buffer.alloc(4));
    cache.put('v', 0, 'n3', Buffer.alloc(4));
    expect(cache.get('v', 0, 'n1')).toBeUndefined();
    expect(cache.get('v', 0, 'n2')).toBeDefined();
    expect(cache.get('v', 0, 'n3')).toBeDefined();
    expect(cache.size).toBe(8);
    cache.put('v', 0, 'big', Buffer.alloc(11));
    expect(cache.get('v', 0, 'big')).toBeUndefined();
    expect(cache.size).toBe(8);
  });

  it('forgets flushed notes and counts their bytes out', () => {
    const cache = new NotePayloadCache(100);
    cache.put('v', 0, 'n1', Buffer.alloc(10));
    cache.put('v', 0, 'n2', Buffer.alloc(20));
    cache.forget('v', 0, ['n1', 'unknown']);
    expect(cache.get('v', 0, 'n1')).toBeUndefined();
    expect(cache.size).toBe(20);
  });
});
