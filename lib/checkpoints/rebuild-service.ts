import { createHash } from 'node:crypto';
import { PartitionNotFoundError, SledsError, ValidationError, VolumeNotFoundError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import { extentsText } from '../notes/note-extents.js';
import { noteIdsOf } from '../notes/note-ids.js';
import { outwaitLease, sameWrite } from '../notes/partition-head.js';
import { mapLimit } from '../shared/concurrency.js';
import { logRef, type ChunkMapStore, type ChunkRef, type JournalStore, type LogEntry, type LogRef, type NoteLogStore, type PartitionMeta, type PartitionMetaStore, type ReplicaPlacement } from '../notes/ports.js';
import type { ChunkStore } from '../sleds/ports.js';
import type { VolumeRepository } from '../volumes/ports.js';
import type { CheckpointStore } from './checkpoint.js';

export type ReplicaRole = 'primary' | 'secondary';

/** A rebuild is already running on this partition (409). */
export class RebuildInProgressError extends SledsError {
  constructor(volumeId: string, partition: number) {
    super('RebuildInProgress', 409, `Partition ${partition} of ${volumeId} is rebuilding a replica; try again when it is done.`);
  }
}

/** No checkpoint and no full log are left to rebuild from (500): never a guessed state. */
export class RebuildImpossibleError extends SledsError {
  constructor(why: string) {
    super('RebuildImpossible', 500, `The replica cannot be rebuilt: ${why}.`);
  }
}

/** What a rebuild started from and how it ended. */
export interface RebuildReport {
  readonly replicaId: string;
  readonly source: 'checkpoint' | 'replay';
  readonly checkpointOp: number;
  readonly skippedCheckpoints: ReadonlyArray<{ op: number; reason: string }>;
  readonly opsCopied: number;
  readonly notesCopied: number;
  readonly digest: string;
  readonly millis: number;
}

/** A chunk map a rebuild may take as its base, or why it may not. */
export type ResolvedChunks = { readonly chunks: Readonly<Record<string, ChunkRef>> } | { readonly unusable: string };

/**
 * Borrowed refs: a copy target's maps name its snapshot's chunks until hydration swaps in its own
 * copies, and so may its checkpoints. A rebuild puts the target's own copies in their place.
 */
export interface BorrowedRefs {
  /** `chunks` with every borrowed ref whose own copy is in place replaced by it. */
  resolve(volumeId: string, partition: number, chunks: Readonly<Record<string, ChunkRef>>): Promise<ResolvedChunks>;
  /** The partition's chunks at op 0, before any write: none for a new volume, its snapshot's for a copy target. */
  initial(volumeId: string, partition: number): Promise<ResolvedChunks>;
}

export interface RebuildDeps {
  readonly volumes: VolumeRepository;
  readonly metas: PartitionMetaStore;
  readonly logs: NoteLogStore;
  readonly journal: JournalStore;
  readonly chunkMaps: ChunkMapStore;
  readonly chunks: ChunkStore;
  readonly checkpoints: CheckpointStore;
  readonly sledCount: number;
  readonly clock?: () => Date;
  /** Without it, every volume starts empty at op 0 and names only its own chunks. */
  readonly borrowed?: BorrowedRefs;
}

/** Chunk versions checked at once (HeadObject) before a checkpoint is used. */
const CHECK_CONCURRENCY = 16;

/** A digest of a replica's partition metadata from `afterOp` on: its base and every op after it. */
export function metadataDigest(base: { source: string; op: number }, entries: readonly LogEntry[]): string {
  const hash = createHash('sha256').update(`${base.source}@${base.op}\n`);
  for (const entry of entries) {
    hash.update(
      entry.kind === 'write'
        ? `${entry.op} ${entry.epoch} w ${entry.noteId} ${entry.offset} ${entry.length} ${entry.sha256}${entry.extents ? ` ${extentsText(entry)}` : ''}\n`
        : `${entry.op} ${entry.epoch} e\n`,
    );
  }
  return hash.digest('hex');
}

/**
 * Losing and rebuilding head-node replicas. Losing one drops its log, its chunk map and its
 * journal. Any change of membership appends an epoch entry to the survivor's log and bumps
 * the epoch, so writers of the old epoch are fenced. The replacement secondary is built from
 * the newest checkpoint that verifies (else an older one, else a full replay of the log) plus
 * the ops after it, and serves only once its digest equals the survivor's.
 */
export class RebuildService {
  constructor(private readonly deps: RebuildDeps) {}

  private now(): Date {
    return (this.deps.clock ?? (() => new Date()))();
  }

  /**
   * Why a checkpoint's chunk map cannot be a base, if it cannot: a chunk version it names is
   * gone from its sled, or holds other bytes. A checkpoint written while another process's
   * flush moved the maps on and collected the versions it had replaced names such versions:
   * that flush listed the checkpoints before this one was recorded.
   */
  private async missingChunk(chunks: Readonly<Record<string, ChunkRef>>): Promise<string | undefined> {
    const refs = Object.entries(chunks);
    const stored = await mapLimit(refs, CHECK_CONCURRENCY, ([, ref]) => this.deps.chunks.sha256(ref));
    // An object the store keeps no checksum for ('') is taken as it is.
    const bad = stored.findIndex((sha256, i) => sha256 === undefined || (sha256 !== '' && sha256 !== refs[i]?.[1].sha256));
    if (bad < 0) return undefined;
    const [chunk, ref] = refs[bad] as [string, ChunkRef];
    return `chunk ${chunk}'s version ${ref.key} ${stored[bad] === undefined ? 'is gone from its sled' : 'holds other bytes than the checkpoint names'}`;
  }

  private async meta(volumeId: string, partition: number): Promise<PartitionMeta> {
    const volume = await this.deps.volumes.get(volumeId);
    if (!volume) throw new VolumeNotFoundError(volumeId);
    if (!Number.isInteger(partition) || partition < 0 || partition >= volume.partitionCount) {
      throw new PartitionNotFoundError(volumeId, partition, volume.partitionCount);
    }
    const meta = await this.deps.metas.get(volumeId, partition);
    if (!meta) throw new ValidationError(`Partition ${partition} of ${volumeId} was never written: it has no replicas to lose.`);
    return meta;
  }

  private log(meta: PartitionMeta, replica: ReplicaPlacement): LogRef {
    return logRef(meta.volumeId, meta.partition, replica.replicaId);
  }

  /**
   * Simulates losing one replica, promotes the survivor if the primary was lost, and rebuilds
   * a new secondary. Writes to the partition wait while it rebuilds.
   */
  async loseReplica(volumeId: string, partition: number, role: ReplicaRole): Promise<RebuildReport> {
    const meta = await this.meta(volumeId, partition);
    if (meta.rebuild) throw new RebuildInProgressError(volumeId, partition);
    const lost = meta[role];
    const survivor = role === 'primary' ? meta.secondary : meta.primary;
    const survivorLog = this.log(meta, survivor);
    const epoch = meta.epoch + 1;
    // First the mark that sends readers elsewhere to the metadata (they trust their view of
    // the primary's log otherwise), then the fence, then the new metadata.
    await this.deps.logs.retire(this.log(meta, lost));
    // The epoch entry fences every writer of the old epoch: its next append on the survivor
    // either finds the slot taken or sees the newer epoch right before it. A lost primary's
    // log gets one too, first: a head that leased it stops trusting its view (the lease is
    // waited out and ended) and can append nothing more there.
    if (role === 'primary') await this.appendEpoch(this.log(meta, lost), epoch);
    await this.appendEpoch(survivorLog, epoch);
    await failpoint(FAILPOINTS.rebuild, { step: 'fenced', volumeId, partition });
    const generation = meta.replicaGeneration + 1;
    const step = 1 + ((partition + generation) % Math.max(1, this.deps.sledCount - 1));
    const replacement: ReplicaPlacement = { replicaId: `r${generation}`, sled: (survivor.sled + step) % this.deps.sledCount };
    const next: PartitionMeta = {
      ...meta,
      epoch,
      primary: survivor,
      secondary: replacement,
      replicaGeneration: generation,
      rebuild: {
        state: 'rebuilding',
        replicaId: replacement.replicaId,
        lostReplicaId: lost.replicaId,
        lostSled: lost.sled,
        startedAt: this.now().toISOString(),
      },
    };
    if (!(await this.deps.metas.replace(next, meta.epoch))) throw new RebuildInProgressError(volumeId, partition);
    await failpoint(FAILPOINTS.rebuild, { step: 'promoted', volumeId, partition });
    return this.rebuild(volumeId, partition);
  }

  /** Appends an epoch entry to a log unless it has one of `epoch` already, after any head's lease on it ends. */
  private async appendEpoch(log: LogRef, epoch: number): Promise<void> {
    for (;;) {
      const tail = await this.deps.logs.tail(log);
      if ((tail?.epoch ?? 0) >= epoch) return;
      if (tail?.lease && !(await outwaitLease(this.deps.logs, log, tail.op, tail.lease, 'rebuild'))) continue;
      if (await this.deps.logs.append(log, { kind: 'epoch', op: (tail?.op ?? 0) + 1, epoch })) return;
    }
  }

  /** Builds (or finishes building, after a crash) the secondary that the metadata says is rebuilding. */
  async rebuild(volumeId: string, partition: number): Promise<RebuildReport> {
    const started = performance.now();
    const meta = await this.meta(volumeId, partition);
    if (!meta.rebuild) throw new ValidationError(`Partition ${partition} of ${volumeId} is not rebuilding.`);
    const primaryLog = this.log(meta, meta.primary);
    const replicaLog = this.log(meta, meta.secondary);
    const firstOp = (await this.deps.logs.first(primaryLog))?.op ?? 1;

    // 1. The base: the newest checkpoint that verifies and that the log still continues.
    const skipped: Array<{ op: number; reason: string }> = [];
    let base: { source: 'checkpoint' | 'replay'; op: number; sha256: string; chunks: Record<string, never> | object } | undefined;
    for (const record of await this.deps.checkpoints.list(volumeId, partition)) {
      if (record.op + 1 < firstOp) {
        skipped.push({ op: record.op, reason: `the log no longer holds op ${record.op + 1}` });
        continue;
      }
      try {
        const checkpoint = await this.deps.checkpoints.read(record);
        const resolved = this.deps.borrowed ? await this.deps.borrowed.resolve(volumeId, partition, checkpoint.chunks) : { chunks: checkpoint.chunks };
        if ('unusable' in resolved) {
          skipped.push({ op: record.op, reason: resolved.unusable });
          continue;
        }
        const unusable = await this.missingChunk(resolved.chunks);
        if (unusable) {
          skipped.push({ op: record.op, reason: unusable });
          continue;
        }
        base = { source: 'checkpoint', op: record.op, sha256: record.sha256, chunks: resolved.chunks };
        break;
      } catch (error) {
        skipped.push({ op: record.op, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    if (!base) {
      if (firstOp > 1) throw new RebuildImpossibleError(`no checkpoint verifies and the log starts at op ${firstOp}, not 1`);
      // A copy target did not start empty: op 0 is its snapshot's chunks (its own copies once in place).
      const initial = this.deps.borrowed ? await this.deps.borrowed.initial(volumeId, partition) : { chunks: {} };
      if ('unusable' in initial) throw new RebuildImpossibleError(`no checkpoint verifies and the state at op 0 is unknown: ${initial.unusable}`);
      const missing = await this.missingChunk(initial.chunks);
      if (missing) throw new RebuildImpossibleError(`no checkpoint verifies and the state at op 0 is not in place: ${missing}`);
      base = { source: 'replay', op: 0, sha256: 'replay', chunks: initial.chunks };
    }
    const existing = await this.deps.chunkMaps.get(replicaLog);
    if (!existing || existing.baseOp !== base.op) {
      await this.deps.chunkMaps.put(
        { volumeId, partition, replicaId: replicaLog.replicaId, baseOp: base.op, chunks: base.chunks as never, version: (existing?.version ?? 0) + 1 },
        existing?.version,
      );
    }
    await failpoint(FAILPOINTS.rebuild, { step: 'base-restored', volumeId, partition });

    // 2. The ops after the base: their notes first, then the entries, so an entry never
    //    points at a note that is not there. Only the tail is read, not the whole log.
    const tail = await this.deps.logs.range(primaryLog, base.op);
    const notes = noteIdsOf(tail);
    const present = new Set(await this.deps.journal.list(meta.secondary.sled, replicaLog));
    const missing = notes.filter((noteId) => !present.has(noteId));
    await this.deps.journal.copyAll({ sled: meta.primary.sled, log: primaryLog }, { sled: meta.secondary.sled, log: replicaLog }, missing);
    await failpoint(FAILPOINTS.rebuild, { step: 'notes-copied', volumeId, partition });
    for (const entry of tail) {
      if (!(await this.deps.logs.append(replicaLog, entry))) {
        const there = await this.deps.logs.get(replicaLog, entry.op);
        if (!there || !sameWrite(there, entry)) {
          throw new RebuildImpossibleError(`the new replica holds a different op ${entry.op}`);
        }
      }
    }
    await failpoint(FAILPOINTS.rebuild, { step: 'ops-copied', volumeId, partition });

    // 3. Identical to the survivor, by a digest of the metadata from the base on, or no service.
    const survivorDigest = metadataDigest(base, tail);
    const [rebuiltEntries, rebuiltNotes] = await Promise.all([
      this.deps.logs.range(replicaLog, base.op),
      this.deps.journal.list(meta.secondary.sled, replicaLog),
    ]);
    const rebuiltDigest = metadataDigest(base, rebuiltEntries);
    const held = new Set(rebuiltNotes);
    if (rebuiltDigest !== survivorDigest || notes.some((noteId) => !held.has(noteId))) {
      throw new RebuildImpossibleError(`the rebuilt replica's digest ${rebuiltDigest} differs from the survivor's ${survivorDigest}`);
    }
    const report: RebuildReport = {
      replicaId: meta.secondary.replicaId,
      source: base.source,
      checkpointOp: base.op,
      skippedCheckpoints: skipped,
      opsCopied: tail.length,
      notesCopied: missing.length,
      digest: rebuiltDigest,
      millis: Math.round(performance.now() - started),
    };
    const { rebuild: _rebuilding, ...rest } = meta;
    void _rebuilding;
    const done: PartitionMeta = { ...rest, lastRebuild: { ...report, finishedAt: this.now().toISOString() } };
    if (!(await this.deps.metas.replace(done, meta.epoch))) throw new RebuildInProgressError(volumeId, partition);
    // The lost replica's state and journal go once the new one serves: nobody reads them any
    // more, and the rebuild (and the writes waiting on it) need not wait for the deletes. A
    // crash before this leaves them to the volume's delete, which removes every replica id.
    const lostLog = logRef(volumeId, partition, meta.rebuild.lostReplicaId);
    await this.deps.logs.drop(lostLog);
    await this.deps.journal.drop(meta.rebuild.lostSled, lostLog);
    await failpoint(FAILPOINTS.rebuild, { step: 'dropped', volumeId, partition });
    return report;
  }
}
