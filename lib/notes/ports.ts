/** A head-node replica: one incarnation of a partition's state, with its own log and journal sled. */
export interface ReplicaPlacement {
  /** Unique within the partition for its whole life: a rebuilt replica gets a new id, so a log is never reused. */
  readonly replicaId: string;
  /** Index into the deployment's sled buckets. */
  readonly sled: number;
}

/** Which replica is primary, under which epoch. */
export interface PartitionMeta {
  readonly volumeId: string;
  readonly partition: number;
  readonly epoch: number;
  readonly primary: ReplicaPlacement;
  readonly secondary: ReplicaPlacement;
  /** Generation counter for replica ids. */
  readonly replicaGeneration: number;
  /** Present while the secondary is being rebuilt; writes wait until it is gone. */
  readonly rebuild?: {
    readonly state: 'rebuilding';
    readonly replicaId: string;
    readonly lostReplicaId: string;
    readonly lostSled: number;
    readonly startedAt: string;
  };
  /** How the last rebuild went. */
  readonly lastRebuild?: Readonly<Record<string, unknown>>;
}

/** Volume bytes [offset, offset + length) that a note writes from its payload, from byte `at` of it. */
export interface DataExtent {
  readonly offset: number;
  readonly length: number;
  /** Where the bytes begin within the note's payload (absent: right after the data extents before it). */
  readonly at?: number;
}

/** Volume bytes [offset, offset + length) that a note makes zeros: no payload. */
export interface ZeroExtent {
  readonly offset: number;
  readonly length: number;
  readonly zero: true;
}

/** One extent of a note; a note's extents apply in order, so a later one wins where they overlap. */
export type NoteExtent = DataExtent | ZeroExtent;

/**
 * A committed write: op `op` made note `noteId` visible. Without `extents` the note is one data
 * extent, its payload written at [offset, offset + length) (the format before zero notes and
 * group commit). With `extents`, [offset, offset + length) is their span, the payload (whose
 * SHA-256 is `sha256`) holds the data extents' bytes, and a note of zero extents only has no
 * payload at all: nothing is put in a journal under its id.
 */
export interface WriteEntry {
  readonly kind: 'write';
  readonly op: number;
  readonly epoch: number;
  readonly noteId: string;
  readonly offset: number;
  readonly length: number;
  readonly sha256: string;
  readonly extents?: readonly NoteExtent[];
}

/** A failover: from this op on, the log belongs to `epoch`; writers of older epochs are fenced. */
export interface EpochEntry {
  readonly kind: 'epoch';
  readonly op: number;
  readonly epoch: number;
}

export type LogEntry = WriteEntry | EpochEntry;

/** Identifies one replica's log. */
export interface LogRef {
  readonly volumeId: string;
  readonly partition: number;
  readonly replicaId: string;
}

/** The log of replica `replicaId` of a volume's partition. */
export function logRef(volumeId: string, partition: number, replicaId: string): LogRef {
  return { volumeId, partition, replicaId };
}

/** Partition metadata (DynamoDB). */
export interface PartitionMetaStore {
  get(volumeId: string, partition: number): Promise<PartitionMeta | undefined>;
  /** The metadata of many partitions at once (consistent reads, in batches); those with none are left out. */
  getMany(keys: ReadonlyArray<{ readonly volumeId: string; readonly partition: number }>): Promise<PartitionMeta[]>;
  /** Creates the metadata unless it exists; returns whichever version is stored. */
  createIfAbsent(meta: PartitionMeta): Promise<PartitionMeta>;
  /** Replaces the metadata if its epoch is still `expectedEpoch` (a failover); false otherwise. */
  replace(meta: PartitionMeta, expectedEpoch: number): Promise<boolean>;
  /** Every partition of the volume that has metadata. */
  listPartitions(volumeId: string): Promise<number[]>;
  /** Removes the metadata, the logs of the given replicas and the volume's idempotency records. */
  removePartition(volumeId: string, partition: number, replicaIds: readonly string[]): Promise<void>;
}

/**
 * A head's lease on the primary's log, carried by the op it appended: until `until` (the
 * holder's clock when it sent the append, plus the lease length) nobody else appends after
 * that op, so the holder may read through its own view without asking the log. Writers
 * elsewhere wait it out and break it first; the holder extends it with a conditional update.
 */
export interface HeadLease {
  readonly holder: string;
  readonly until: number;
}

/** A log entry as the log's tail: with the lease it carries, if any. */
export type TailEntry = LogEntry & { readonly lease?: HeadLease };

/** What a reader learns from one query of a replica's log. */
export interface LogChanges {
  /** Entries after the op asked for, in op order. */
  readonly entries: LogEntry[];
  /** The version of the replica's chunk map (absent: none yet). */
  readonly chunkMapVersion: number | undefined;
  /** The replica was lost: its log takes no new ops, and a reader should look up the new primary. */
  readonly retired: boolean;
}

/** The note logs (DynamoDB): op entries, appended with a conditional write. */
/** A writer that waited for another's lease: the holder lets its lease lapse for a while. */
export interface LeaseWanted {
  readonly at: number;
  /** The writer that waits: it does not yield to its own mark. */
  readonly by: string;
}

export interface NoteLogStore {
  /** Appends `entry` at `entry.op` unless that op is taken; returns false if it was. */
  append(log: LogRef, entry: LogEntry, lease?: HeadLease): Promise<boolean>;
  get(log: LogRef, op: number): Promise<LogEntry | undefined>;
  /** The entry with the highest op, if any, with its lease. */
  tail(log: LogRef): Promise<TailEntry | undefined>;
  /** Ends `lease` on op `op`; false if it is no longer exactly that (extended, or ended already). */
  breakLease(log: LogRef, op: number, lease: HeadLease): Promise<boolean>;
  /** Moves the holder's lease on op `op` to `until`; false if it was broken or changed. */
  renewLease(log: LogRef, op: number, lease: HeadLease, until: number): Promise<boolean>;
  /** Records that writer `by` waits for a lease on this log, at `at` (its clock). */
  wantLease(log: LogRef, at: number, by: string): Promise<void>;
  /** When, and by whom, a writer last said it waits for a lease on this log, if ever. */
  leaseWanted(log: LogRef): Promise<LeaseWanted | undefined>;
  /** The entry with the lowest op still kept (the log may have been trimmed), if any. */
  first(log: LogRef): Promise<LogEntry | undefined>;
  /** Entries with afterOp < op <= uptoOp (all after afterOp when uptoOp is absent), in op order. */
  range(log: LogRef, afterOp: number, uptoOp?: number): Promise<LogEntry[]>;
  /** Removes the entries up to `uptoOp` (notes already flushed and checkpointed). */
  trim(log: LogRef, uptoOp: number): Promise<number>;
  /**
   * One query for a reader: the entries after `afterOp`, the chunk map's version and the
   * retired mark, so a reader that already holds the map and the index pays one call.
   */
  changesSince(log: LogRef, afterOp: number): Promise<LogChanges>;
  /** Marks a lost replica's log retired, before any failover, so readers elsewhere reload the metadata. */
  retire(log: LogRef): Promise<void>;
  /** Removes the whole log of a replica (and its chunk map), keeping its retired mark: the replica is lost. */
  drop(log: LogRef): Promise<void>;
}

/** Bytes [start, start + length) of a note's payload. */
export interface NotePart {
  readonly noteId: string;
  readonly start: number;
  readonly length: number;
}

/** One replica's journal: its sled and its log. */
export interface JournalPlace {
  readonly sled: number;
  readonly log: LogRef;
}

/**
 * Note payloads: on the replica's journal sled (S3), or, for a note whose id says so
 * (isTableNote), in the partitions table (DynamoDB) beside the replica's log.
 */
export interface JournalStore {
  put(sled: number, log: LogRef, noteId: string, payload: Buffer, meta: { offset: number; sha256: string }): Promise<void>;
  /**
   * Puts one note in both replicas' journals in one request where the store can (the table: one
   * BatchWriteItem carries both items); true when it did. False (or absent): the caller puts
   * the note in both journals with two puts at once.
   */
  putBoth?(places: readonly [JournalPlace, JournalPlace], noteId: string, payload: Buffer, meta: { offset: number; sha256: string }): Promise<boolean>;
  /** Reads `length` bytes from `start` within the note's payload. */
  read(sled: number, log: LogRef, noteId: string, start: number, length: number): Promise<Buffer>;
  /** Reads many parts of notes of one journal, in as few calls as the store allows; in the order asked. */
  readMany(sled: number, log: LogRef, parts: readonly NotePart[]): Promise<Buffer[]>;
  /** Note ids in a replica's journal. */
  list(sled: number, log: LogRef): Promise<string[]>;
  /** The notes in a replica's journal, with when each was last written (ms since the epoch, by the store's clock). */
  listWithTimes(sled: number, log: LogRef): Promise<Array<{ readonly noteId: string; readonly modifiedAt: number }>>;
  remove(sled: number, log: LogRef, noteIds: readonly string[]): Promise<void>;
  /** Copies notes from one replica's journal to another's: server-side on the sleds, in batches in the table. */
  copyAll(from: { sled: number; log: LogRef }, to: { sled: number; log: LogRef }, noteIds: readonly string[]): Promise<void>;
  /** Server-side copy of a whole note to a chunk object (a note that is exactly one chunk); sled notes only. */
  copyToChunk(from: { sled: number; log: LogRef }, noteId: string, to: { sled: number; key: string }): Promise<void>;
  /** Removes a replica's whole journal. */
  drop(sled: number, log: LogRef): Promise<void>;
}

/** The state of an Idempotency-Key. */
export type IdempotencyRecord =
  | { readonly state: 'claimed' }
  | { readonly state: 'in-progress'; readonly fingerprint: string; readonly claimedAt: number }
  | { readonly state: 'done'; readonly fingerprint: string; readonly result: unknown };

/** Idempotency records of writes (DynamoDB). */
export interface IdempotencyStore {
  /** Claims the key for this request unless a record exists; returns the existing record otherwise. */
  claim(volumeId: string, key: string, fingerprint: string, now: number): Promise<IdempotencyRecord>;
  /** Takes over a claim older than `staleBefore`; false if someone else holds or finished it. */
  takeOver(volumeId: string, key: string, claimedAt: number, now: number): Promise<boolean>;
  complete(volumeId: string, key: string, result: unknown): Promise<void>;
  /** Drops the claim after a failure, so a retry starts afresh. */
  release(volumeId: string, key: string): Promise<void>;
}

/** A flushed or copied chunk of a partition. */
export interface ChunkRef {
  readonly sled: number;
  readonly key: string;
  readonly sha256: string;
}

/**
 * A replica's base: chunk objects that hold every op up to `baseOp`. Reads overlay the notes
 * committed after `baseOp`. It is the partition metadata that flush updates and checkpoints
 * save; each replica keeps its own, so losing a replica loses its copy, rebuilt from a
 * checkpoint. A copy target starts with a base at op 0 and no notes.
 */
export interface ChunkMap {
  readonly volumeId: string;
  readonly partition: number;
  readonly replicaId: string;
  readonly baseOp: number;
  /** Chunk index within the partition → its object; absent chunks are zeros. */
  readonly chunks: Readonly<Record<string, ChunkRef>>;
  readonly version: number;
}

/** Chunk maps (DynamoDB), replaced with a conditional write on `version`. */
export interface ChunkMapStore {
  get(log: LogRef): Promise<ChunkMap | undefined>;
  /** The maps of many logs at once (consistent reads, in batches); logs with none are left out. */
  getMany(logs: readonly LogRef[]): Promise<ChunkMap[]>;
  /** Stores `map` if the stored version is `expectedVersion` (absent: no map yet); false otherwise. */
  put(map: ChunkMap, expectedVersion: number | undefined): Promise<boolean>;
}

/**
 * Where a read fetches a chunk that a copy target's map still borrows from its snapshot:
 * the target's own verified copy once hydration has put it in place, else the snapshot's object
 * (lib/copy-jobs/hydration-reads.ts). Both hold the same bytes, so the answer never depends on
 * which one served it.
 */
export interface BorrowedChunkReads {
  /** Bytes [start, start + length) of the chunk that `ref` (not the volume's own object) names in partition `partition`. */
  read(volumeId: string, partition: number, ref: ChunkRef, start: number, length: number): Promise<Buffer>;
}

/** A brand-new partition's head-node items: its metadata and the first chunk map of each replica. */
export interface NewPartition {
  readonly meta: PartitionMeta;
  readonly chunkMaps: readonly ChunkMap[];
}

/**
 * Writes the head-node items of partitions that nobody else can touch yet (a copy target while
 * its volume is `creating`), many items per request and unconditionally: writing the same
 * items again changes nothing. Every metadata item is written before any chunk map, so a chunk
 * map never exists without the metadata that names its replica (what removing a volume's data
 * goes by).
 */
export interface NewPartitionWriter {
  putNewPartitions(partitions: readonly NewPartition[]): Promise<void>;
}
