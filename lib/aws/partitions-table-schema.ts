import type { CheckpointRecord } from '../checkpoints/checkpoint.js';
import type { ChunkMap, HeadLease, LogEntry, LogRef, NoteExtent, PartitionMeta } from '../notes/ports.js';
import { TABLES } from '../resources.js';

/**
 * The partitions table's one schema: every key format and item shape the adapters write
 * (partition metadata, log ops, chunk maps, table notes, checkpoint records, idempotency
 * records). Items of one partition share `${volumeId}#${partition}`; items of one replica's
 * log share `${volumeId}#${partition}#${replicaId}`, and sort as
 *
 *   note#<noteId>   < op#<000000000001> ... < op~chunks < op~retired < op~wanted  (< op~~)
 *
 * so the log's queries never read the notes ('n' < 'o'), and one query from a reader's last
 * op returns the new entries, the chunk map's version and the retired mark ('~' > '#').
 */

/** A partitions-table key. */
export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

/** Op numbers are zero-padded to this many digits, so that they sort as strings. */
export const OP_DIGITS = 12;
/** The largest op number a key can hold. */
export const MAX_OP = 10 ** OP_DIGITS - 1;

/** Sort key of a partition's metadata. */
export const META_SK = 'meta';
/** Sort-key prefix of a log's ops. */
export const OP_PREFIX = 'op#';
/** Sort key of a replica's chunk map (after every op of its log). */
export const CHUNKS_SK = 'op~chunks';
/** Sort key of a retired log's mark. */
export const RETIRED_SK = 'op~retired';
/** Sort key of a "lease wanted" request on a log. */
export const LEASE_WANTED_SK = 'op~wanted';
/** A sort key after everything a log's changes query returns. */
export const AFTER_LOG_SK = 'op~~';
/** Sort-key prefix of the notes kept in the table, beside their replica's log. */
export const NOTE_PREFIX = 'note#';
/** Sort-key prefix of checkpoint records, beside the partition metadata. */
export const CHECKPOINT_PREFIX = 'ckpt#';
/** Sort key of an Idempotency-Key record. */
export const IDEMPOTENCY_SK = 'idem';
/** The index on `volumeId` that finds every item of a volume that carries it. */
export const BY_VOLUME_INDEX = TABLES.partitions.indexes[0].name;

const padOp = (op: number) => String(op).padStart(OP_DIGITS, '0');

/** Partition key of a partition's metadata and checkpoint records. */
export const partitionPk = (volumeId: string, partition: number) => `${volumeId}#${partition}`;
/** The partition number in a partition key or a log's partition key. */
export const partitionOfPk = (pk: string) => Number(pk.split('#')[1]);
/** Partition key of a replica's log, its chunk map and its table notes. */
export const logPk = (log: LogRef) => `${log.volumeId}#${log.partition}#${log.replicaId}`;
/** Sort key of op `op` of a log. */
export const opSk = (op: number) => `${OP_PREFIX}${padOp(op)}`;
/** Sort key of a table note. */
export const noteSk = (noteId: string) => `${NOTE_PREFIX}${noteId}`;
/** The note id in a table note's sort key. */
export const noteIdOfSk = (sk: string) => sk.slice(NOTE_PREFIX.length);
/** Sort key of the checkpoint record at `op`. */
export const checkpointSk = (op: number) => `${CHECKPOINT_PREFIX}${padOp(op)}`;

/** Key of a partition's metadata. */
export const metaKey = (volumeId: string, partition: number): TableKey => ({ pk: partitionPk(volumeId, partition), sk: META_SK });
/** Key of op `op` of a log. */
export const opKey = (log: LogRef, op: number): TableKey => ({ pk: logPk(log), sk: opSk(op) });
/** Key of a replica's chunk map. */
export const chunkMapKey = (log: LogRef): TableKey => ({ pk: logPk(log), sk: CHUNKS_SK });
/** Key of a log's retired mark. */
export const retiredKey = (log: LogRef): TableKey => ({ pk: logPk(log), sk: RETIRED_SK });
/** Key of a log's "lease wanted" request. */
export const leaseWantedKey = (log: LogRef): TableKey => ({ pk: logPk(log), sk: LEASE_WANTED_SK });
/** Key of a table note. */
export const noteKey = (log: LogRef, noteId: string): TableKey => ({ pk: logPk(log), sk: noteSk(noteId) });
/** Key of the checkpoint record of a partition at `op`. */
export const checkpointKey = (volumeId: string, partition: number, op: number): TableKey => ({
  pk: partitionPk(volumeId, partition),
  sk: checkpointSk(op),
});
/** Key of an Idempotency-Key record; the records belong to the volume, not a partition. */
export const idempotencyKey = (volumeId: string, key: string): TableKey => ({ pk: `${volumeId}#idem#${key}`, sk: IDEMPOTENCY_SK });

/** A partition's metadata item. */
export const metaItem = (meta: PartitionMeta) => ({ ...metaKey(meta.volumeId, meta.partition), ...meta });
/** A log op's item, with the head lease the writer holds, if any. */
export const logEntryItem = (log: LogRef, entry: LogEntry, lease?: HeadLease) => ({
  ...opKey(log, entry.op),
  ...entry,
  ...(lease ? { leaseHolder: lease.holder, leaseUntil: lease.until } : {}),
});
/** A replica's chunk-map item. */
export const chunkMapItem = (map: ChunkMap) => ({ ...chunkMapKey(map), ...map });
/** A "lease wanted" item: who wants the log's head lease, since when. */
export const leaseWantedItem = (log: LogRef, at: number, by: string) => ({ ...leaseWantedKey(log), at, by });
/**
 * A table note's item. The log entry holds the note's offset and SHA-256; `at` dates it for
 * the sweep's grace.
 */
export const noteItem = (log: LogRef, noteId: string, payload: Buffer, at: number) => ({ ...noteKey(log, noteId), payload, at });
/** A checkpoint record's item. */
export const checkpointItem = (record: CheckpointRecord) => ({ ...checkpointKey(record.volumeId, record.partition, record.op), ...record });
/** A claimed (in-progress) Idempotency-Key record; it carries volumeId so a volume's delete finds it. */
export const idempotencyClaimItem = (volumeId: string, key: string, fingerprint: string, claimedAt: number) => ({
  ...idempotencyKey(volumeId, key),
  volumeId,
  state: 'in-progress' as const,
  fingerprint,
  claimedAt,
});

/** The log entry an op item holds. */
export function logEntryOf(item: Record<string, unknown>): LogEntry {
  if (item.kind === 'epoch') return { kind: 'epoch', op: item.op as number, epoch: item.epoch as number };
  return {
    kind: 'write',
    op: item.op as number,
    epoch: item.epoch as number,
    noteId: item.noteId as string,
    offset: item.offset as number,
    length: item.length as number,
    sha256: item.sha256 as string,
    // Entries from before zero notes and group commit have no extents: one data extent.
    ...(Array.isArray(item.extents) ? { extents: item.extents as NoteExtent[] } : {}),
  };
}

/** The partition metadata a metadata item holds. */
export function partitionMetaOf(item: Record<string, unknown>): PartitionMeta {
  return {
    volumeId: item.volumeId as string,
    partition: item.partition as number,
    epoch: item.epoch as number,
    primary: item.primary as PartitionMeta['primary'],
    secondary: item.secondary as PartitionMeta['secondary'],
    replicaGeneration: item.replicaGeneration as number,
    ...(item.rebuild ? { rebuild: item.rebuild as PartitionMeta['rebuild'] } : {}),
    ...(item.lastRebuild ? { lastRebuild: item.lastRebuild as PartitionMeta['lastRebuild'] } : {}),
  };
}

/** The chunk map a chunk-map item holds. */
export function chunkMapOf(item: Record<string, unknown>): ChunkMap {
  return {
    volumeId: item.volumeId as string,
    partition: item.partition as number,
    replicaId: item.replicaId as string,
    baseOp: item.baseOp as number,
    chunks: (item.chunks ?? {}) as ChunkMap['chunks'],
    version: item.version as number,
  };
}

/** The checkpoint record a checkpoint item holds. */
export function checkpointRecordOf(item: Record<string, unknown>): CheckpointRecord {
  const { pk: _pk, sk: _sk, ...record } = item;
  void _pk;
  void _sk;
  return record as unknown as CheckpointRecord;
}
