/**
 * The port through which the domain reports what it did, for metrics and logs. Services take a
 * Telemetry and call it at their boundaries; they never see Powertools or the Prometheus
 * registry behind it (lib/observability/emf-telemetry.ts, prometheus-telemetry.ts).
 */

/** One op committed on both replicas of a partition. */
export interface WriteCommitted {
  readonly volumeId: string;
  readonly partition: number;
  readonly op: number;
  /** From the request's arrival to this op committed on both replicas. */
  readonly latencyMs: number;
  /** Writes grouped into this one note and op (1 until the head groups commits). */
  readonly groupSize: number;
  readonly bytes: number;
  /**
   * False for a write that rode in a group another write's commit led: every write reports its
   * own latency and bytes, but WriteOps and GroupSize count each op once. Default true.
   */
  readonly leadsOp?: boolean;
}

/** One read answered. */
export interface ReadServed {
  readonly volumeId: string;
  /** The first partition the read touched (a read may span several). */
  readonly partition: number;
  readonly partitions: number;
  readonly latencyMs: number;
  readonly bytes: number;
}

/** A partition's committed ops not yet on its sleds, seen at a flush. */
export interface FlushLag {
  readonly volumeId: string;
  readonly partition: number;
  readonly committedOp: number;
  readonly flushedOp: number;
}

/** A lost replica rebuilt (or an interrupted rebuild finished). */
export interface RebuildFinished {
  readonly volumeId: string;
  readonly partition: number;
  readonly millis: number;
  readonly source: string;
  readonly opsCopied: number;
}

/** One batch of a copy job's partition copies done. */
export interface CopyProgress {
  readonly jobId: string;
  readonly round: number;
  readonly batch: number;
  readonly bytes: number;
  readonly millis: number;
}

/** A chunk a hydrating copy target still borrows, read from its own copy (in place and verified) or from the snapshot. */
export interface HydrationRead {
  readonly source: 'own' | 'snapshot';
  readonly bytes: number;
}

/** A volume deleted: its objects and items are gone, so are the series that name it. */
export interface VolumeDeleted {
  readonly volumeId: string;
}

/** What the domain reports. Every method is cheap and never throws into the caller's path. */
export interface Telemetry {
  writeCommitted(event: WriteCommitted): void;
  readServed(event: ReadServed): void;
  flushLag(event: FlushLag): void;
  rebuildFinished(event: RebuildFinished): void;
  copyProgress(event: CopyProgress): void;
  hydrationRead(event: HydrationRead): void;
  volumeDeleted(event: VolumeDeleted): void;
  /** Sends what is buffered (EMF: once per Lambda invocation); a no-op where nothing is buffered. */
  flush(): void;
}

/** Reports nothing: the default of services built without telemetry (unit tests). */
export const noTelemetry: Telemetry = Object.freeze({
  writeCommitted: () => undefined,
  readServed: () => undefined,
  flushLag: () => undefined,
  rebuildFinished: () => undefined,
  copyProgress: () => undefined,
  hydrationRead: () => undefined,
  volumeDeleted: () => undefined,
  flush: () => undefined,
});

/** Bytes per second of `bytes` moved in `millis` (0 when no time was measured). */
export function bytesPerSecond(bytes: number, millis: number): number {
  return millis > 0 ? (bytes * 1000) / millis : 0;
}

/** Reports each event to every sink; a sink that throws does not stop the others or the caller. */
export function fanOut(...sinks: Telemetry[]): Telemetry {
  const each =
    <K extends keyof Telemetry>(method: K) =>
    (...args: Parameters<Telemetry[K]>): void => {
      for (const sink of sinks) {
        try {
          (sink[method] as (...a: Parameters<Telemetry[K]>) => void)(...args);
        } catch {
          // Telemetry must never fail a write or a read.
        }
      }
    };
  return Object.freeze({
    writeCommitted: each('writeCommitted'),
    readServed: each('readServed'),
    flushLag: each('flushLag'),
    rebuildFinished: each('rebuildFinished'),
    copyProgress: each('copyProgress'),
    hydrationRead: each('hydrationRead'),
    volumeDeleted: each('volumeDeleted'),
    flush: each('flush'),
  });
}
