import { prng } from '../history/index.js';

/**
 * A torture schedule, derived from its seed alone: the volume's shape, every client's op
 * sequence and the faults with the point (in ops invoked) where each is injected. Timing is
 * not part of it: the same seed replays the same ops and faults, not the same interleaving.
 */

export const KIB = 1024;
export const BLOCK = 4 * KIB;

/** The flush failpoint's steps (lib/faults.ts), in protocol order. */
export const FLUSH_STEPS = ['chunks-written', 'primary-map-updated', 'secondary-map-updated', 'checkpointed'] as const;
/** The rebuild failpoint's steps (lib/faults.ts), in protocol order. */
export const REBUILD_STEPS = ['fenced', 'promoted', 'base-restored', 'notes-copied', 'ops-copied', 'dropped'] as const;

/** The write failpoint's steps (lib/faults.ts), in protocol order. */
export const WRITE_STEPS = ['after-payload', 'after-pending-note', 'after-primary-commit', 'after-secondary-commit'] as const;

export const FAULT_KINDS = ['lose-primary', 'lose-secondary', 'flush-crash', 'duplicate-flush', 'lease-stall', 'rebuild-interrupted', 'write-crash'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** How a client reaches the volume: the serving process's HTTP API or NBD server, or a second head process's services. */
export type Transport = 'http' | 'nbd' | 'process-b';

export interface PlannedOp {
  readonly kind: 'write' | 'zero' | 'read';
  readonly offset: number;
  readonly length: number;
}

export interface ClientPlan {
  readonly id: number;
  readonly transport: Transport;
  /**
   * Sends every write with an Idempotency-Key and retries it under the same key while its
   * outcome is unknown (one HTTP client and process B's; NBD has no keys).
   */
  readonly keyed: boolean;
  readonly ops: readonly PlannedOp[];
}

export interface PlannedFault {
  readonly kind: FaultKind;
  /** Injected once this many client ops have been invoked. */
  readonly atOp: number;
  readonly partition: number;
  /** flush-crash, rebuild-interrupted and write-crash: the failpoint step that crashes. */
  readonly step?: string;
  /** rebuild-interrupted: which replica is lost. */
  readonly replica?: 'primary' | 'secondary';
  /** Who asks for a loss: the HTTP API of the serving process, or process B's services. */
  readonly via: 'http' | 'process-b';
  /** write-crash: the crashed write spans into the next partition (whose part may commit). */
  readonly spans?: boolean;
}

export interface Geometry {
  readonly chunkSizeBytes: number;
  readonly partitionChunks: number;
  readonly partitions: number;
  readonly sizeBytes: number;
}

export interface SchedulePlan {
  readonly seed: number;
  readonly geometry: Geometry;
  /** Process B's clock skew in ms, within the 100 ms margin the lease protocol assumes. */
  readonly clockSkewMs: number;
  readonly clients: readonly ClientPlan[];
  readonly faults: readonly PlannedFault[];
}

export interface PlanOptions {
  /** Client ops in all (default 200). */
  readonly ops?: number;
  /** Faults (default: 3 to 5, drawn from the seed). */
  readonly faults?: number;
  /** Clients (default 5: two HTTP, two NBD, one in process B). */
  readonly clients?: number;
}

/** Derives the whole schedule from `seed`. */
export function planSchedule(seed: number, options: PlanOptions = {}): SchedulePlan {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chunkSizeBytes = 64 * KIB;
  const partitionChunks = pick([1, 2]);
  const partitions = 4 + int(5); // 4..8
  const partitionBytes = chunkSizeBytes * partitionChunks;
  const sizeBytes = partitions * partitionBytes;
  const blocks = sizeBytes / BLOCK;
  const totalOps = options.ops ?? 200;
  const clientCount = options.clients ?? 5;
  const transports: Transport[] = ['http', 'nbd', 'process-b', 'http', 'nbd'];
  const clients: ClientPlan[] = [];
  for (let c = 0; c < clientCount; c++) {
    const transport = transports[c % transports.length] as Transport;
    const ops: PlannedOp[] = [];
    const count = Math.floor(totalOps / clientCount) + (c < totalOps % clientCount ? 1 : 0);
    for (let i = 0; i < count; i++) {
      const length = (1 + (random() < 0.7 ? int(4) : int(16))) * BLOCK;
      // One op in five straddles a partition boundary.
      let first: number;
      if (random() < 0.2 && partitions > 1) {
        const boundary = (1 + int(partitions - 1)) * (partitionBytes / BLOCK);
        first = boundary - 1 - int(length / BLOCK - 1 || 1);
      } else first = int(blocks - length / BLOCK + 1);
      first = Math.max(0, Math.min(first, blocks - length / BLOCK));
      const roll = random();
      // Zero writes only over NBD (WRITE_ZEROES): the HTTP API and the services have none.
      const kind = roll < 0.45 ? 'read' : roll < 0.55 && transport === 'nbd' ? 'zero' : 'write';
      ops.push({ kind, offset: first * BLOCK, length });
    }
    clients.push({ id: c + 1, transport, keyed: transport === 'process-b' || (transport === 'http' && c === 0), ops });
  }
  const faultCount = options.faults ?? 3 + int(3);
  const faults: PlannedFault[] = [];
  for (let f = 0; f < faultCount; f++) {
    const kind = pick(FAULT_KINDS);
    // Spread over the middle of the run: after every partition was written, before the end.
    const atOp = Math.floor(totalOps * (0.1 + (0.75 * (f + random())) / faultCount));
    const partition = int(partitions);
    const via = random() < 0.5 ? 'http' : 'process-b';
    const fault: PlannedFault =
      kind === 'flush-crash'
        ? { kind, atOp, partition, via, step: pick(FLUSH_STEPS) }
        : kind === 'rebuild-interrupted'
          ? { kind, atOp, partition, via, step: pick(REBUILD_STEPS), replica: pick(['primary', 'secondary'] as const) }
          : kind === 'write-crash'
            ? { kind, atOp, partition, via, step: pick(WRITE_STEPS), spans: partition + 1 < partitions && random() < 0.5 }
            : { kind, atOp, partition, via };
    faults.push(fault);
  }
  const clockSkewMs = int(161) - 80;
  return { seed, geometry: { chunkSizeBytes, partitionChunks, partitions, sizeBytes }, clockSkewMs, clients, faults };
}

/** One line per fault, for the report. */
export function describeFault(f: PlannedFault): string {
  return `${f.kind}${f.step ? `@${f.step}` : ''}${f.replica ? `(${f.replica})` : ''}${f.spans ? ' spanning' : ''} p${f.partition} via ${f.via} at op ${f.atOp}`;
}
