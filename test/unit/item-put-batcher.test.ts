import { describe, expect, it } from 'vitest';
import { ItemPutBatcher } from '../../lib/aws/item-put-batcher.js';

/** A send that holds each batch until the test lets it go. */
function heldSends() {
  const sent: Array<{ items: ReadonlyArray<Record<string, unknown>>; finish: (error?: Error) => void }> = [];
  const send = (items: ReadonlyArray<Record<string, unknown>>) =>
    new Promise<void>((resolve, reject) => sent.push({ items, finish: (error) => (error ? reject(error) : resolve()) }));
  return { sent, send };
}

const item = (n: number) => ({ pk: 'p', sk: `note#${n}` });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('puts batched across partitions', () => {
  it('sends a put at once while fewer batches than the bound are out', async () => {
    const { sent, send } = heldSends();
    const batcher = new ItemPutBatcher(send, 2);
    void batcher.put([item(1), item(2)]);
    void batcher.put([item(3)]);
    expect(sent.map((s) => s.items.length)).toEqual([2, 1]);
  });

  it('queues puts behind the batches out, then sends them together, 25 items at most, a caller\'s items never split', async () => {
    const { sent, send } = heldSends();
    const batcher = new ItemPutBatcher(send, 1);
    const first = batcher.put([item(0)]);
    // 11 notes of two items each queue behind the first batch: 22 items, not a full batch.
    const queued = Array.from({ length: 11 }, (_, i) => batcher.put([item(100 + i), item(200 + i)]));
    expect(sent).toHaveLength(1);
    sent[0]!.finish();
    await first;
    await settle();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.items).toHaveLength(22);
    expect(sent[1]!.items.slice(0, 2)).toEqual([item(100), item(200)]);
    // 13 more notes make 26 items: a full batch of 12 notes (24 items) goes at once, the 13th does not fit and waits.
    const more = Array.from({ length: 13 }, (_, i) => batcher.put([item(300 + i), item(400 + i)]));
    expect(sent).toHaveLength(3);
    expect(sent[2]!.items).toHaveLength(24);
    sent[1]!.finish();
    sent[2]!.finish();
    await Promise.all([...queued, ...more.slice(0, 12)]);
    await settle();
    expect(sent[3]!.items).toEqual([item(312), item(412)]);
    sent[3]!.finish();
    await more[12];
  });

  it('sends a full batch at once even while the bound is out, so the bound never caps throughput', async () => {
    const { sent, send } = heldSends();
    const batcher = new ItemPutBatcher(send, 1);
    void batcher.put([item(0)]);
    for (let i = 0; i < 12; i++) void batcher.put([item(100 + i), item(200 + i)]);
    expect(sent).toHaveLength(1); // 24 items wait: not a full batch
    void batcher.put([item(300)]);
    expect(sent.map((s) => s.items.length)).toEqual([1, 25]);
  });

  it('fails the puts of a failed batch, and only those', async () => {
    const { sent, send } = heldSends();
    const batcher = new ItemPutBatcher(send, 1);
    const first = batcher.put([item(1)]);
    const second = batcher.put([item(2)]);
    const third = batcher.put([item(3)]);
    sent[0]!.finish(new Error('throttled'));
    await expect(first).rejects.toThrow('throttled');
    await settle();
    expect(sent[1]!.items).toEqual([item(2), item(3)]);
    sent[1]!.finish();
    await expect(Promise.all([second, third])).resolves.toBeDefined();
  });

  it('refuses more items than one batch holds', async () => {
    const batcher = new ItemPutBatcher(() => Promise.resolve(), 1);
    await expect(batcher.put(Array.from({ length: 26 }, (_, i) => item(i)))).rejects.toThrow('at most 25');
  });
});
