import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type CliIo } from '../../lib/cli/main.js';
import { startLocalCloud, type LocalCloud } from '../../lib/local/local-cloud.js';
import { KIB, MIB } from '../../lib/units/sizes.js';

interface Result {
  readonly code: number;
  readonly stdout: string;
  /** Raw stdout, for `read --out -`. */
  readonly bytes: Buffer;
  readonly stderr: string;
}

describe('sleds volume write|read|partition against the embedded cloud', () => {
  let cloud: LocalCloud;
  let dir: string;
  let volumeId: string;

  const sledsWith = async (fetchImpl: typeof fetch | undefined, ...argv: string[]): Promise<Result> => {
    const out: Buffer[] = [];
    let err = '';
    const io: CliIo = {
      stdout: { write: (chunk) => void out.push(Buffer.from(chunk)) },
      // Not a terminal: the bar shows only with --progress.
      stderr: { write: (text) => void (err += String(text)) },
      env: {},
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    };
    const code = await run([...argv, '--endpoint', cloud.apiUrl], io);
    const bytes = Buffer.concat(out);
    return { code, stdout: bytes.toString('utf8'), bytes, stderr: err };
  };
  const sleds = (...argv: string[]) => sledsWith(undefined, ...argv);

  beforeAll(async () => {
    [cloud, dir] = await Promise.all([startLocalCloud({ port: 0, sledCount: 4 }), mkdtemp(join(tmpdir(), 'sleds-cli-data-'))]);
    const created = await sleds('volume', 'create', '--size', '32MiB', '--chunk-size', '1MiB', '--partition-chunks', '4', '--json');
    expect(created.code, created.stderr).toBe(0);
    volumeId = (JSON.parse(created.stdout) as { volumeId: string }).volumeId;
  });

  afterAll(async () => {
    await cloud?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a file in parallel requests with a progress bar, and reads it back byte for byte', async () => {
    const data = randomBytes(9 * MIB + 12 * KIB);
    const input = join(dir, 'disk.img');
    const output = join(dir, 'out.img');
    await writeFile(input, data);

    const written = await sleds(
      'volume', 'write', volumeId, '--offset', '4MiB', '--file', input,
      '--request-size', '1MiB', '--concurrency', '4', '--progress',
    );
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toBe('');
    // The last frame is 100%, and the summary follows on its own line.
    const frames = written.stderr.split(/[\r\n]/).map((frame) => frame.trimEnd()).filter(Boolean);
    expect(frames.some((frame) => /^write 100% \[#+\] +9\.01 MiB \/ 9\.01 MiB +\S+ MiB\/s {2}ETA 0s$/.test(frame))).toBe(true);
    // 10 requests from 4 MiB to 13 MiB + 12 KiB cover partitions 1, 2 and 3 (4 MiB each).
    expect(written.stderr).toMatch(/\nwrote 9\.01 MiB in \d+\.\d s \(\S+ MiB\/s\), 10 requests, ops on 3 partitions\n$/);

    const read = await sleds('volume', 'read', volumeId, '--offset', '4MiB', '--length', String(data.length), '--out', output, '--request-size', '1MiB');
    expect(read.code, read.stderr).toBe(0);
    // stderr is not a terminal and --progress was not given: only the summary.
    expect(read.stderr).toMatch(/^read 9\.01 MiB in \d+\.\d s \(\S+ MiB\/s\), 10 requests\n$/);
    const back = await readFile(output);
    expect(back.length).toBe(data.length);
    expect(back.equals(data)).toBe(true);

    const partition = await sleds('volume', 'partition', volumeId, '1');
    expect(partition.code, partition.stderr).toBe(0);
    expect(partition.stdout).toMatch(/^Range\s+4 MiB to 8 MiB /m);
    expect(partition.stdout).toMatch(/^In sync\s+yes$/m);
    // Four 1 MiB requests landed in partition 1: four ops on each replica.
    expect(partition.stdout).toMatch(/^primary\s+\S+\s+\d+\s+\d+\s+4\s+0$/m);
    expect(partition.stdout).toMatch(/^secondary\s+\S+\s+\d+\s+\d+\s+4\s+0$/m);
    const json = await sleds('volume', 'partition', volumeId, '3', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ volumeId, partition: 3, offset: 12 * MIB, inSync: true, primary: { lastCommittedOp: 2 } });
  });

  it('reads zeros where nothing was written, to a file or to stdout', async () => {
    const output = join(dir, 'zeros.img');
    const read = await sleds('volume', 'read', volumeId, '--offset', '20MiB', '--length', '3MiB', '--out', output, '--concurrency', '2', '--json');
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toMatchObject({ volumeId, offset: 20 * MIB, length: 3 * MIB, requests: 1, retries: 0 });
    const zeros = await readFile(output);
    expect(zeros.equals(Buffer.alloc(3 * MIB))).toBe(true);

    // To the end of the volume by default, through stdout in order, with no progress bar.
    const piped = await sleds('volume', 'read', volumeId, '--offset', '24MiB', '--out', '-', '--request-size', '256KiB', '--progress');
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.bytes.equals(Buffer.alloc(8 * MIB))).toBe(true);
    expect(piped.stderr).toMatch(/^read 8 MiB in .*, 32 requests\n$/);
  });

  it('pads a misaligned file only when asked to', async () => {
    const odd = randomBytes(10_000);
    const input = join(dir, 'odd.bin');
    await writeFile(input, odd);

    const refused = await sleds('volume', 'write', volumeId, '--offset', '16MiB', '--file', input);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `sleds: --file ${input} is 10000 bytes, not a multiple of 4096; add --pad to zero-pad it to 12288 bytes (UsageError)\n`,
    );

    const padded = await sleds('volume', 'write', volumeId, '--offset', '16MiB', '--file', input, '--pad', '--no-progress');
    expect(padded.code, padded.stderr).toBe(0);
    expect(padded.stderr).toMatch(/^wrote 12 KiB in .*, 1 request, ops on 1 partition\n$/);
    const output = join(dir, 'odd.out');
    expect((await sleds('volume', 'read', volumeId, '--offset', '16MiB', '--length', '12KiB', '--out', output)).code).toBe(0);
    expect(await readFile(output)).toEqual(Buffer.concat([odd, Buffer.alloc(12_288 - 10_000)]));
  });

  it('refuses bad command lines with exit status 2, before anything is written', async () => {
    const input = join(dir, 'small.img');
    await writeFile(input, randomBytes(8 * KIB));
    const cases: Array<[string[], RegExp]> = [
      [['--offset', '1000', '--file', input], /invalid --offset: 1000 \(1000 bytes\) is not a multiple of 4096/],
      [['--offset', '0', '--file', join(dir, 'missing.img')], /cannot read --file .*missing\.img: no such file or directory/],
      [['--offset', '0', '--file', input, '--request-size', '8MiB'], /invalid --request-size: 8MiB is more than 4 MiB/],
      [['--offset', '0', '--file', input, '--concurrency', '0'], /invalid --concurrency/],
      [['--offset', '32MiB', '--file', input], /ends at 32\.01 MiB \(byte 33562624\), past the end of vol-\S+, which holds 32 MiB/],
      [['--file', input], /required option '--offset <size>' not specified/],
    ];
    for (const [args, message] of cases) {
      const result = await sleds('volume', 'write', volumeId, ...args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const readPast = await sleds('volume', 'read', volumeId, '--offset', '31MiB', '--length', '2MiB', '--out', join(dir, 'x.img'));
    expect(readPast.code).toBe(2);
    // The volume is checked before the output file is made.
    await expect(stat(join(dir, 'x.img'))).rejects.toThrow(/ENOENT/);
    expect((await sleds('volume', 'read', volumeId, '--out', '-', '--json')).code).toBe(2);
  });

  it('exits 1 when the API says no: an unknown volume or partition', async () => {
    const input = join(dir, 'block.img');
    await writeFile(input, randomBytes(4 * KIB));
    const unknown = await sleds('volume', 'write', 'vol-00000000000000000', '--offset', '0', '--file', input);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('sleds: Volume vol-00000000000000000 does not exist. (VolumeNotFound)\n');

    const missing = await sleds('volume', 'read', 'vol-00000000000000000', '--out', join(dir, 'never.img'));
    expect(missing.code).toBe(1);
    await expect(stat(join(dir, 'never.img'))).rejects.toThrow(/ENOENT/);

    const partition = await sleds('volume', 'partition', volumeId, '8');
    expect(partition.code).toBe(1);
    expect(partition.stderr).toMatch(/there is no partition 8\. \(PartitionNotFound\)\n$/);
  });

  it('retries 503s and lost answers with the same Idempotency-Key, committing each request once', async () => {
    const created = await sleds('volume', 'create', '--size', '8MiB', '--chunk-size', '1MiB', '--partition-chunks', '4', '--json');
    const target = (JSON.parse(created.stdout) as { volumeId: string }).volumeId;
    const data = randomBytes(8 * MIB);
    const input = join(dir, 'flaky.img');
    await writeFile(input, data);

    const attempts = new Map<string, number>();
    const unavailable = () =>
      new Response(JSON.stringify({ error: { code: 'BackendUnavailable', message: 'The S3 backend is unavailable; retry later.' } }), {
        status: 503,
        headers: { 'content-type': 'application/json' },
      });
    // Request i fails on its first try: even ones before reaching the API, odd ones after the
    // API committed (the answer is lost). Every third one then also hits a network error.
    const flaky: typeof fetch = async (input, init) => {
      const key = new Headers(init?.headers).get('idempotency-key');
      if (init?.method !== 'PUT' || key === null) return fetch(input, init);
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const index = Number(key.split('-').at(-1));
      if (attempt === 1 && index % 2 === 0) return unavailable();
      if (attempt === 1) {
        expect((await fetch(input, init)).status).toBe(200);
        return unavailable();
      }
      if (attempt === 2 && index % 3 === 0) throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      return fetch(input, init);
    };

    const written = await sledsWith(flaky, 'volume', 'write', target, '--offset', '0', '--file', input, '--request-size', '1MiB');
    expect(written.code, written.stderr).toBe(0);
    expect([...attempts.keys()]).toHaveLength(8);
    for (const key of attempts.keys()) expect(key).toMatch(/^sleds-cli-[0-9a-f]{16}-[0-7]$/);
    // 8 first tries failed, and requests 0, 3 and 6 failed a second time.
    expect(written.stderr).toMatch(/^wrote 8 MiB in .*, 8 requests, ops on 2 partitions, 11 retries\n$/);

    // Each partition took exactly its four requests: no retry committed twice.
    for (const partition of ['0', '1']) {
      const status = JSON.parse((await sleds('volume', 'partition', target, partition, '--json')).stdout);
      expect(status).toMatchObject({ inSync: true, primary: { lastCommittedOp: 4 }, secondary: { lastCommittedOp: 4 } });
    }
    const read = await sleds('volume', 'read', target, '--out', '-');
    expect(read.code, read.stderr).toBe(0);
    expect(read.bytes.equals(data)).toBe(true);
  });

  it('gives up after 5 tries and says how far it got', async () => {
    const input = join(dir, 'doomed.img');
    await writeFile(input, randomBytes(4 * KIB));
    let puts = 0;
    const down: typeof fetch = async (input, init) => {
      if (init?.method !== 'PUT') return fetch(input, init);
      puts++;
      return new Response(JSON.stringify({ error: { code: 'Fenced', message: 'Partition 0 was failed over; retry.' } }), { status: 503 });
    };
    const result = await sledsWith(down, 'volume', 'write', volumeId, '--offset', '28MiB', '--file', input, '--progress');
    expect(result.code).toBe(1);
    expect(puts).toBe(5);
    expect(result.stderr).toMatch(/\nStopped after writing 0 B of 4 KiB; .*\nsleds: Partition 0 was failed over; retry\. \(Fenced\)\n$/);
  });
  it('zeroes a range with `volume zero` and shows data and holes with `volume map`', async () => {
    const created = await sleds('volume', 'create', '--size', '16MiB', '--chunk-size', '1MiB', '--partition-chunks', '4', '--json');
    const target = (JSON.parse(created.stdout) as { volumeId: string }).volumeId;
    const input = join(dir, 'two-mib.img');
    const data = randomBytes(2 * MIB);
    await writeFile(input, data);
    expect((await sleds('volume', 'write', target, '--offset', '4MiB', '--file', input)).code).toBe(0);

    const zeroed = await sleds('volume', 'zero', target, '--offset', '5MiB', '--length', '512KiB');
    expect(zeroed.code, zeroed.stderr).toBe(0);
    expect(zeroed.stdout).toBe(`zeroed 512 KiB of ${target} at 5 MiB (1 partition, one op each)\n`);

    const map = await sleds('volume', 'map', target, '--json');
    expect(map.code, map.stderr).toBe(0);
    expect((JSON.parse(map.stdout) as { extents: unknown[] }).extents).toEqual([
      { offset: 0, length: 4 * MIB, type: 'zero' },
      { offset: 4 * MIB, length: MIB, type: 'data' },
      { offset: 5 * MIB, length: 512 * KIB, type: 'zero' },
      { offset: 5 * MIB + 512 * KIB, length: 512 * KIB, type: 'data' },
      { offset: 6 * MIB, length: 10 * MIB, type: 'zero' },
    ]);
    const table = await sleds('volume', 'map', target, '--offset', '4MiB', '--length', '2MiB');
    expect(table.stdout.split('\n')[0]).toMatch(/^\s*OFFSET\s+LENGTH\s+TYPE\s+SIZE$/);
    expect(table.stdout).toMatch(/\n\s*5242880\s+524288\s+zero\s+512 KiB\n/);
    expect(table.stderr).toBe('1.5 MiB data, 512 KiB zeros\n');

    const read = await sleds('volume', 'read', target, '--offset', '4MiB', '--length', '2MiB', '--out', '-');
    const expected = Buffer.from(data);
    expected.fill(0, MIB, MIB + 512 * KIB);
    expect(read.bytes.equals(expected)).toBe(true);

    // Bad ranges: misaligned is refused before a call (2), past the end by the API (1); nothing changes.
    expect((await sleds('volume', 'zero', target, '--offset', '100', '--length', '4KiB')).code).toBe(2);
    const past = await sleds('volume', 'zero', target, '--offset', '12MiB', '--length', '8MiB');
    expect(past.code).toBe(1);
    expect(past.stderr).toBe(`sleds: bytes 12582912 to 20971519 lie outside volume ${target} of 16777216 bytes (RangeOutOfBounds)\n`);
    const after = await sleds('volume', 'map', target, '--json');
    expect(after.stdout).toBe(map.stdout);
  });
});
