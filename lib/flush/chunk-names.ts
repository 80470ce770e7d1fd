import type { CheckpointRecord, CheckpointStore } from '../checkpoints/checkpoint.js';
import type { ChunkMap, ChunkMapStore, ChunkRef, PartitionMeta } from '../notes/ports.js';
import { replicaLog } from './flush-origin.js';
import { ROLES } from './ports.js';

/** Something that names chunk versions: a chunk map, or a checkpoint's contents. */
type Namer = { readonly chunks: Readonly<Record<string, ChunkRef>> } | undefined;

/** Every chunk key these maps or checkpoints name. */
export function namedKeys(namers: readonly Namer[]): Set<string> {
  return new Set(namers.flatMap((namer) => Object.values(namer?.chunks ?? {}).map((ref) => ref.key)));
}

/**
 * What names a partition's chunk versions: both replicas' maps and the retained checkpoints.
 * Garbage collection and the sweep both delete only what none of them names, so they ask here.
 */
export class ChunkNames {
  constructor(private readonly deps: { readonly chunkMaps: ChunkMapStore; readonly checkpoints: CheckpointStore }) {}

  /** Both replicas' chunk maps, primary first. */
  chunkMapsOf(meta: PartitionMeta): Promise<Array<ChunkMap | undefined>> {
    return Promise.all(ROLES.map((role) => this.deps.chunkMaps.get(replicaLog(meta, role))));
  }

  /** The checkpoints' contents, one after another; undefined for one that cannot be read. */
  async readCheckpoints(records: readonly CheckpointRecord[]): Promise<Namer[]> {
    const checkpoints: Namer[] = [];
    for (const record of records) checkpoints.push(await this.deps.checkpoints.read(record).catch(() => undefined));
    return checkpoints;
  }

  /** The chunk keys both maps and every checkpoint name; undefined when a checkpoint cannot be read (then no key is known to be free). */
  async namedChunks(meta: PartitionMeta): Promise<Set<string> | undefined> {
    const [maps, records] = await Promise.all([this.chunkMapsOf(meta), this.deps.checkpoints.list(meta.volumeId, meta.partition)]);
    const checkpoints = await this.readCheckpoints(records);
    return checkpoints.includes(undefined) ? undefined : namedKeys([...maps, ...checkpoints]);
  }
}
