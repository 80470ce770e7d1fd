import { setImmediate as nextTurn } from 'node:timers/promises';
import { forEachRun } from '../notes/chunk-images.js';
import type { ChunkRef, JournalStore, ReplicaPlacement } from '../notes/ports.js';
import { mapLimit, SerialQueue } from '../shared/concurrency.js';
import { sha256Hex } from '../shared/hashing.js';
import type { ChunkStore } from '../sleds/ports.js';
import { allZeros } from '../shared/zeros.js';
import { chunkLocation, type ChunkPlan } from './flush-plan.js';
import type { FlushableHead, PartitionView } from './ports.js';

/** Chunk PUTs in flight per flush. */
export const PUT_CONCURRENCY = 8;

/** A chunk's new content: bytes built from the view, a whole note the sled copies, or nothing (all zeros). */
type ChunkContent =
  | { readonly bytes: Buffer; readonly sha256: string }
  | { readonly noteId: string; readonly sha256: string; readonly from: ReplicaPlacement }
  | { readonly zeros: true };

/**
 * What a flush attempt put: the refs its map will name, the bytes it built (the head keeps
 * them), and the chunks that became all zeros, which its map drops (no object: thin provisioning).
 */
export interface BuiltChunks {
  readonly written: Record<string, ChunkRef>;
  readonly built: Map<number, Buffer>;
  readonly dropped: number[];
}

/** One flush attempt's chunks to build and put. */
export interface ChunkJob {
  readonly volumeId: string;
  readonly partition: number;
  readonly head: FlushableHead;
  readonly view: PartitionView;
  readonly target: number;
  /** The attempt's own suffix for its keys. */
  readonly attempt: string;
  readonly chunks: readonly ChunkPlan[];
  /** Called once every chunk is built, while the last ones are still being put. */
  readonly onAllBuilt: () => void;
}

const ZEROS: ChunkContent = { zeros: true };
const hashed = (bytes: Buffer): ChunkContent => (allZeros(bytes) ? ZEROS : { bytes, sha256: sha256Hex(bytes) });

/**
 * Carries out a flush plan's chunks: reads what each needs through the head (memory first,
 * then the sleds), builds its bytes, hashes them once (the PUT signs with that digest) and puts
 * it, or has the sled copy a note that is the whole chunk. All memory it borrows or lends goes
 * through FlushableHead: chunkBytes to read an old version, rememberChunk for a version it put,
 * forgetChunks for versions it removes.
 */
export class ChunkBuilder {
  constructor(private readonly deps: { readonly chunks: ChunkStore; readonly journal: JournalStore; readonly sledCount: number }) {}

  /** Builds and puts every planned chunk, PUT_CONCURRENCY at a time. */
  async putAll(job: ChunkJob): Promise<BuiltChunks> {
    const { volumeId, partition, head, view, target, attempt } = job;
    const written: Record<string, ChunkRef> = {};
    const built = new Map<number, Buffer>();
    const dropped: number[] = [];
    const building = new SerialQueue();
    let toBuild = job.chunks.length;
    await mapLimit(job.chunks, PUT_CONCURRENCY, async (plan) => {
      const at = chunkLocation(volumeId, partition, plan.chunk, target, attempt, this.deps.sledCount);
      // What the head holds in memory is copied and hashed one chunk at a time, each after a
      // turn of the event loop, so the chunk put just before goes out while the next is built.
      // Only that part is queued: object reads a chunk still needs (wrapped, so the queue does
      // not wait for them) run alongside the other chunks'.
      const { content: ready } = await building.run(async () => {
        await nextTurn();
        return { content: this.build(head, view, plan) };
      });
      const content = await ready;
      if (--toBuild === 0) job.onAllBuilt();
      if ('zeros' in content) {
        dropped.push(plan.chunk);
        return;
      }
      if ('bytes' in content) {
        await this.deps.chunks.put(at, content.bytes, content.sha256);
        head.rememberChunk(at.key, content.bytes);
        built.set(plan.chunk, content.bytes);
      } else {
        await this.deps.journal.copyToChunk({ sled: content.from.sled, log: head.logOf(content.from) }, content.noteId, at);
      }
      written[String(plan.chunk)] = { ...at, sha256: content.sha256 };
    });
    return { written, built, dropped };
  }

  /** Removes chunk objects a flush put that nothing names, nor ever will; best effort (the sweep finds any left). */
  async removeUnnamed(head: FlushableHead, refs: readonly ChunkRef[]): Promise<void> {
    if (refs.length === 0) return;
    head.forgetChunks(refs.map((ref) => ref.key));
    await this.deps.chunks.removeAll(refs).catch(() => undefined);
  }

  /** A chunk as of the view: at once when the head holds every byte in memory, else once the reads are done. */
  private build(head: FlushableHead, view: PartitionView, plan: ChunkPlan): ChunkContent | Promise<ChunkContent> {
    const { source } = plan;
    if (source.kind === 'zeros') return ZEROS;
    if (source.kind === 'note') return source;
    if (source.kind === 'image') {
      const { image, base: ref } = source;
      if (!ref || !image.written) return hashed(image.bytes);
      const { written } = image;
      // The image holds only the blocks written since the base: the rest comes from the old version.
      const fill = (base: Buffer): ChunkContent => {
        const bytes = Buffer.from(image.bytes);
        forEachRun(written, 0, (from, to) => base.copy(bytes, from, from, to));
        return hashed(bytes);
      };
      const base = head.chunkBytes(ref, image.bytes.length);
      return base instanceof Promise ? base.then(fill) : fill(base);
    }
    const bytes = Buffer.alloc(plan.length);
    const reading = head.startViewRead(view, plan.start, plan.length, bytes, 0, source.extents);
    return reading ? reading.then(() => hashed(bytes)) : hashed(bytes);
  }
}
