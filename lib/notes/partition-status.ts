/** What `GET /volumes/{id}/partitions/{p}` answers: both head-node replicas of a partition. Types only (the console imports them). */

export interface ReplicaStatus {
  readonly role: 'primary' | 'secondary';
  readonly replicaId: string;
  readonly sled: number;
  readonly epoch: number;
  readonly lastCommittedOp: number;
  readonly pendingNotes: readonly string[];
}

export interface PartitionStatus {
  readonly volumeId: string;
  readonly partition: number;
  readonly offset: number;
  readonly sizeBytes: number;
  /** False until the first write places the replicas. */
  readonly initialized: boolean;
  readonly epoch: number;
  readonly primary: ReplicaStatus;
  readonly secondary: ReplicaStatus;
  /** True when both replicas hold the same ops. */
  readonly inSync: boolean;
  /** Ops up to here are in chunk objects (the primary's chunk map). */
  readonly flushedOp: number;
  readonly checkpoint: { readonly op: number; readonly key: string; readonly sha256: string } | null;
  readonly rebuild: { readonly state: 'rebuilding' | 'idle'; readonly replicaId?: string; readonly last?: unknown };
}
