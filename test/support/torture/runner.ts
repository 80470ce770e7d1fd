import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { MIN_HEAD_LEASE_MS } from '../../../lib/config.js';
import { armFailpoint, FAILPOINTS } from '../../../lib/faults.js';
import { startLocalCloud, type LocalCloud } from '../../../lib/local/local-cloud.js';
import { ValidationError } from '../../../lib/errors.js';
import { createServices, processServices } from '../../../lib/wiring.js';
import { checkHistory, formatReport, HistoryRecorder, taggedPayload, type CheckResult } from '../history/index.js';
import { httpClient, nbdClient, servicesClient, writeWithRetries, type Outcome, type VolumeClient } from './clients.js';
import { LogInspector } from '../write-path.js';
import { IoGate } from './io-gate.js';
import { crashAWrite } from './write-crash.js';
import { BLOCK, describeFault, planSchedule, type PlanOptions, type PlannedFault, type PlannedOp, type SchedulePlan } from './schedule.js';

/**
 * The torture runner: one schedule (planSchedule) against an embedded cloud. Process A is the
 * cloud's own services (HTTP, NBD, the flush poller); process B is a second set of services on
 * the same emulators with its own clock (skewed within the lease margin) and an I/O gate that
 * stalls it. Clients run their planned ops concurrently while a driver injects the planned
 * faults; at the end a fresh process reads every block, and the history is checked.
 */

export interface ScheduleOptions extends PlanOptions {
  /** Reuse this cloud (a fresh volume per schedule) instead of starting one. */
  readonly cloud?: LocalCloud;
  /** Per-op timeout of the HTTP and NBD clients (default 45 s: longer than a rebuild's 30 s write wait). */
  readonly opTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface FaultRecord {
  readonly fault: string;
  readonly outcome: string;
  readonly ms: number;
}

export interface ScheduleResult {
  readonly seed: number;
  readonly plan: SchedulePlan;
  readonly result: CheckResult;
  readonly report: string;
  readonly faults: readonly FaultRecord[];
  /** Ops recorded, by outcome. */
  readonly counts: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Attempts keyed clients sent again under the same Idempotency-Key (beyond each write's first). */
  readonly retries: number;
  /** Ops and the milliseconds spent waiting for them, by transport ('fault': the faults' own ops; 'final': the last read). */
  readonly timeSpent: Readonly<Record<string, { readonly ops: number; readonly ms: number }>>;
  readonly ms: number;
}

/** The options a torture cloud starts with: short leases, frequent flushes and checkpoints. */
export const TORTURE_CLOUD = { port: 0, nbdPort: 0, sledCount: 4, headLeaseMs: MIN_HEAD_LEASE_MS, flushEveryOps: 8, checkpointEveryOps: 2, retryIntervalMs: 0 } as const;

class Crash extends Error {
  override readonly name = 'Crash';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the partitions of the violating blocks hold, and what each op involved was answered. */
async function diagnose(cloud: LocalCloud, volumeId: string, partitionBytes: number, result: CheckResult, details: ReadonlyMap<number, string>): Promise<string> {
  const inspector = new LogInspector(cloud.config);
  const lines: string[] = ['diagnosis:'];
  try {
    const partitions = new Set(result.violations.map((v) => Math.floor((v.block * BLOCK) / partitionBytes)));
    for (const p of partitions) {
      const { meta, primary, secondary } = await inspector.logsOf(volumeId, p);
      lines.push(`  partition ${p}: epoch ${meta.epoch}, primary ${meta.primary.replicaId}, secondary ${meta.secondary.replicaId}`);
      for (const [role, log] of [['primary', primary], ['secondary', secondary]] as const) {
        const map = await inspector.chunkMaps.get({ volumeId, partition: p, replicaId: meta[role].replicaId });
        lines.push(`    ${role} map: base ${map?.baseOp ?? '-'} v${map?.version ?? '-'}; ops ${log.map((e: any) => `${e.op}${e.kind === 'epoch' ? `E${e.epoch}` : `[${(e.offset - p * partitionBytes) / BLOCK}+${e.length / BLOCK}]`}`).join(' ')}`);
      }
    }
    const ids = new Set(result.violations.flatMap((v) => [v.blocked, ...v.prefix, ...v.concurrent].map((o) => o.op.id)));
    for (const id of [...ids].sort((x, y) => x - y)) lines.push(`  op ${id}: ${details.get(id) ?? '?'}`);
  } finally {
    inspector.close();
  }
  return lines.join('\n');
}

/** Runs one schedule and checks its history. */
export async function runSchedule(seed: number, options: ScheduleOptions = {}): Promise<ScheduleResult> {
  const started = performance.now();
  const plan = planSchedule(seed, options);
  const log = options.log ?? (() => {});
  const ownCloud = options.cloud === undefined;
  const cloud = options.cloud ?? (await startLocalCloud(TORTURE_CLOUD));
  const timeoutMs = options.opTimeoutMs ?? 45_000;
  const a = processServices();
  const b = createServices(cloud.config, { clock: () => Date.now() + plan.clockSkewMs });
  const gate = new IoGate(b.clients);
  const recorder = new HistoryRecorder();
  const counts = { ok: 0, fail: 0, info: 0 };
  const faults: FaultRecord[] = [];
  const clients: VolumeClient[] = [];
  let invoked = 0;
  let retried = 0;
  /** Where the time goes: op time by transport (and the faults' own ops), to find what dominates a run. */
  const timeSpent: Record<string, { ops: number; ms: number }> = {};
  const transportOf = new Map<VolumeClient, string>();
  const details = new Map<number, string>();
  let final: VolumeClient | undefined;
  try {
    const { geometry } = plan;
    const volume = await a.volumes.create({ sizeBytes: geometry.sizeBytes, chunkSizeBytes: geometry.chunkSizeBytes, partitionChunks: geometry.partitionChunks });
    const volumeId = volume.volumeId;
    const partitionBytes = geometry.chunkSizeBytes * geometry.partitionChunks;
    const nbdPort = Number(new URL(cloud.nbdUrl ?? 'nbd://127.0.0.1:0').port);
    const seqs = new Map<number, number>();

    /** Records one op of `client` and runs it. */
    const perform = async (client: number, via: VolumeClient, op: PlannedOp, keyed = false): Promise<Outcome> => {
      const seq = (seqs.get(client) ?? 0) + 1;
      seqs.set(client, seq);
      let id: number;
      let run: Promise<Outcome>;
      if (op.kind === 'write') {
        const { buf, values } = taggedPayload(client, seq, op.offset, op.length);
        id = recorder.invoke(client, { kind: 'write', offset: op.offset, length: op.length, values });
        // A keyed client's write is one op however many attempts it takes (see writeWithRetries).
        const key = `t${seed}-c${client}-s${seq}`;
        run = keyed ? writeWithRetries(() => via.write(op.offset, buf, key)).then((outcome) => (outcome.attempts > 1 && (retried += outcome.attempts - 1), outcome)) : via.write(op.offset, buf);
      } else if (op.kind === 'zero' && via.zero) {
        id = recorder.invoke(client, { kind: 'zero', offset: op.offset, length: op.length });
        run = via.zero(op.offset, op.length);
      } else {
        id = recorder.invoke(client, { kind: 'read', offset: op.offset, length: op.length });
        run = via.read(op.offset, op.length);
      }
      invoked++;
      const t0 = performance.now();
      const outcome = await run;
      const spent = (timeSpent[via === final ? 'final' : (transportOf.get(via) ?? 'fault')] ??= { ops: 0, ms: 0 });
      spent.ops++;
      spent.ms += performance.now() - t0;
      if (outcome.status === 'ok') {
        if (op.kind === 'read' || (op.kind === 'zero' && !via.zero)) recorder.ok(id, outcome.data);
        else recorder.ok(id);
      } else if (outcome.status === 'fail') recorder.fail(id);
      else recorder.info(id);
      counts[outcome.status]++;
      details.set(id, `${op.kind} via ${via === final ? 'final' : 'client'}: ${outcome.status} ${outcome.status === 'ok' ? (outcome.detail ?? '') : outcome.why}`);
      if (outcome.status !== 'ok') log(`  client ${client} ${op.kind} ${op.offset}+${op.length}: ${outcome.status} (${outcome.why})`);
      return outcome;
    };

    const viaOf = (transport: string): VolumeClient => {
      const client = transport === 'http' ? httpClient(cloud.apiUrl, volumeId, timeoutMs) : transport === 'nbd' ? nbdClient(nbdPort, volumeId, timeoutMs) : servicesClient(b, volumeId);
      clients.push(client);
      transportOf.set(client, transport);
      return client;
    };

    // Every partition written once first, so that each has replicas to lose and logs to flush.
    const setup = viaOf('http');
    for (let p = 0; p < geometry.partitions; p++) await perform(100, setup, { kind: 'write', offset: p * partitionBytes, length: BLOCK });

    let clientsDone = false;
    const driver = (async () => {
      for (const fault of plan.faults) {
        while (!clientsDone && invoked < fault.atOp) await sleep(5);
        const t0 = performance.now();
        let outcome: string;
        try {
          outcome = await inject(fault);
        } catch (error) {
          outcome = `error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
        }
        const record = { fault: describeFault(fault), outcome, ms: Math.round(performance.now() - t0) };
        faults.push(record);
        log(`  fault ${record.fault}: ${record.outcome} (${record.ms} ms)`);
      }
    })();

    const post = async (path: string, body?: unknown) => {
      const response = await fetch(`${cloud.apiUrl}/volumes/${volumeId}${path}`, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
      const text = await response.text();
      if (response.status >= 300) throw new Error(`POST ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
      return text;
    };
    const lose = (fault: PlannedFault, replica: 'primary' | 'secondary') =>
      fault.via === 'http' ? post(`/partitions/${fault.partition}/failures`, { replica }) : b.rebuild.loseReplica(volumeId, fault.partition, replica);
    const onlyThis = (fault: PlannedFault, step: string) => (context: Readonly<Record<string, unknown>>) => context.volumeId === volumeId && context.partition === fault.partition && context.step === step;

    async function inject(fault: PlannedFault): Promise<string> {
      const p = fault.partition;
      switch (fault.kind) {
        case 'lose-primary':
        case 'lose-secondary':
          await lose(fault, fault.kind === 'lose-primary' ? 'primary' : 'secondary');
          return 'lost and rebuilt';
        case 'flush-crash': {
          const step = fault.step as string;
          const matches = onlyThis(fault, step);
          let crashed = false;
          const disarm = armFailpoint(FAILPOINTS.flush, (context) => {
            if (!crashed && matches(context)) {
              crashed = true;
              throw new Crash(`flush crash at ${step}`);
            }
          });
          let first: string;
          try {
            first = await post(`/partitions/${p}/checkpoints`).then(() => 'flushed', (error: unknown) => String(error).slice(0, 80));
          } finally {
            disarm();
          }
          // The next flush finishes what the crashed one left.
          await post(`/partitions/${p}/checkpoints`);
          return `${crashed ? 'crashed' : 'step not reached'} (${first}); flushed again`;
        }
        case 'duplicate-flush': {
          const status = await a.data.partitionStatus(volumeId, p);
          const body = JSON.stringify({ volumeId, partition: p, uptoOp: status.primary.lastCommittedOp });
          for (let i = 0; i < 2; i++) await a.clients.sqs.send(new SendMessageCommand({ QueueUrl: cloud.config.queues.flush, MessageBody: body }));
          return `queued twice up to op ${status.primary.lastCommittedOp}`;
        }
        case 'lease-stall': {
          // B takes the partition's lease (writes that follow its own ops), builds its view,
          // then stalls past its lease while A writes; B's reads during and after must follow.
          const client = 200 + faults.length;
          const viaB = servicesClient(b, volumeId);
          const viaA = servicesClient(a, volumeId);
          const at = p * partitionBytes;
          const span = Math.min(partitionBytes, 4 * BLOCK);
          for (let i = 0; i < 2; i++) await perform(client, viaB, { kind: 'write', offset: at + i * BLOCK, length: BLOCK });
          await perform(client, viaB, { kind: 'read', offset: at, length: span });
          gate.close();
          const stalledRead = perform(client, viaB, { kind: 'read', offset: at, length: span });
          const aWrites = (async () => {
            for (let i = 0; i < 2; i++) await perform(client + 50, viaA, { kind: 'write', offset: at + i * BLOCK, length: 2 * BLOCK });
          })();
          await sleep(3 * TORTURE_CLOUD.headLeaseMs);
          gate.open();
          await Promise.all([stalledRead, aWrites]);
          await perform(client, viaB, { kind: 'read', offset: at, length: span });
          return 'stalled B past its lease while A wrote';
        }
        case 'rebuild-interrupted': {
          const step = fault.step as string;
          const replica = fault.replica ?? 'secondary';
          const matches = onlyThis(fault, step);
          let crashed = false;
          const disarm = armFailpoint(FAILPOINTS.rebuild, (context) => {
            if (!crashed && matches(context)) {
              crashed = true;
              throw new Crash(`rebuild crash at ${step}`);
            }
          });
          let first: string;
          try {
            first = await Promise.resolve(lose(fault, replica)).then(() => 'rebuilt', (error: unknown) => String(error).slice(0, 80));
          } finally {
            disarm();
          }
          if (!crashed) return `step not reached (${first})`;
          // Resume: finish the rebuild; if the crash came before the metadata changed, repeat the loss.
          try {
            if (fault.via === 'http') await post(`/partitions/${p}/rebuild`);
            else await b.rebuild.rebuild(volumeId, p);
            return `crashed at ${step}; rebuild finished`;
          } catch (error) {
            const notRebuilding = error instanceof ValidationError || (error instanceof Error && /HTTP 400/.test(error.message));
            if (!notRebuilding) throw error;
            await lose(fault, replica);
            return `crashed at ${step}; loss repeated`;
          }
        }
        case 'write-crash':
          return crashAWrite({ config: cloud.config, volumeId, partitionBytes, fault, client: 300 + faults.length, key: `t${seed}-crash${faults.length}`, recorder });
      }
    }

    await Promise.all(
      plan.clients.map(async (client) => {
        const via = viaOf(client.transport);
        for (const op of client.ops) await perform(client.id, via, op, client.keyed);
      }),
    );
    clientsDone = true;
    await driver;
    // No rebuild may be left half done: finish any (a fault that failed midway).
    for (let p = 0; p < geometry.partitions; p++) {
      const status = await a.data.partitionStatus(volumeId, p);
      if (status.rebuild.state === 'rebuilding') await a.rebuild.rebuild(volumeId, p);
    }

    // The final read: a fresh process, every block.
    const fresh = createServices(cloud.config);
    try {
      final = servicesClient(fresh, volumeId);
      const step = 16 * partitionBytes;
      for (let offset = 0; offset < geometry.sizeBytes; offset += step) {
        const outcome = await perform(999, final, { kind: 'read', offset, length: Math.min(step, geometry.sizeBytes - offset) });
        if (outcome.status !== 'ok') throw new Error(`the final read failed: ${outcome.why}`);
      }
    } finally {
      fresh.clients.destroy();
    }
    const result = checkHistory(recorder.history());
    const report = result.status === 'violation' ? `${formatReport(result)}\n${await diagnose(cloud, volumeId, partitionBytes, result, details)}` : formatReport(result);
    return { seed, plan, result, report, faults, counts, retries: retried, timeSpent, ms: Math.round(performance.now() - started) };
  } finally {
    gate.open();
    await Promise.allSettled(clients.map((c) => c.close()));
    b.clients.destroy();
    if (ownCloud) await cloud.stop();
  }
}
