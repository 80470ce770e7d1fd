import { mapLimit } from '../../shared/concurrency.js';
import type { Extent } from '../extent-index.js';
import type { ChunkRef, JournalStore, LogRef, ReplicaPlacement } from '../ports.js';
import { planRead, singleSource, type ChunkGrid } from './read-plan.js';
import type { PartitionView } from './types.js';

const READ_CONCURRENCY = 16;

/** How the executor reads a chunk version from its sled (a ChunkStore, or one that serves borrowed chunks from better copies). */
export interface ChunkReads {
  read(ref: ChunkRef, start: number, length: number): Promise<Buffer>;
}

/** What the executor reads from besides the stores: this process's memory. */
export interface ReadMemory {
  note(noteId: string): Buffer | undefined;
  chunk(key: string): Buffer | undefined;
}

/**
 * Carries out read plans: copies what memory holds at once, and makes the object reads the
 * plan leaves (one batched journal call for the notes, one ranged GET per chunk). Zeros need no
 * work: every caller hands in a buffer that is zero over the range.
 */
export class ReadExecutor {
  private readonly holds = {
    note: (noteId: string) => this.memory.note(noteId) !== undefined,
    chunk: (key: string) => this.memory.chunk(key) !== undefined,
  };

  constructor(
    private readonly journal: JournalStore,
    private readonly chunks: ChunkReads,
    private readonly memory: ReadMemory,
    private readonly grid: ChunkGrid,
    private readonly logOf: (replica: ReplicaPlacement) => LogRef,
  ) {}

  /**
   * Starts a read through a view: copies at once what this process holds in memory, and
   * returns the object reads still to make, or undefined when none are left (a flush then
   * hashes and sends the chunk without yielding to the other chunks first). `known`: the
   * view's extents over the range, when the caller already looked them up.
   */
  start(view: PartitionView, offset: number, length: number, into: Buffer, at: number, known?: Extent[]): Promise<void> | undefined {
    const { meta, base, index } = view;
    const plan = planRead(known ?? index.lookup(offset, length), base, this.grid, offset, length, this.holds, meta !== undefined);
    for (const note of plan.notesInMemory) {
      // Held at planning, and nothing ran since: the lookup cannot miss.
      (this.memory.note(note.noteId) as Buffer).copy(into, at + note.at, note.start, note.start + note.length);
    }
    for (const { ref, chunkStart, pieces } of plan.chunksInMemory) {
      const cached = this.memory.chunk(ref.key) as Buffer;
      for (const [from, to] of pieces) cached.copy(into, at + (from - offset), from - chunkStart, to - chunkStart);
    }
    const reads: Array<() => Promise<void>> = [];
    if (meta && plan.notesInJournal.length > 0) {
      const parts = plan.notesInJournal;
      reads.push(async () => {
        const payloads = await this.journal.readMany(meta.primary.sled, this.logOf(meta.primary), parts.map(({ noteId, start, length: partLength }) => ({ noteId, start, length: partLength })));
        payloads.forEach((bytes, i) => bytes.copy(into, at + (parts[i]?.at ?? 0)));
      });
    }
    for (const { ref, chunkStart, pieces } of plan.chunksOnSleds) {
      const from = pieces[0]![0];
      const to = pieces.at(-1)![1];
      reads.push(async () => {
        const bytes = await this.chunks.read(ref, from - chunkStart, to - from);
        for (const [pieceFrom, pieceTo] of pieces) bytes.copy(into, at + (pieceFrom - offset), pieceFrom - from, pieceTo - from);
      });
    }
    return reads.length > 0 ? mapLimit(reads, READ_CONCURRENCY, (read) => read()).then(() => undefined) : undefined;
  }

  /**
   * The one object read that yields the whole range, if there is one: its bytes as they came,
   * with no copy (a read may be 4 MiB); from memory, a copy, since the cache's buffer must
   * never leave this process's hands.
   */
  single(view: PartitionView & { readonly meta: NonNullable<PartitionView['meta']> }, offset: number, length: number): (() => Promise<Buffer>) | undefined {
    const source = singleSource(view.index.lookup(offset, length), view.base, this.grid, offset, length);
    if (!source) return undefined;
    if (source.kind === 'note') {
      const cached = this.memory.note(source.noteId);
      if (cached) return () => Promise.resolve(Buffer.from(cached.subarray(source.start, source.start + length)));
      const { sled } = view.meta.primary;
      const log = this.logOf(view.meta.primary);
      return () => this.journal.read(sled, log, source.noteId, source.start, length);
    }
    const cached = this.memory.chunk(source.ref.key);
    if (cached) return () => Promise.resolve(Buffer.from(cached.subarray(source.start, source.start + length)));
    return () => this.chunks.read(source.ref, source.start, length);
  }
}
