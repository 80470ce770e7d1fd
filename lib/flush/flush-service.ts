import { randomBytes } from 'node:crypto';
import type { CheckpointRecord } from '../checkpoints/checkpoint.js';
import { CheckpointWriter } from '../checkpoints/checkpoint-writer.js';
import { ConcurrentModificationError, PartitionNotFoundError } from '../errors.js';
import { FAILPOINTS, failpoint } from '../faults.js';
import type { ChunkMap, ChunkRef } from '../notes/ports.js';
import { ChunkBuilder, type BuiltChunks } from './chunk-builder.js';
import { ChunkNames } from './chunk-names.js';
import { FlushOrigins, replicaLog, type Confirmation, type FlushOrigin } from './flush-origin.js';
import { followingMap, nextChunkMap, planChunks, replacedBy, type ChunkPlan } from './flush-plan.js';
import { FlushQueue } from './flush-queue.js';
import { GarbageCollector } from './garbage-collector.js';
import type { FlushMessage, SweepMessage } from './messages.js';
import { MAX_UNNAMED_MS } from './orphans.js';
import type { FlushDeps, FlushResult, PartitionView, SweepResult } from './ports.js';
import { Sweeper } from './sweeper.js';

/** The service's ports and results, where callers of the service look for them. */
export type { FlushDeps, FlushResult, SweepResult } from './ports.js';

/** Starts a read that is awaited later: if the flush fails first, its failure is not left unhandled. */
function background<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

/** A chunk map a flush writes, and whether its conditional write took. */
interface MapMove {
  readonly map: ChunkMap;
  readonly moved: Promise<boolean>;
}

/** The reads a flush makes while its last chunks go out: nothing in them depends on the chunks. */
interface SideReads {
  readonly confirmation: Promise<Confirmation>;
  readonly secondaryMap: Promise<ChunkMap | undefined>;
  readonly checkpointList: Promise<CheckpointRecord[]>;
}

/** Where the maps stand once a flush moved them. */
interface MovedMaps {
  /** The primary's map as the flush leaves it. */
  readonly flushed: ChunkMap;
  /** Both maps as they stand now, when this flush knows them (garbage collection needs them). */
  readonly maps: Array<ChunkMap | undefined> | undefined;
  /** Chunk versions the maps named before and no longer do. */
  readonly superseded: ChunkRef[];
}

const NOTHING: FlushResult = { flushedOp: 0, chunksWritten: 0, notesTrimmed: 0, chunksCollected: 0 };

/**
 * Flush: committed notes become immutable chunk objects on the sleds, and each replica's
 * chunk map moves its base past them. Every step can be repeated: chunk keys are fixed by
 * (chunk, op, attempt), and chunk maps change by a conditional write on their version. Then
 * the checkpoint (every K ops) and the garbage collection of what no map or checkpoint needs.
 *
 * This class only sequences the steps; each concern has its module: where the flush starts
 * (flush-origin.ts), what it writes (flush-plan.ts, pure), building and putting chunks
 * (chunk-builder.ts), collection (garbage-collector.ts), the sweep (sweeper.ts), the queue
 * (flush-queue.ts) and writing checkpoints (lib/checkpoints/checkpoint-writer.ts).
 */
export class FlushService {
  private readonly origins: FlushOrigins;
  private readonly builder: ChunkBuilder;
  private readonly collector: GarbageCollector;
  private readonly sweeper: Sweeper;
  private readonly writer: CheckpointWriter;
  private readonly queue: FlushQueue;
  /** The flush's clock, in ms: a FlushService({ ...deps, clock }) runs ahead or behind as a whole. */
  private readonly now: () => number;

  /** `deps` stays whole on the service: a copy with another clock is a new FlushService({ ...deps, clock }). */
  constructor(private readonly deps: FlushDeps) {
    const clock = deps.clock ?? (() => new Date());
    this.now = () => clock().getTime();
    const names = new ChunkNames(deps);
    this.origins = new FlushOrigins(deps, this.now);
    this.builder = new ChunkBuilder(deps);
    this.collector = new GarbageCollector(deps, names);
    this.sweeper = new Sweeper(deps, this.origins, names, this.now);
    this.writer = new CheckpointWriter(deps, clock);
    // Through the service's own methods, so that a delivered message runs what a direct call runs.
    this.queue = new FlushQueue(deps.queue, { flush: (message) => this.flush(message), sweep: (volumeId, partition) => this.sweep(volumeId, partition) });
  }

  /** Flushes the partition up to `uptoOp` (or its newest op); a no-op when it is already there. */
  flush(message: FlushMessage): Promise<FlushResult> {
    return this.flushBy(message, true);
  }

  private async flushBy(message: FlushMessage, fromHead: boolean): Promise<FlushResult> {
    const origin = (fromHead ? await this.origins.fromHead(message) : undefined) ?? (await this.origins.fromLog(message));
    if (!origin) return NOTHING;
    const { volumeId, partition } = message;
    const { meta, head, before, view, target } = origin;
    // Read while the chunks are put: nothing read depends on them, and the maps are checked
    // again by the conditional writes that use them. The reads start once every chunk is
    // built, while the last ones go out: the building then has the CPU to itself, and the
    // answers come back fresh, just before the map writes need them.
    let reads: SideReads | undefined;
    const startReads = () =>
      (reads ??= {
        confirmation: background(origin.confirm()),
        secondaryMap: background(this.deps.chunkMaps.get(replicaLog(meta, 'secondary'))),
        checkpointList: background(this.deps.checkpoints.list(volumeId, partition)),
      });
    // 1. The chunks the notes after the base touched, as of target, as new objects.
    const plan = planChunks(head.geometry, view, target, before);
    const { written, built, dropped } = plan && view ? await this.putChunks(origin, view, plan, startReads) : { written: {}, built: new Map<number, Buffer>(), dropped: [] as number[] };
    const { confirmation, secondaryMap, checkpointList } = startReads();
    let current: boolean;
    try {
      const confirmed = await confirmation;
      current = confirmed.current;
      await this.origins.stillAvailable(volumeId, confirmed.availableAt);
    } catch (error) {
      // The volume is gone or going: its delete may have listed its objects already.
      await this.builder.removeUnnamed(head, Object.values(written));
      throw error;
    }
    if (!current) {
      // The view was not the partition's state after all: what it put is nobody's. Start
      // again from the log.
      await this.builder.removeUnnamed(head, Object.values(written));
      return this.flushBy(message, false);
    }
    // 2. The maps move, only after the objects exist.
    const moved = await this.moveMaps(message, origin, plan ? { written, built, dropped } : undefined, secondaryMap);
    if (!moved) return NOTHING;
    const { flushed, maps, superseded } = moved;

    // 3. A checkpoint every K ops.
    let checkpoint: CheckpointRecord | undefined;
    const records = await checkpointList;
    if (this.writer.due(records, flushed.baseOp)) {
      checkpoint = await this.writer.writeAt(meta, flushed.baseOp, flushed.chunks);
      records.unshift(checkpoint);
      // Every K ops, a sweep for what crashed flushes and writes left behind, later.
      await this.queue.requestSweep(volumeId, partition);
    }
    await failpoint(FAILPOINTS.flush, { step: 'checkpointed', volumeId, partition });

    // 4. Garbage: old checkpoints, chunk versions nothing refers to, notes every replica flushed.
    const collected = await this.collector.collect(head, meta, records, superseded, maps);
    return { flushedOp: flushed.baseOp, chunksWritten: Object.keys(written).length, ...(checkpoint ? { checkpoint } : {}), ...collected };
  }

  /** Builds and puts the planned chunks; gives up if that took so long that a sweep may take them for orphans. */
  private async putChunks(origin: FlushOrigin, view: PartitionView, plan: readonly ChunkPlan[], onAllBuilt: () => void): Promise<BuiltChunks> {
    const { meta, head, target } = origin;
    const { volumeId, partition } = meta;
    // Each attempt puts its own keys, so no key is ever put twice (a sweep relies on that).
    const attempt = randomBytes(4).toString('hex');
    const putsStartedAt = this.now();
    const done = await this.builder.putAll({ volumeId, partition, head, view, target, attempt, chunks: plan, onAllBuilt });
    await failpoint(FAILPOINTS.flush, { step: 'chunks-written', volumeId, partition });
    if (this.now() - putsStartedAt > MAX_UNNAMED_MS) {
      // A sweep may take these objects for orphans by now: leave them to it, and start again.
      throw new ConcurrentModificationError(`partition ${partition} of ${volumeId}: the flush took too long to put its chunks; retry`);
    }
    return done;
  }

  /**
   * Moves the primary's map to name the chunks put (when any were planned) and the secondary's
   * after it, the two writes together. Undefined when there is no map to move or follow.
   * Throws ConcurrentModificationError (retryable) when another flush moved the primary's first.
   */
  private async moveMaps(
    { volumeId, partition }: FlushMessage,
    { meta, head, before, target }: FlushOrigin,
    put: BuiltChunks | undefined,
    secondaryMap: Promise<ChunkMap | undefined>,
  ): Promise<MovedMaps | undefined> {
    let primaryMove: MapMove | undefined;
    if (put) {
      const moving = nextChunkMap(before, replicaLog(meta, 'primary'), target, put.written, put.dropped);
      primaryMove = { map: moving, moved: background(this.deps.chunkMaps.put(moving, before?.version)) };
    }
    const flushed = primaryMove?.map ?? before;
    if (!flushed) return undefined;
    // The secondary takes the primary's map as it is, in a write that goes out with the
    // primary's: it holds every op up to target (see flush-origin.ts), so its map is a state the
    // partition had even if the primary's write loses to another flush. A repeated message
    // (after a crash between the two maps) finds it behind and finishes the job.
    const behind = await secondaryMap;
    const following = followingMap(behind, flushed, meta.secondary.replicaId);
    const secondaryMove: MapMove | undefined = following && { map: following, moved: background(this.deps.chunkMaps.put(following, behind?.version)) };
    const superseded: ChunkRef[] = [];
    if (primaryMove && put) {
      if (!(await primaryMove.moved)) {
        // Another flush moved the map first. Unless the secondary's map took these chunks
        // (or may have: its write failed), nothing names them, nor ever will: remove them now.
        const named = await secondaryMove?.moved.catch(() => true);
        if (!named) await this.builder.removeUnnamed(head, Object.values(put.written));
        throw new ConcurrentModificationError(`partition ${partition} of ${volumeId} was flushed by someone else meanwhile; retry`);
      }
      superseded.push(...replacedBy(before, primaryMove.map));
      // The head in this process takes the new base while the secondary's map is written.
      head.adoptFlushed(before, primaryMove.map, put.built);
      await failpoint(FAILPOINTS.flush, { step: 'primary-map-updated', volumeId, partition });
    }
    let maps: Array<ChunkMap | undefined> | undefined = [flushed, behind];
    if (secondaryMove) {
      if (await secondaryMove.moved) {
        superseded.push(...replacedBy(behind, secondaryMove.map));
        maps = [flushed, secondaryMove.map];
      } else maps = undefined;
      await failpoint(FAILPOINTS.flush, { step: 'secondary-map-updated', volumeId, partition });
    }
    return { flushed, maps, superseded };
  }

  /**
   * Checkpoints on demand: flushes up to the newest op first, so the checkpoint holds every
   * committed op, then writes one even if fewer than K ops have passed.
   */
  async checkpoint(volumeId: string, partition: number): Promise<CheckpointRecord> {
    const { volume, meta } = await this.origins.partition(volumeId, partition);
    if (!meta) throw new PartitionNotFoundError(volumeId, partition, 0);
    await this.flush({ volumeId, partition, uptoOp: Number.MAX_SAFE_INTEGER });
    const map = await this.deps.chunkMaps.get(replicaLog(meta, 'primary'));
    const records = await this.deps.checkpoints.list(volumeId, partition);
    const { record, written } = await this.writer.ofMap(meta, map, records);
    if (written) await this.collector.collect(this.deps.heads.head(volume, partition), meta, [record, ...records], []);
    return record;
  }

  /** Removes the partition's orphans (see sweeper.ts and orphans.ts). */
  sweep(volumeId: string, partition: number): Promise<SweepResult> {
    return this.sweeper.sweep(volumeId, partition);
  }

  /** A flush the queue delivered: one for a volume deleted (or being deleted) since it was asked for is done. */
  flushQueued(message: FlushMessage): Promise<FlushResult | { readonly skipped: string }> {
    return this.queue.flushQueued(message);
  }

  /** A sweep the queue delivered: one for a volume deleted since it was asked for is done. */
  sweepQueued(message: SweepMessage): Promise<SweepResult> {
    return this.queue.sweepQueued(message);
  }

  /** Queues a flush of the partition (called after writes, every few ops). */
  request(message: FlushMessage): Promise<void> {
    return this.queue.request(message);
  }
}
