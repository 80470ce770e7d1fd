import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type CliIo } from '../../lib/cli/main.js';
import { armFailpoint } from '../../lib/faults.js';
import { startLocalCloud, type LocalCloud } from '../../lib/local/local-cloud.js';
import { MIB } from '../../lib/units/sizes.js';

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

// The first copy job builds the state machine from the CDK app in-process: seconds, not millis.
const SLOW = 60_000;

describe('sleds snapshot, copy and job against the embedded cloud', () => {
  let cloud: LocalCloud;
  let dir: string;
  let requests: string[] = [];

  const sleds = async (...argv: string[]): Promise<Result> => {
    let out = '';
    let err = '';
    const io: CliIo = {
      stdout: { write: (text) => void (out += String(text)) },
      // Not a terminal: the bar shows only with --progress.
      stderr: { write: (text) => void (err += String(text)) },
      env: {},
      fetch: (input, init) => {
        requests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
        return fetch(input, init);
      },
    };
    const code = await run([...argv, '--endpoint', cloud.apiUrl], io);
    return { code, stdout: out, stderr: err };
  };

  /** The source: a 1 MiB volume of random bytes, written through the CLI. */
  const data = randomBytes(MIB);
  let volumeId: string;
  let snapshotId: string;

  beforeAll(async () => {
    [cloud, dir] = await Promise.all([
      startLocalCloud({ port: 0, sledCount: 8, retryIntervalMs: 0 }),
      mkdtemp(join(tmpdir(), 'sleds-cli-copy-')),
    ]);
    const created = await sleds('volume', 'create', '--size', '1MiB', '--chunk-size', '64KiB', '--partition-chunks', '4', '--json');
    expect(created.code, created.stderr).toBe(0);
    volumeId = (JSON.parse(created.stdout) as { volumeId: string }).volumeId;
    const input = join(dir, 'source.img');
    await writeFile(input, data);
    const written = await sleds('volume', 'write', volumeId, '--offset', '0', '--file', input);
    expect(written.code, written.stderr).toBe(0);
  }, SLOW);

  afterAll(async () => {
    await cloud?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('snapshots a volume and waits, with a bar on the partitions stored', { timeout: SLOW }, async () => {
    const taken = await sleds('snapshot', 'create', volumeId, '--wait', '--progress');
    expect(taken.code, taken.stderr).toBe(0);
    const id = /^Created (snap-[0-9a-f]{17}) of (vol-[0-9a-f]{17})$/m.exec(taken.stdout);
    expect(id?.[2]).toBe(volumeId);
    snapshotId = id?.[1] as string;
    expect(taken.stdout).toMatch(/^State\s+completed$/m);
    expect(taken.stdout).toMatch(/^Stored\s+4 of 4 partitions, 16 chunks, 1 MiB$/m);
    const frames = taken.stderr.split(/[\r\n]/).map((frame) => frame.trimEnd()).filter(Boolean);
    expect(frames.at(-1)).toMatch(/^snapshot 100% \[#+\] {2}4\/4 partitions {2}ETA 0s +16 chunks, 1 MiB stored$/);

    const shown = await sleds('snapshot', 'show', snapshotId, '--json');
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      snapshotId,
      volumeId,
      state: 'completed',
      progress: { partitionsDone: 4, partitionsTotal: 4, bytesStored: MIB },
    });
  });

  it('copies the snapshot to 5 volumes with --watch: bar, plan, summary, and the bytes arrive', { timeout: SLOW }, async () => {
    const copied = await sleds('copy', snapshotId, '--count', '5', '--watch', '--progress');
    expect(copied.code, copied.stderr).toBe(0);
    const started = /^Started copy job (copy-[0-9a-f]{17}): 5 volumes from (snap-\S+)$/m.exec(copied.stdout);
    expect(started?.[2]).toBe(snapshotId);
    const jobId = started?.[1] as string;
    const targets = [...copied.stdout.matchAll(/^ {2}(vol-[0-9a-f]{17})$/gm)].map((match) => match[1] as string);
    expect(targets).toHaveLength(5);

    // The bar reached 100%: all bytes copied, intermediaries included.
    const frames = copied.stderr.split(/[\r\n]/).map((frame) => frame.trimEnd()).filter(Boolean);
    expect(frames.some((frame) => /^copy 100% .*6 MiB \/ 6 MiB\s+\S+ MiB\/s\s+ETA 0s/.test(frame))).toBe(true);
    // The plan, then the summary: 5 targets of 1 MiB, through 4 intermediaries (one per partition).
    expect(copied.stdout).toMatch(/^pipelined copy plan: 4 partitions \(4 with data\), 5 targets/m);
    expect(copied.stdout).toMatch(/\n\ncopied 5 volumes \(5 MiB\) in \d+\.\d s, 2 rounds, 4 intermediaries created and removed\n$/);

    const output = join(dir, 'target.img');
    const read = await sleds('volume', 'read', targets[3] as string, '--out', output);
    expect(read.code, read.stderr).toBe(0);
    expect((await readFile(output)).equals(data)).toBe(true);

    const shown = await sleds('job', 'show', jobId);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^State\s+succeeded$/m);
    expect(shown.stdout).toMatch(/^Progress\s+100%, 6 MiB of 6 MiB \(96 of 96 chunks\)$/m);
    expect(shown.stdout).toMatch(/^Verified\s+5 of 5 targets$/m);
    expect(shown.stdout).toMatch(/^Finished\s+.*\(took \d+\.\d s\)$/m);
    expect(shown.stdout).toMatch(/^Totals: 4 intermediary copies/m);

    const events = await sleds('job', 'events', jobId);
    expect(events.code, events.stderr).toBe(0);
    const lines = events.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\s+TIME {2}TYPE\s+STATE\s+INDEX$/);
    expect(lines[1]).toMatch(/^\+0\.000s {2}ExecutionStarted\s+-\s+-$/);
    expect(lines).toContainEqual(expect.stringMatching(/^\+\d+\.\d{3}s {2}StateEntered\s+Plan the copy job\s+-$/));
    expect(lines.at(-1)).toMatch(/ExecutionSucceeded/);
    expect(events.stderr).toMatch(new RegExp(`^${lines.length - 1} events over \\d+\\.\\d s\\.\\n$`));
  });

  it('starts a job without --watch and prints the 202 body with --json', { timeout: SLOW }, async () => {
    const started = await sleds('copy', snapshotId, '--count', '2', '--mode', 'rounds', '--max-source-fanout', '2', '--client-token', 'cli-test-1', '--json');
    expect(started.code, started.stderr).toBe(0);
    const body = JSON.parse(started.stdout) as { jobId: string; volumeIds: string[]; executionArn: string };
    expect(body.jobId).toMatch(/^copy-[0-9a-f]{17}$/);
    expect(body.volumeIds).toHaveLength(2);
    expect(body.executionArn).toMatch(/^arn:aws:states:/);

    // The same client token returns the same job.
    const again = await sleds('copy', snapshotId, '--count', '2', '--mode', 'rounds', '--max-source-fanout', '2', '--client-token', 'cli-test-1', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ jobId: body.jobId });

    // job show --watch follows it to the end, like copy --watch; --json prints the final job.
    const watched = await sleds('job', 'show', body.jobId, '--watch', '--json');
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toBe('');
    expect(JSON.parse(watched.stdout)).toMatchObject({ jobId: body.jobId, mode: 'rounds', maxSourceFanout: 2, state: 'succeeded', percent: 100 });
  });

  it('exits 1 and prints the job error when the copy job fails', { timeout: SLOW }, async () => {
    const disarm = armFailpoint('copy-task', () => {
      throw new Error('injected: disk on fire');
    });
    try {
      const failed = await sleds('copy', snapshotId, '--count', '3', '--watch', '--progress');
      expect(failed.code).toBe(1);
      // The plan is still worth reading; the summary is not printed for a failed job.
      expect(failed.stdout).toMatch(/^pipelined copy plan: /m);
      expect(failed.stdout).not.toMatch(/^copied /m);
      expect(failed.stdout).toMatch(/\nTotals: [^\n]+\n$/);
      // The bar's line is ended, so the error stands on a line of its own.
      expect(failed.stderr).toMatch(/\nsleds: Copy job copy-[0-9a-f]{17} failed: .*disk on fire.* \(CopyJobFailed\)\n$/);
    } finally {
      disarm();
    }
  });

  it('exits 1 with the API error for an unknown snapshot or job', { timeout: SLOW }, async () => {
    const copy = await sleds('copy', 'snap-00000000000000000', '--count', '3');
    expect(copy.code).toBe(1);
    expect(copy.stdout).toBe('');
    expect(copy.stderr).toBe('sleds: Snapshot snap-00000000000000000 does not exist. (SnapshotNotFound)\n');

    const job = await sleds('job', 'events', 'copy-00000000000000000');
    expect(job.code).toBe(1);
    expect(job.stderr).toMatch(/\(CopyJobNotFound\)\n$/);
  });

  it('refuses bad command lines with exit status 2, before any API call', async () => {
    requests = [];
    const cases: Array<[string[], RegExp]> = [
      [['copy', snapshotId, '--count', '0'], /invalid --count: "0" is not a whole number of at least 1/],
      [['copy', snapshotId, '--count', '1001'], /invalid --count: 1001 is more than 1000/],
      [['copy', snapshotId], /required option '--count <n>' not specified/],
      [['copy', snapshotId, '--count', '2', '--max-source-fanout', '65'], /invalid --max-source-fanout/],
      [['copy', snapshotId, '--count', '2', '--mode', 'fast'], /invalid --mode: "fast"/],
      [['copy', snapshotId, '--count', '2', '--client-token', 'no spaces'], /invalid --client-token/],
      [['copy', volumeId, '--count', '2'], /is not a snapshot id/],
      [['snapshot', 'create', 'snap-00000000000000000'], /is not a volume id/],
      [['job', 'show', 'job-1'], /is not a copy job id/],
    ];
    for (const [argv, message] of cases) {
      const result = await sleds(...argv);
      expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toMatch(/\(UsageError\)/);
    }
    expect(requests).toEqual([]);
  });
});
