/**
 * `npm run bench:copy`: copy jobs (intermediary duplication) on the embedded cloud, in one run.
 *
 * 1. With the sled bandwidth model on (every chunk copy crosses the source sled's egress and the
 *    destination sled's ingress, shared fairly unless --link=fifo), for N = 8, 32 and 64 targets
 *    of a 32 MiB snapshot: the job with intermediaries ('pipelined'; 'rounds' with --rounds) and
 *    the 'swarm' job against a 'direct'
 *    copy from the snapshot with the same F (target: >= 5x faster at N = 64), and against the
 *    ideal bound of the planner's own model, lib/copy-jobs/bandwidth-model.ts (target: within 1.5x).
 * 2. With the cap off: the job's copy MiB/s against raw CopyObject calls of the same chunks
 *    between the same buckets at the same concurrency (target: a ratio of at least 0.7).
 * 3. On part 1's jobs (issue 19, copy-hydration.ts): time to usable (POST -> a correct read of
 *    every target; target <= 1 s at N = 64), hydration (POST -> every target available) against
 *    the model (<= 1.2x) and against the physical bound (physical-bound.ts; goal <= 1.3x), and the
 *    p50 of reads before hydration against hydrated reads of the same offsets (<= 2x).
 *
 * Every job runs through the API, exactly as a client would use it. Sample targets are read
 * back through the API and compared byte for byte; the exit code is 1 only when a job fails
 * or a read-back differs.
 *
 * Flags: --quick (N = 8 and 32 only, one pair in part 2), --counts=8,32,64, --rounds (add 'rounds' jobs; about
 * 70 s more), --modes=pipelined,swarm,rounds,direct (exactly these; default pipelined, swarm, direct), --fanout=F (default 4),
 * --sleds=S (default 128), --cap-mib=C (MiB/s per sled link and direction; default 2), --link=fair|fifo
 * (how a capped link shares itself between transfers, lib/sleds/bandwidth.ts; default fair),
 * --verify=K (targets read back per job; default 2), --cap-off-count=N (default 32),
 * --pairs=P (part 2's job/raw pairs, default 3), --no-cap-off (skip part 2), --read-kib=K (the
 * hydration probe's read size, default 4).
 *
 * Modules: copy-harness.ts (parameters, helpers, the cloud and its snapshot), copy-job-run.ts (one
 * job), copy-cases.ts (parts 1 and 2), copy-hydration.ts (the probe and its table); this file
 * parses the flags and prints the tables and the summary.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { COPY_MODES } from '../lib/copy-jobs/copy-job.js';
import { LINK_SHARINGS, type LinkSharing } from '../lib/sleds/bandwidth.js';
import { GIB, MIB } from '../lib/units/sizes.js';
import { reportHydration, watchReadLinkWaits } from './copy-hydration.js';
import { chunkBytes, hydrationRows, reportCapOff, runCapOff, runCappedCases } from './copy-cases.js';
import {
  DEFAULT_CAP_MIB,
  DEFAULT_SLEDS,
  GEOMETRY,
  PARTITION_BYTES,
  PARTITIONS,
  POLL_MS,
  TARGETS,
  loadAverage,
  mibs,
  yesNo,
  type JobMode,
  type Options,
} from './copy-harness.js';
import { fmt, formatTable, median, packageVersion } from './support.js';

// ---------------------------------------------------------------- main

/** --read-kib: 4 KiB-aligned (the API's rule) and within one chunk, so each read is one chunk's. */
function readKib(raw: string | undefined): number {
  const kib = raw === undefined ? 4 : Number(raw);
  if (!Number.isInteger(kib) || kib < 4 || kib % 4 !== 0 || kib * 1024 > GEOMETRY.chunkSizeBytes) {
    throw new Error(`--read-kib must be a multiple of 4 from 4 to ${GEOMETRY.chunkSizeBytes / 1024}, got "${raw}"`);
  }
  return kib * 1024;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string) => argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const number = (name: string, fallback: number, integer = true) => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${integer ? 'whole ' : ''}number, got "${raw}"`);
    return n;
  };
  const quick = argv.includes('--quick');
  const countsFlag = value('counts');
  const counts = countsFlag ? countsFlag.split(',').map(Number) : quick ? [8, 32] : [8, 32, 64];
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--counts must list whole numbers, got "${countsFlag}"`);
  const modesFlag = value('modes');
  const modes = modesFlag
    ? (modesFlag.split(',') as JobMode[])
    : argv.includes('--rounds')
      ? (['pipelined', 'swarm', 'rounds', 'direct'] as const)
      : (['pipelined', 'swarm', 'direct'] as const);
  if (modes.some((m) => !COPY_MODES.includes(m))) throw new Error(`--modes must list ${COPY_MODES.join(', ')}; got "${modesFlag}"`);
  return {
    counts,
    fanout: number('fanout', 4),
    sleds: number('sleds', DEFAULT_SLEDS),
    capBytesPerSecond: number('cap-mib', DEFAULT_CAP_MIB, false) * MIB,
    linkSharing: linkSharing(value('link')),
    modes,
    capOff: !argv.includes('--no-cap-off'),
    verifyTargets: number('verify', 2),
    capOffCount: number('cap-off-count', 32),
    capOffPairs: number('pairs', quick ? 1 : 3),
    readBytes: readKib(value('read-kib')),
  };
}

/** Parses --link: how a capped sled link shares itself (default fair). */
function linkSharing(text: string | undefined): LinkSharing {
  if (text === undefined) return 'fair';
  const known = LINK_SHARINGS.find((name) => name === text);
  if (!known) throw new Error(`--link must be ${LINK_SHARINGS.join(' or ')}, got "${text}"`);
  return known;
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  if (argv.includes('--help')) {
    console.log(
      'usage: npm run bench:copy -- [--quick] [--counts=8,32,64] [--rounds] [--modes=pipelined,swarm,rounds,direct] [--fanout=4] [--sleds=128] ' +
        '[--cap-mib=2] [--link=fair|fifo] [--verify=2] [--cap-off-count=32] [--pairs=3] [--no-cap-off] [--read-kib=4]',
    );
    return 0;
  }
  const options = parseOptions(argv);
  watchReadLinkWaits();
  const began = performance.now();
  const cpus = os.cpus();
  console.log('Sleds copy-job benchmark (bench/copy.ts)');
  console.log(`machine:   ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${os.platform()} ${os.arch()}, ${fmt(os.totalmem() / GIB, 0)} GiB RAM`);
  console.log(
    `emulators: fauxqs ${packageVersion('fauxqs')} (S3) and dynalite ${packageVersion('dynalite')} (DynamoDB) in memory, ` +
      `aws-local-stepfunctions ${packageVersion('aws-local-stepfunctions')} running the CDK state machine; all in this process, on one event loop with the handlers`,
  );
  console.log(
    `geometry:  ${mibs(GEOMETRY.sizeBytes)} snapshot of random bytes, ${mibs(GEOMETRY.chunkSizeBytes)} chunks, ${GEOMETRY.partitionChunks} chunks per partition = ` +
      `${PARTITIONS} partitions of ${mibs(PARTITION_BYTES)}, each on one sled`,
  );
  console.log(
    `load:      1-minute load average ${fmt(loadAverage(), 1)} on ${cpus.length} CPUs at the start; this process needs about one CPU, ` +
      `so a load well above ${cpus.length - 1} means other work on the machine competes with the emulators (each job line shows the load at its end)`,
  );
  console.log(`sleds:     ${options.sleds} sled buckets; F (maxSourceFanout) = ${options.fanout}; N = ${options.counts.join(', ')}; modes ${options.modes.join(', ')}`);
  console.log(
    `cap:       ${mibs(options.capBytesPerSecond)}/s per sled link and direction (SLEDS_SLED_BANDWIDTH = ${options.capBytesPerSecond}), ` +
      `shared ${options.linkSharing} (SLEDS_SLED_LINK_SHARING) for part 1; ` +
      `off for part 2. Chosen so that the chunk MiB/s the model asks of the whole machine ("demand" below) stays well under what raw CopyObject ` +
      `does here (part 2), so the modeled sled links, not this machine's CPU, set the pace`,
  );
  console.log(
    `timing:    copy phase = the job's startedCopyingAt -> finishedAt (copy rounds, in which each target chunk's SHA-256 is taken as it is copied; finalize: every target chunk checked against the snapshot, chunk maps written, targets marked available; ` +
      `removing intermediaries); wall = POST -> first poll (every ${POLL_MS} ms) that sees the job ended; model = modelJobSeconds(plan) for the plan the job ran, rebuilt with the planner`,
  );
  console.log(
    `targets:   (1) direct / intermediaries >= ${TARGETS.speedup}x at N = ${TARGETS.speedupAt}; (2) job / model <= ${TARGETS.modelRatio}; ` +
      `(3) cap off, copy MiB/s / raw CopyObject MiB/s >= ${TARGETS.throughputRatio}; judged on the copy phase, wall shown too; ` +
      `at N = ${TARGETS.speedupAt}, cap on (issue 19): (4) time to usable <= 1 s, (5) hydration / model <= 1.2, (6) hydration / physical bound <= 1.3, ` +
      `(7) p50 read before hydration / hydrated <= 2 (${options.readBytes / 1024} KiB reads)`,
  );

  const failures: string[] = [];
  const cases = await runCappedCases(options, failures);
  const capOff = options.capOff ? await runCapOff(options, failures) : undefined;

  // ---- tables
  console.log('\n== part 1: sled cap on ==');
  const rows: string[][] = [];
  for (const c of cases) {
    const direct = c.jobs.direct;
    for (const mode of options.modes) {
      const job = c.jobs[mode];
      if (!job) continue;
      const speedPhase = direct && mode !== 'direct' ? direct.phaseSeconds / job.phaseSeconds : Number.NaN;
      const speedWall = direct && mode !== 'direct' ? direct.wallSeconds / job.wallSeconds : Number.NaN;
      const speedModel = direct && mode !== 'direct' ? direct.modelSeconds / job.modelSeconds : Number.NaN;
      rows.push([
        String(c.count),
        mode,
        fmt(job.phaseSeconds),
        fmt(job.wallSeconds),
        fmt(job.roundsSeconds),
        fmt(job.modelSeconds),
        fmt(chunkBytes(job.plan) / MIB / job.modelSeconds, 0),
        fmt(job.phaseSeconds / job.modelSeconds),
        fmt(job.wallSeconds / job.modelSeconds),
        mode === 'direct' ? '-' : fmt(speedPhase),
        mode === 'direct' ? '-' : fmt(speedWall),
        mode === 'direct' ? '-' : fmt(speedModel),
      ]);
    }
  }
  console.log(
    formatTable(
      ['N', 'mode', 'phase s', 'wall s', 'rounds s', 'model s', 'demand MiB/s', 'phase/model', 'wall/model', 'speedup', 'speedup wall', 'model speedup'],
      rows,
    ),
  );
  console.log(
    'rounds s = the copy-rounds state alone; demand = the chunk bytes the plan copies / model s, what the model asks of the whole machine; ' +
      'speedup = direct / this mode (copy phase); model speedup = what the model predicts for the same two plans',
  );

  const part2 = capOff ? reportCapOff(capOff, options.capOffCount) : undefined;

  const hydrationVerdicts = reportHydration(hydrationRows(cases, options), TARGETS.speedupAt, options.readBytes);

  // ---- summary
  console.log('\n== summary ==');
  const at = cases.find((c) => c.count === TARGETS.speedupAt);
  const verdicts: string[] = [];
  if (at?.jobs.direct) {
    for (const mode of ['pipelined', 'swarm', 'rounds'] as const) {
      const dup = at.jobs[mode];
      if (!dup) continue;
      const phase = at.jobs.direct.phaseSeconds / dup.phaseSeconds;
      const wall = at.jobs.direct.wallSeconds / dup.wallSeconds;
      verdicts.push(`(1) N = ${TARGETS.speedupAt} ${mode}: direct / intermediaries ${fmt(phase)}x (wall ${fmt(wall)}x), target >= ${TARGETS.speedup}x: ${yesNo(phase >= TARGETS.speedup)}${mode === 'rounds' ? ' (secondary)' : ''}`);
    }
  } else {
    verdicts.push(`(1) not measured: N = ${TARGETS.speedupAt} was not run (--quick or --counts)`);
  }
  for (const c of cases) {
    for (const mode of ['pipelined', 'swarm', 'rounds'] as const) {
      const dup = c.jobs[mode];
      if (!dup) continue;
      const ratio = dup.phaseSeconds / dup.modelSeconds;
      verdicts.push(
        `(2) N = ${c.count} ${mode}: job / model ${fmt(ratio)} (wall ${fmt(dup.wallSeconds / dup.modelSeconds)}, copy rounds only ${fmt(dup.roundsSeconds / dup.modelSeconds)}), ` +
          `target <= ${TARGETS.modelRatio}: ${yesNo(ratio <= TARGETS.modelRatio)}`,
      );
    }
  }
  verdicts.push(part2 ?? '(3) not measured: --no-cap-off');
  verdicts.push(...hydrationVerdicts);
  for (const line of verdicts) console.log(line);
  const demands = cases.flatMap((c) => Object.values(c.jobs)).map((j) => chunkBytes(j.plan) / MIB / j.modelSeconds);
  if (capOff && demands.length > 0) {
    const raw = median(capOff.map((p) => p.raw.bytes / MIB / p.raw.seconds));
    const most = Math.max(...demands);
    console.log(`cap check: the model asked the machine for at most ${fmt(most, 0)} MiB/s of chunk copies, ${fmt((most / raw) * 100, 0)}% of raw CopyObject here (median ${fmt(raw, 0)} MiB/s)`);
  }
  const mismatchedPlans = [...cases.flatMap((c) => Object.values(c.jobs)), ...(capOff ?? []).map((p) => p.job)].filter((j) => j && !j.planMatches).length;
  if (mismatchedPlans > 0) console.log(`WARNING: ${mismatchedPlans} rebuilt plan(s) differ from the job's own; their model figures may be off`);
  console.log(`total run time ${fmt((performance.now() - began) / 1000, 1)} s; 1-minute load average at the end ${fmt(loadAverage(), 1)}`);
  if (failures.length > 0) {
    console.log(`FAILED: ${failures.length} correctness problem(s):`);
    for (const failure of failures.slice(0, 20)) console.log(`  ${failure}`);
    return 1;
  }
  console.log('correctness: every job succeeded and every target read back was identical to its snapshot');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);