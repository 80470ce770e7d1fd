import { RETAINED_CHECKPOINTS, type CheckpointRecord, type CheckpointStore } from '../checkpoints/checkpoint.js';
import { noteIdsOf } from '../notes/note-ids.js';
import type { ChunkMap, ChunkRef, JournalStore, NoteLogStore, PartitionMeta } from '../notes/ports.js';
import type { ChunkStore } from '../sleds/ports.js';
import { ownsObject } from '../volumes/volume.js';
import { namedKeys, type ChunkNames } from './chunk-names.js';
import { replicaLog } from './flush-origin.js';
import { ROLES, type FlushableHead } from './ports.js';

/** What a collection freed. */
export interface Collected {
  readonly notesTrimmed: number;
  readonly chunksCollected: number;
}

type CollectorDeps = { readonly checkpoints: CheckpointStore; readonly chunks: ChunkStore; readonly logs: NoteLogStore; readonly journal: JournalStore };

/**
 * Garbage collection after a flush or a checkpoint: checkpoints past the retained ones, chunk
 * versions a map move replaced that nothing names any more, and notes (log entries and
 * payloads) every replica flushed below the oldest retained checkpoint. It sees only what a
 * map named before; the sweep (sweeper.ts) finds what nothing ever named.
 */
export class GarbageCollector {
  constructor(
    private readonly deps: CollectorDeps,
    private readonly names: ChunkNames,
  ) {}

  /**
   * `records`: the partition's checkpoints, newest first (with any just written);
   * `superseded`: the chunk versions the maps no longer name;
   * `known`: both replicas' chunk maps as they stand, when the caller just read or wrote them.
   */
  async collect(
    head: FlushableHead,
    meta: PartitionMeta,
    records: readonly CheckpointRecord[],
    superseded: readonly ChunkRef[],
    known?: ReadonlyArray<ChunkMap | undefined>,
  ): Promise<Collected> {
    const retained = records.slice(0, RETAINED_CHECKPOINTS);
    for (const old of records.slice(RETAINED_CHECKPOINTS)) await this.deps.checkpoints.remove(old);
    // Notes are trimmed below the oldest retained checkpoint that both maps have passed, so a
    // rebuild from any retained checkpoint (the newest may be corrupt) finds every note after it.
    // With one checkpoint nothing is trimmed: if it turns out corrupt, a full replay remains.
    const oldest = retained.length >= 2 ? (retained.at(-1)?.op ?? 0) : 0;
    if (superseded.length === 0 && oldest === 0) return { notesTrimmed: 0, chunksCollected: 0 };
    // A chunk version may go once no replica's map and no retained checkpoint names it (one
    // that cannot be read names nothing: a rebuild would not use it either).
    const maps = known ?? (await this.names.chunkMapsOf(meta));
    const checkpoints = superseded.length > 0 ? await this.names.readCheckpoints(retained) : [];
    const referenced = namedKeys([...maps, ...checkpoints]);
    // Both replicas' maps named the same old versions: each key once, in batched deletes.
    // Never an object the volume does not own: a copy's borrowed chunk is the snapshot's.
    const garbage = [...new Map(superseded.filter((ref) => !referenced.has(ref.key) && ownsObject(meta.volumeId, ref.key)).map((ref) => [ref.key, ref])).values()];
    if (garbage.length > 0) {
      head.forgetChunks(garbage.map((ref) => ref.key));
      await this.deps.chunks.removeAll(garbage);
    }
    if (oldest === 0) return { notesTrimmed: 0, chunksCollected: garbage.length };
    return { notesTrimmed: await this.trimNotes(meta, oldest, maps), chunksCollected: garbage.length };
  }

  /** Trims both logs and journals below `oldest`, no further than either map's base. */
  private async trimNotes(meta: PartitionMeta, oldest: number, maps: ReadonlyArray<ChunkMap | undefined>): Promise<number> {
    // Each log keeps its newest entry: the next writer learns the next op number from it.
    const tails = await Promise.all(ROLES.map((role) => this.deps.logs.tail(replicaLog(meta, role))));
    const trimOp = Math.min(oldest, ...maps.map((map) => map?.baseOp ?? 0), ...tails.map((tail) => (tail?.op ?? 0) - 1));
    let notesTrimmed = 0;
    if (trimOp > 0) {
      for (const role of ROLES) {
        const log = replicaLog(meta, role);
        const entries = await this.deps.logs.range(log, 0, trimOp);
        await this.deps.journal.remove(meta[role].sled, log, noteIdsOf(entries));
        notesTrimmed += await this.deps.logs.trim(log, trimOp);
      }
    }
    return notesTrimmed;
  }
}
