import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcurrentModificationError, FencedError } from '../../lib/errors.js';
import { FAILPOINTS, armFailpoint } from '../../lib/faults.js';
import { PartitionHead, sameWrite } from '../../lib/notes/partition-head.js';
import type { LogEntry, LogRef, PartitionMeta } from '../../lib/notes/ports.js';
import { MAX_UNNAMED_MS } from '../../lib/shared/orphan-limits.js';
import { fakeStores } from '../support/fakes/in-memory-stores.js';
import { ManualClock, until } from '../support/fakes/manual-clock.js';

const KIB = 1024;
const GEOMETRY = { start: 0, chunkSizeBytes: 64 * KIB, partitionChunks: 4, volumeBytes: 256 * KIB };
const VOLUME = 'vol-1';

let disarm: (() => void) | undefined;
afterEach(() => {
  disarm?.();
  disarm = undefined;
});

/** Stores shared by several "processes", each of which makes its own head of partition 0. */
function cluster(headLeaseMs = 0) {
  const stores = fakeStores();
  const clock = new ManualClock();
  const head = () => new PartitionHead({ ...stores, sledCount: 4, headLeaseMs, clock }, VOLUME, 0, GEOMETRY);
  const logsOf = async () => {
    const meta = (await stores.metas.get(VOLUME, 0)) as PartitionMeta;
    const log = (replicaId: string): LogRef => ({ volumeId: VOLUME, partition: 0, replicaId });
    return { meta, primary: stores.logs.entries(log(meta.primary.replicaId)), secondary: stores.logs.entries(log(meta.secondary.replicaId)) };
  };
  return { stores, clock, head, logsOf };
}

let seq = 0;
function note(offset: number, fill: number) {
  const payload = Buffer.alloc(4 * KIB, fill);
  return { noteId: `n${String(++seq).padStart(24, '0')}`, offset, payload, sha256: createHash('sha256').update(payload).digest('hex') };
}

/** Both logs hold ops 1..n densely, the same op under the same number. */
function expectDenseAndIdentical(primary: LogEntry[], secondary: LogEntry[], n: number) {
  expect(primary.map((entry) => entry.op)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  expect(secondary.length).toBe(n);
  primary.forEach((entry, i) => expect(sameWrite(entry, secondary[i] as LogEntry)).toBe(true));
}

describe('the replica commit protocol', () => {
  it('commits a note on the primary, then on the secondary, under the same op', async () => {
    const { head, logsOf } = cluster();
    const writer = head();
    expect(await writer.write(note(0, 1))).toBe(1);
    expect(await writer.write(note(4096, 2))).toBe(2);
    const { primary, secondary } = await logsOf();
    expectDenseAndIdentical(primary, secondary, 2);
  });

  it('fences a superseded primary: it commits nothing, on either replica, and says so', async () => {
    const { stores, head, logsOf } = cluster();
    const stale = head();
    await stale.write(note(0, 1));
    // A failover elsewhere: an epoch entry takes op 2 of both logs, and the metadata moves to epoch 2.
    const { meta } = await logsOf();
    for (const replica of [meta.primary, meta.secondary]) {
      expect(await stores.logs.append(stale.logOf(replica), { kind: 'epoch', op: 2, epoch: 2 })).toBe(true);
    }
    expect(await stores.metas.replace({ ...meta, epoch: 2 }, 1)).toBe(true);

    await expect(stale.write(note(0, 9))).rejects.toBeInstanceOf(FencedError);
    const after = await logsOf();
    expect(after.primary.map((entry) => entry.kind)).toEqual(['write', 'epoch']);
    expect(after.secondary.map((entry) => entry.kind)).toEqual(['write', 'epoch']);
    // Fenced, it forgot its metadata: its retry commits under the new epoch.
    expect(await stale.write(note(0, 9))).toBe(3);
    expect((await logsOf()).primary.at(-1)?.epoch).toBe(2);
  });

  it('fences a primary whose epoch entry sits on the primary only: a writer of the old epoch never passes it', async () => {
    const { stores, head, logsOf } = cluster();
    const stale = head();
    await stale.write(note(0, 1));
    const { meta } = await logsOf();
    expect(await stores.logs.append(stale.logOf(meta.primary), { kind: 'epoch', op: 2, epoch: 2 })).toBe(true);
    await expect(stale.write(note(0, 9))).rejects.toBeInstanceOf(FencedError);
    const after = await logsOf();
    expect(after.primary.map((entry) => entry.op)).toEqual([1, 2]);
    expect(after.secondary.map((entry) => entry.op)).toEqual([1]);
  });

  it('catches up a secondary that missed ops (a writer died between its commits) before committing on it', async () => {
    const { stores, head, logsOf } = cluster();
    const dying = head();
    disarm = armFailpoint(FAILPOINTS.write, ({ step }) => (step === 'after-primary-commit' ? new Promise<void>(() => {}) : undefined));
    void dying.write(note(0, 1));
    void dying.write(note(4096, 2)); // queued behind the first on the primary: it commits too, then stops
    await until(async () => stores.metas.items.size > 0 && (await logsOf()).primary.length === 2);
    disarm();
    disarm = undefined;
    expect((await logsOf()).secondary).toEqual([]);

    expect(await head().write(note(8192, 3))).toBe(3);
    const { primary, secondary } = await logsOf();
    expectDenseAndIdentical(primary, secondary, 3);
  });

  it('copies the ops a flush is about to pass to the secondary (replicateThrough)', async () => {
    const { stores, head, logsOf } = cluster();
    const writer = head();
    await writer.write(note(0, 1));
    const { meta } = await logsOf();
    // Op 2 reached the primary only.
    const entry = { kind: 'write' as const, op: 2, epoch: 1, noteId: 'n-lost', offset: 4096, length: 4096, sha256: 'x' };
    expect(await stores.logs.append(writer.logOf(meta.primary), entry)).toBe(true);
    await writer.ensureReplicated(2);
    expectDenseAndIdentical((await logsOf()).primary, (await logsOf()).secondary, 2);
  });

  it('gives concurrent writers in several processes dense op numbers, each once, and identical replicas', async () => {
    const { head, logsOf } = cluster();
    const heads = [head(), head(), head()];
    const ops = await Promise.all(heads.flatMap((writer, w) => Array.from({ length: 8 }, (_, i) => writer.write(note(((w * 8 + i) % 64) * 4096, w * 8 + i)))));
    expect([...ops].sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const { primary, secondary } = await logsOf();
    expectDenseAndIdentical(primary, secondary, 24);
  });

  it('does not commit a note older than the orphan limit: a sweep may have taken it', async () => {
    const { clock, head, logsOf } = cluster();
    disarm = armFailpoint(FAILPOINTS.write, ({ step }) => (step === 'after-pending-note' ? clock.advance(MAX_UNNAMED_MS + 1) : undefined));
    await expect(head().write(note(0, 1))).rejects.toBeInstanceOf(ConcurrentModificationError);
    expect((await logsOf()).primary).toEqual([]);
  });

  it('waits out another head\'s lease on the manual clock, ends it, then appends after it', async () => {
    const { clock, head, stores, logsOf } = cluster(3000);
    const holder = head();
    await holder.write(note(0, 1)); // starts the log: it carries the holder's lease
    const { meta } = await logsOf();
    expect((await stores.logs.tail(holder.logOf(meta.primary)))?.lease).toBeDefined();
    let op: number | undefined;
    void head().write(note(4096, 2)).then((taken) => (op = taken));
    await until(() => clock.sleeping === 1);
    await clock.advance(2999);
    expect(op).toBeUndefined();
    await clock.advance(200);
    await until(() => op !== undefined);
    expect(op).toBe(2);
    expectDenseAndIdentical((await logsOf()).primary, (await logsOf()).secondary, 2);
  });
});
