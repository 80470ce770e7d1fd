import { describe, expect, it } from 'vitest';
import { checkHistory } from '../support/history/checker.js';
import { HistoryRecorder } from '../support/history/recorder.js';
import { formatReport } from '../support/history/report.js';
import { taggedPayload } from '../support/history/tags.js';
import { BLOCK_SIZE } from '../support/history/types.js';

/** The recorder: Jepsen-style invoke / ok / fail / info, and end to end with an in-memory disk. */
function ticking(): () => number {
  let t = 0;
  return () => ++t;
}

describe('history recorder', () => {
  it('records invocations and completions with the clock, and read values from bytes', () => {
    const rec = new HistoryRecorder(ticking());
    const { buf, values } = taggedPayload(1, 1, 0, 2 * BLOCK_SIZE);
    const w = rec.invoke(1, { kind: 'write', offset: 0, length: 2 * BLOCK_SIZE, values });
    rec.ok(w);
    const r = rec.invoke(2, { kind: 'read', offset: BLOCK_SIZE, length: BLOCK_SIZE });
    rec.ok(r, buf.subarray(BLOCK_SIZE));
    expect(rec.history().ops).toEqual([
      { id: 0, client: 1, kind: 'write', offset: 0, length: 8192, invokedAt: 1, completedAt: 2, values },
      { id: 1, client: 2, kind: 'read', offset: 4096, length: 4096, invokedAt: 3, completedAt: 4, values: [values[1]] },
    ]);
  });

  it('drops failed ops and keeps info (and still open) ops pending', () => {
    const rec = new HistoryRecorder(ticking());
    const failed = rec.invoke(1, { kind: 'zero', offset: 0, length: BLOCK_SIZE });
    const crashed = rec.invoke(2, { kind: 'zero', offset: 0, length: BLOCK_SIZE });
    rec.invoke(3, { kind: 'read', offset: 0, length: BLOCK_SIZE });
    rec.fail(failed);
    rec.info(crashed);
    const ops = rec.history().ops;
    expect(ops.map((o) => o.id)).toEqual([1, 2]);
    expect(ops.every((o) => o.completedAt === undefined)).toBe(true);
  });

  it('makes a read of a failed write\'s data a violation (that write never happened)', () => {
    const rec = new HistoryRecorder(ticking());
    const { buf, values } = taggedPayload(1, 1, 0, BLOCK_SIZE);
    rec.fail(rec.invoke(1, { kind: 'write', offset: 0, length: BLOCK_SIZE, values }));
    rec.ok(rec.invoke(2, { kind: 'read', offset: 0, length: BLOCK_SIZE }), buf);
    const r = checkHistory(rec.history());
    expect(r.status).toBe('violation');
    expect(r.violations[0]?.reason).toBe('never-written');
  });

  it('rejects a double completion, an unknown id, a read without its value, a misaligned op', () => {
    const rec = new HistoryRecorder(ticking());
    const id = rec.invoke(1, { kind: 'zero', offset: 0, length: BLOCK_SIZE });
    rec.ok(id);
    expect(() => rec.info(id)).toThrow(/already completed as ok/);
    expect(() => rec.ok(99)).toThrow(/no invocation 99/);
    const r = rec.invoke(1, { kind: 'read', offset: 0, length: BLOCK_SIZE });
    expect(() => rec.ok(r)).toThrow(/without the value/);
    expect(() => rec.invoke(1, { kind: 'read', offset: 100, length: BLOCK_SIZE })).toThrow(/aligned/);
  });
});

/** A disk of `blocks` blocks whose ops take effect after a random delay, at one instant. */
class MemoryDisk {
  readonly bytes: Buffer;
  constructor(
    blocks: number,
    private readonly loseWrites = false,
  ) {
    this.bytes = Buffer.alloc(blocks * BLOCK_SIZE);
  }
  private static pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
  }
  async write(offset: number, data: Buffer): Promise<void> {
    await MemoryDisk.pause();
    if (!(this.loseWrites && Math.random() < 0.3)) data.copy(this.bytes, offset);
    await MemoryDisk.pause();
  }
  async read(offset: number, length: number): Promise<Buffer> {
    await MemoryDisk.pause();
    const out = Buffer.from(this.bytes.subarray(offset, offset + length));
    await MemoryDisk.pause();
    return out;
  }
}

async function workload(disk: MemoryDisk, rec: HistoryRecorder): Promise<void> {
  const blocks = disk.bytes.length / BLOCK_SIZE;
  await Promise.all(
    Array.from({ length: 4 }, async (_, client) => {
      for (let seq = 0; seq < 40; seq++) {
        const first = Math.floor(Math.random() * (blocks - 1));
        const count = 1 + Math.floor(Math.random() * 2);
        if (Math.random() < 0.5) {
          const { buf, values } = taggedPayload(client, seq, first * BLOCK_SIZE, count * BLOCK_SIZE);
          const id = rec.invoke(client, { kind: 'write', offset: first * BLOCK_SIZE, length: buf.length, values });
          await disk.write(first * BLOCK_SIZE, buf);
          rec.ok(id);
        } else {
          const id = rec.invoke(client, { kind: 'read', offset: first * BLOCK_SIZE, length: count * BLOCK_SIZE });
          rec.ok(id, await disk.read(first * BLOCK_SIZE, count * BLOCK_SIZE));
        }
      }
    }),
  );
}

describe('history recorder end to end', () => {
  it('records concurrent async clients of a correct disk: ok', async () => {
    const rec = new HistoryRecorder();
    await workload(new MemoryDisk(4), rec);
    const r = checkHistory(rec.history());
    expect(r.status, formatReport(r)).toBe('ok');
    expect(r.stats.ops).toBe(160);
  });

  it('records concurrent async clients of a disk that acknowledges writes it drops: violation', async () => {
    const rec = new HistoryRecorder();
    await workload(new MemoryDisk(4, true), rec);
    const r = checkHistory(rec.history());
    expect(r.status, formatReport(r)).toBe('violation');
  });
});
