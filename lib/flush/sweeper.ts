import { noteIdsOf } from '../notes/note-ids.js';
import { chunkKeyPrefix } from '../volumes/volume.js';
import type { ChunkNames } from './chunk-names.js';
import { replicaLog, type FlushOrigins } from './flush-origin.js';
import { oldChunks, oldNotes, unnamed, type ListedNote } from './orphans.js';
import { ROLES, type FlushDeps, type SweepResult } from './ports.js';

type SweeperDeps = Pick<FlushDeps, 'volumes' | 'chunks' | 'journal' | 'logs'>;

/**
 * The orphan sweep of one partition (see orphans.ts for why it is safe): chunk objects and
 * notes older than the grace that no map, checkpoint or log names.
 */
export class Sweeper {
  constructor(
    private readonly deps: SweeperDeps,
    private readonly origins: FlushOrigins,
    private readonly names: ChunkNames,
    private readonly now: () => number,
  ) {}

  /**
   * Removes the partition's orphans. It lists first and reads the names after. It leaves a
   * partition alone while something may name an object it does not see: a copy filling the
   * volume, a snapshot being taken, a rebuild.
   */
  async sweep(volumeId: string, partition: number): Promise<SweepResult> {
    const { volume, meta } = await this.origins.partition(volumeId, partition);
    const none = { chunksRemoved: 0, notesRemoved: 0 };
    if (!meta) return none;
    if (volume.state !== 'available') return { ...none, skipped: `the volume is ${volume.state}` };
    if (meta.rebuild) return { ...none, skipped: 'a replica is being rebuilt' };
    if ((await this.deps.volumes.holds(volumeId)).length > 0) return { ...none, skipped: 'a snapshot is being taken' };
    const [chunks, ...journals] = await Promise.all([
      this.deps.chunks.list(chunkKeyPrefix(volumeId, partition)),
      ...ROLES.map(async (replica) =>
        (await this.deps.journal.listWithTimes(meta[replica].sled, replicaLog(meta, replica))).map((note): ListedNote => ({ replica, ...note })),
      ),
    ]);
    const listedAt = this.now();
    const oldChunkObjects = oldChunks(chunks, listedAt);
    const oldNoteObjects = oldNotes(journals.flat(), listedAt);
    let chunksRemoved = 0;
    if (oldChunkObjects.length > 0) {
      const named = await this.names.namedChunks(meta);
      const orphans = named ? unnamed(oldChunkObjects, (object) => object.key, named) : [];
      if (orphans.length > 0) chunksRemoved = await this.deps.chunks.removeAll(orphans);
    }
    let notesRemoved = 0;
    if (oldNoteObjects.length > 0) {
      // A note either log names stays: the secondary's copy of an op only the primary holds yet
      // is what a later write or flush copies over.
      const logs = await Promise.all(ROLES.map((replica) => this.deps.logs.range(replicaLog(meta, replica), 0)));
      const named = new Set(noteIdsOf(logs.flat()));
      for (const replica of ROLES) {
        const orphans = unnamed(
          oldNoteObjects.filter((note) => note.replica === replica),
          (note) => note.noteId,
          named,
        );
        if (orphans.length === 0) continue;
        await this.deps.journal.remove(meta[replica].sled, replicaLog(meta, replica), orphans.map((note) => note.noteId));
        notesRemoved += orphans.length;
      }
    }
    return { chunksRemoved, notesRemoved };
  }
}
