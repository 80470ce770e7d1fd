import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FAILPOINTS, armFailpoint } from '../../lib/faults.js';
import { combineNotes, type GroupCommitted } from '../../lib/notes/head/group-commit.js';
import type { Note } from '../../lib/notes/head/types.js';
import { PartitionHead, sameWrite, type GroupBounds } from '../../lib/notes/partition-head.js';
import type { LogEntry, LogRef, PartitionMeta, WriteEntry } from '../../lib/notes/ports.js';
import { fakeStores } from '../support/fakes/in-memory-stores.js';
import { ManualClock, until } from '../support/fakes/manual-clock.js';

const KIB = 1024;
const GEOMETRY = { start: 0, chunkSizeBytes: 64 * KIB, partitionChunks: 4, volumeBytes: 256 * KIB };
const VOLUME = 'vol-1';
const BOUNDS: GroupBounds = { maxWrites: 64, maxBytes: 4 * 1024 * KIB, tableNoteBytes: 0 };

let disarm: (() => void) | undefined;
afterEach(() => {
  disarm?.();
  disarm = undefined;
});

const sha = (payload: Buffer) => createHash('sha256').update(payload).digest('hex');

/** Stores shared by several "processes", each of which makes its own head of partition 0. */
function cluster(bounds: GroupBounds = BOUNDS) {
  const stores = fakeStores();
  const clock = new ManualClock();
  const groups: GroupCommitted[] = [];
  const head = () => new PartitionHead({ ...stores, sledCount: 4, clock, groupCommit: bounds, onGroupCommitted: (group) => groups.push(group) }, VOLUME, 0, GEOMETRY);
  const logsOf = async () => {
    const meta = (await stores.metas.get(VOLUME, 0)) as PartitionMeta;
    const log = (replicaId: string): LogRef => ({ volumeId: VOLUME, partition: 0, replicaId });
    return { meta, primary: stores.logs.entries(log(meta.primary.replicaId)), secondary: stores.logs.entries(log(meta.secondary.replicaId)) };
  };
  const read = async (offset: number, length: number) => {
    const into = Buffer.alloc(length);
    await head().read(offset, length, into, 0);
    return into;
  };
  return { stores, clock, groups, head, logsOf, read };
}

let seq = 0;
function note(offset: number, fill: number, length = 4 * KIB, key = 'n'): Note {
  const payload = Buffer.alloc(length, fill);
  return { noteId: `${key}${String(++seq).padStart(24, '0')}`, offset, payload, sha256: sha(payload) };
}
const zeroNote = (offset: number, length: number): Note => ({ noteId: `n${String(++seq).padStart(24, '0')}`, offset, payload: Buffer.alloc(0), sha256: sha(Buffer.alloc(0)), extents: [{ offset, length, zero: true }] });

/** Both logs hold ops 1..n densely, the same op under the same number. */
function expectDenseAndIdentical(primary: LogEntry[], secondary: LogEntry[]) {
  expect(primary.map((entry) => entry.op)).toEqual(primary.map((_, i) => i + 1));
  expect(secondary).toEqual(primary);
  primary.forEach((entry, i) => expect(sameWrite(entry, secondary[i] as LogEntry)).toBe(true));
}

describe('combineNotes', () => {
  it('concatenates payloads in order, each data extent at its bytes, zero extents without any', () => {
    const a = note(8 * KIB, 1);
    const z = zeroNote(0, 16 * KIB);
    const b = note(0, 2, 8 * KIB);
    const combined = combineNotes([a, z, b], (bytes) => `g${bytes}`);
    expect(combined.noteId).toBe(`g${12 * KIB}`);
    expect(combined.payload.equals(Buffer.concat([a.payload, b.payload]))).toBe(true);
    expect(combined.sha256).toBe(sha(combined.payload));
    expect(combined.offset).toBe(0);
    expect(combined.extents).toEqual([
      { offset: 8 * KIB, length: 4 * KIB, at: 0 },
      { offset: 0, length: 16 * KIB, zero: true },
      { offset: 0, length: 8 * KIB, at: 4 * KIB },
    ]);
  });
});

describe('group commit', () => {
  it('commits 32 concurrent 4K writes in fewer ops than writes: dense ops, identical replicas, every write read back', async () => {
    const { head, logsOf, groups, read } = cluster();
    const writer = head();
    const notes = Array.from({ length: 32 }, (_, i) => note(i * 4 * KIB, i + 1));
    const results = await Promise.all(notes.map((n) => writer.commit(n)));
    const { primary, secondary } = await logsOf();
    expect(primary.length).toBeLessThan(32);
    expectDenseAndIdentical(primary, secondary);
    // Every write was acknowledged with its group's op, and each group was announced once.
    expect(new Set(results.map((result) => result.op)).size).toBe(primary.length);
    expect(groups.map((group) => group.writes).reduce((a, b) => a + b, 0)).toBe(32);
    expect(groups.length).toBe(primary.length);
    for (const { op, writes, bytes } of results) expect(groups).toContainEqual(expect.objectContaining({ op, writes, bytes }));
    // One write per group leads it: metrics count each op once.
    expect(results.filter((result) => result.leadsOp)).toHaveLength(primary.length);
    expect(Math.max(...groups.map((group) => group.writes))).toBeGreaterThan(1);
    const grouped = primary.find((entry) => (entry as WriteEntry).extents !== undefined) as WriteEntry;
    expect(grouped.extents!.length).toBeGreaterThan(1);
    for (const [i, n] of notes.entries()) expect((await read(i * 4 * KIB, 4 * KIB)).equals(n.payload), `write ${i}`).toBe(true);
  });

  it('keeps a group within its bounds', async () => {
    for (const bounds of [{ ...BOUNDS, maxWrites: 4 }, { ...BOUNDS, maxBytes: 8 * KIB }]) {
      const { head, logsOf } = cluster(bounds);
      const writer = head();
      await Promise.all(Array.from({ length: 20 }, (_, i) => writer.commit(note(i * 4 * KIB, i + 1))));
      const { primary, secondary } = await logsOf();
      expectDenseAndIdentical(primary, secondary);
      const sizes = primary.map((entry) => (entry as WriteEntry).extents?.length ?? 1);
      expect(Math.max(...sizes)).toBe(bounds.maxWrites === 4 ? 4 : 2);
    }
  });

  it('lets the later of two overlapping writes in a group win, and groups zeros with data', async () => {
    const { head, logsOf, read } = cluster();
    const writer = head();
    const first = writer.commit(note(0, 9, 64 * KIB)); // alone: the others queue behind its append
    const queued = [writer.commit(note(0, 1, 8 * KIB)), writer.commit(zeroNote(4 * KIB, 8 * KIB)), writer.commit(note(8 * KIB, 3))];
    const [alone, ...grouped] = await Promise.all([first, ...queued]);
    expect(alone!.writes).toBe(1);
    expect(grouped.every((group) => group.op === 2 && group.writes === 3)).toBe(true);
    const { primary, secondary } = await logsOf();
    expectDenseAndIdentical(primary, secondary);
    const bytes = await read(0, 16 * KIB);
    expect(bytes.subarray(0, 4 * KIB).equals(Buffer.alloc(4 * KIB, 1))).toBe(true);
    expect(bytes.subarray(4 * KIB, 8 * KIB).equals(Buffer.alloc(4 * KIB))).toBe(true);
    expect(bytes.subarray(8 * KIB, 12 * KIB).equals(Buffer.alloc(4 * KIB, 3))).toBe(true);
    expect(bytes.subarray(12 * KIB, 16 * KIB).equals(Buffer.alloc(4 * KIB, 9))).toBe(true);
  });

  it('commits a keyed write alone, never in a group', async () => {
    const { head, logsOf } = cluster();
    const writer = head();
    const results = await Promise.all([writer.commit(note(0, 1)), writer.commit(note(4 * KIB, 2, 4 * KIB, 'k')), writer.commit(note(8 * KIB, 3)), writer.commit(note(12 * KIB, 4))]);
    expect(results[1]!.writes).toBe(1);
    const { primary } = await logsOf();
    const keyed = primary.find((entry) => (entry as WriteEntry).noteId.startsWith('k')) as WriteEntry;
    expect(keyed.extents).toBeUndefined();
    expect(results.filter((result) => result.op === keyed.op)).toHaveLength(1);
  });

  for (const step of ['after-payload', 'after-pending-note', 'after-primary-commit', 'after-secondary-commit'] as const) {
    it(`loses no acknowledged write and exposes all or none of a group when the process crashes ${step}`, async () => {
      const { head, logsOf, read } = cluster();
      const writer = head();
      // Acknowledged before the crash.
      const acknowledged = Array.from({ length: 8 }, (_, i) => note(i * 4 * KIB, i + 1));
      await Promise.all(acknowledged.map((n) => writer.commit(n)));
      const before = (await logsOf()).primary.length;
      // The crash: a group of 8 overwrites stops at `step` for good (the process is gone).
      // The blocker passes each step before the group does: the group stops at the second time.
      let seen = 0;
      let crashed = false;
      disarm = armFailpoint(FAILPOINTS.write, (context) => {
        if (context.step !== step || ++seen !== 2) return undefined;
        crashed = true;
        return new Promise<void>(() => {});
      });
      const blocker = note(32 * KIB, 99);
      void writer.commit(blocker); // alone; the group queues behind its append
      const group = Array.from({ length: 8 }, (_, i) => note(i * 4 * KIB, 100 + i));
      for (const n of group) void writer.commit(n);
      await until(() => crashed);
      // Let whatever the dying process still does settle, then read from another process.
      for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
      disarm();
      disarm = undefined;
      const { primary } = await logsOf();
      expect(primary.map((entry) => entry.op)).toEqual(primary.map((_, i) => i + 1));
      expect(primary.length).toBeGreaterThanOrEqual(before);
      const visible = await Promise.all(group.map(async (n, i) => (await read(i * 4 * KIB, 4 * KIB)).equals(n.payload)));
      const kept = await Promise.all(acknowledged.map(async (n, i) => (await read(i * 4 * KIB, 4 * KIB)).equals(n.payload)));
      // All or none of the group; where none, every acknowledged write is there.
      expect(visible.every(Boolean) || visible.every((v) => !v), `visible: ${visible.join(',')}`).toBe(true);
      // Before the primary's append nothing of it is visible; after it, all of it, as one op of 8 extents.
      const appended = step === 'after-primary-commit' || step === 'after-secondary-commit';
      expect(visible[0]).toBe(appended);
      if (appended) expect((primary.at(-1) as WriteEntry).extents).toHaveLength(8);
      else expect(kept.every(Boolean)).toBe(true);
      // A new writer (another process) then commits on both replicas, with no gap.
      await head().write(note(48 * KIB, 7));
      const after = await logsOf();
      expectDenseAndIdentical(after.primary, after.secondary);
    });
  }
});
