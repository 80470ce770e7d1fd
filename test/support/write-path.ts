import { DynamoDbJournalStore } from '../../lib/aws/dynamodb-journal-store.js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.js';
import { DynamoDbChunkMapStore } from '../../lib/aws/dynamodb-chunk-map-store.js';
import { DynamoDbNoteLogStore } from '../../lib/aws/dynamodb-note-log-store.js';
import { DynamoDbPartitionMetaStore } from '../../lib/aws/dynamodb-partition-meta-store.js';
import type { ServiceConfig } from '../../lib/config.js';
import type { ChunkMap, LogEntry, PartitionMeta } from '../../lib/notes/ports.js';

/** Reads the stored logs of a partition straight from DynamoDB, bypassing every cache. */
export class LogInspector {
  private readonly clients;
  readonly metas;
  readonly logs;
  readonly chunkMaps;
  /** The notes kept in the partitions table (the sled notes are objects: see the chunk and journal stores). */
  readonly tableNotes;

  constructor(private readonly config: ServiceConfig) {
    this.clients = createAwsClients(config);
    this.metas = new DynamoDbPartitionMetaStore(this.clients.documents, config.tables.partitions);
    this.logs = new DynamoDbNoteLogStore(this.clients.documents, config.tables.partitions);
    this.chunkMaps = new DynamoDbChunkMapStore(this.clients.documents, config.tables.partitions);
    this.tableNotes = new DynamoDbJournalStore(this.clients.documents, config.tables.partitions);
  }

  /** The primary's chunk map. */
  async chunkMap(volumeId: string, partition: number): Promise<ChunkMap | undefined> {
    const meta = await this.meta(volumeId, partition);
    return this.chunkMaps.get({ volumeId, partition, replicaId: meta.primary.replicaId });
  }

  async meta(volumeId: string, partition: number): Promise<PartitionMeta> {
    const meta = await this.metas.get(volumeId, partition);
    if (!meta) throw new Error(`partition ${partition} has no metadata`);
    return meta;
  }

  /** Both logs of a partition. */
  async logsOf(volumeId: string, partition: number): Promise<{ meta: PartitionMeta; primary: LogEntry[]; secondary: LogEntry[] }> {
    const meta = await this.meta(volumeId, partition);
    const [primary, secondary] = await Promise.all([
      this.logs.range({ volumeId, partition, replicaId: meta.primary.replicaId }, 0),
      this.logs.range({ volumeId, partition, replicaId: meta.secondary.replicaId }, 0),
    ]);
    return { meta, primary, secondary };
  }

  /** Asserts ops 1..n are dense on both replicas and identical, and returns n. */
  async expectReplicasIdentical(volumeId: string, partition: number): Promise<number> {
    const { primary, secondary } = await this.logsOf(volumeId, partition);
    expect(primary.map((entry) => entry.op)).toEqual(primary.map((_, i) => i + 1));
    expect(secondary).toEqual(primary);
    return primary.length;
  }

  /** Every chunk object of the volume on the sleds, sorted. */
  async storedChunkKeys(volumeId: string): Promise<string[]> {
    const keys: string[] = [];
    for (const bucket of this.config.sledBuckets) {
      const listed = await this.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `volumes/${volumeId}/chunks/` }));
      keys.push(...(listed.Contents ?? []).map((object) => object.Key ?? ''));
    }
    return keys.sort();
  }

  /** The chunk keys the partition's two chunk maps name, sorted. */
  async namedChunkKeys(volumeId: string, partition: number): Promise<string[]> {
    const meta = await this.meta(volumeId, partition);
    const keys = new Set<string>();
    for (const role of ['primary', 'secondary'] as const) {
      const map = await this.chunkMaps.get({ volumeId, partition, replicaId: meta[role].replicaId });
      for (const ref of Object.values(map?.chunks ?? {})) keys.add(ref.key);
    }
    return [...keys].sort();
  }

  close(): void {
    this.clients.destroy();
  }
}

/** A recognisable payload: every 4 KiB block starts with its tag, the rest is seeded noise. */
export function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    buffer.writeUInt32LE(state >>> 0, i);
  }
  for (let block = 0; block < length; block += 4096) buffer.writeUInt32BE(seed, block);
  return buffer;
}
