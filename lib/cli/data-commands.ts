/**
 * `sleds volume write|read|partition`: moving a file's bytes into and out of a volume in
 * parallel requests of at most 4 MiB, and looking at one partition's head-node replicas.
 * Files are read and written at positions through a FileHandle, so a 1 GiB image never sits
 * in memory: at most `concurrency` requests' worth of bytes do.
 */
import { randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatSize } from '../units/sizes.js';
import type { Volume } from '../volumes/volume.js';
import {
  UsageError,
  formatPartitionStatus,
  parseCountArgument,
  parseOffsetArgument,
  parseSizeArgument,
  parseVolumeIdArgument,
} from './format.js';
import type { CliContext, CliStream } from './main.js';
import { ProgressBar } from './progress.js';
import {
  BLOCK_SIZE,
  DEFAULT_CONCURRENCY,
  DEFAULT_REQUEST_BYTES,
  LocalFileError,
  MAX_CONCURRENCY,
  MAX_REQUEST_BYTES,
  formatTransferSummary,
  runPool,
  splitRequests,
  withRetries,
  type TransferPiece,
} from './transfer.js';

interface TransferOptions {
  concurrency: number;
  requestSize?: number;
  /** true with --progress, false with --no-progress, undefined: only on a terminal. */
  progress?: boolean;
}

interface WriteOptions extends TransferOptions {
  offset: number;
  file: string;
  pad?: boolean;
}

interface ReadOptions extends TransferOptions {
  offset: number;
  length?: number;
  out: string;
}

/** Parses --concurrency: 1 to MAX_CONCURRENCY requests in flight. */
export function parseConcurrencyArgument(text: string): number {
  const value = parseCountArgument(text, '--concurrency');
  if (value > MAX_CONCURRENCY) {
    throw new UsageError(`invalid --concurrency: ${value} is more than ${MAX_CONCURRENCY} requests at once`);
  }
  return value;
}

/** Parses --request-size: a multiple of 4096 of at most 4 MiB, the most the API takes at once. */
export function parseRequestSizeArgument(text: string): number {
  const bytes = parseSizeArgument(text, '--request-size');
  if (bytes % BLOCK_SIZE !== 0) {
    throw new UsageError(`invalid --request-size: ${text} (${bytes} bytes) is not a multiple of ${BLOCK_SIZE} bytes`);
  }
  if (bytes > MAX_REQUEST_BYTES) {
    throw new UsageError(
      `invalid --request-size: ${text} is more than ${formatSize(MAX_REQUEST_BYTES)}, the most the API takes in one request`,
    );
  }
  return bytes;
}

/** The bar is for people watching a terminal, unless --progress or --no-progress says otherwise. */
export function progressEnabled(flag: boolean | undefined, stream: CliStream): boolean {
  return flag ?? stream.isTTY === true;
}

const roundUpToBlock = (bytes: number) => Math.ceil(bytes / BLOCK_SIZE) * BLOCK_SIZE;

/** The range lies inside the volume; else a usage error that says by how much it does not. */
function checkRange(volume: Volume, offset: number, length: number, what: string): void {
  if (offset + length <= volume.sizeBytes) return;
  throw new UsageError(
    `${what} ends at ${formatSize(offset + length)} (byte ${offset + length}), past the end of ` +
      `${volume.volumeId}, which holds ${formatSize(volume.sizeBytes)} (${volume.sizeBytes} bytes)`,
  );
}

const FILE_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EROFS: 'read-only file system',
};

/** Opens a file named on the command line; a missing or forbidden file is a usage error. */
async function openFile(path: string, flags: 'r' | 'w', flag: string): Promise<FileHandle> {
  try {
    return await open(path, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const problem = FILE_PROBLEMS[code];
    const verb = flags === 'r' ? 'read' : 'write';
    if (problem) throw new UsageError(`cannot ${verb} ${flag} ${path}: ${problem}`);
    throw new LocalFileError(`cannot ${verb} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads one request's bytes from the file; past the end of the file (with --pad) they stay zero. */
async function readPiece(file: FileHandle, path: string, piece: TransferPiece, fileBytes: number): Promise<Buffer> {
  const buffer = Buffer.alloc(piece.length);
  const wanted = Math.max(0, Math.min(piece.length, fileBytes - piece.position));
  let filled = 0;
  while (filled < wanted) {
    const { bytesRead } = await file.read(buffer, filled, wanted - filled, piece.position + filled);
    if (bytesRead === 0) {
      throw new LocalFileError(`${path} ended at byte ${piece.position + filled}; it was ${fileBytes} bytes when the write began`);
    }
    filled += bytesRead;
  }
  return buffer;
}

/** Writes all of `data` at `position`; a write may take fewer bytes than offered. */
async function writeAt(file: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await file.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

/** Writes to stdout and waits when the pipe is full, so a slow reader does not make us buffer gigabytes. */
async function writeToStream(stream: CliStream, chunk: Buffer): Promise<void> {
  const accepted = stream.write(chunk);
  const emitter = stream as Partial<Pick<NodeJS.WritableStream, 'once' | 'off'>>;
  if (accepted !== false || typeof emitter.once !== 'function') return;
  await new Promise<void>((resolve) => {
    const done = () => {
      emitter.off?.('drain', done);
      emitter.off?.('close', done);
      resolve();
    };
    emitter.once?.('drain', done);
    emitter.once?.('close', done);
  });
}

/** Counts retries and stops them once the transfer as a whole has failed. */
class RetryTracker {
  retries = 0;
  failed = false;

  readonly options = {
    stopped: () => this.failed,
    onRetry: () => void this.retries++,
  };
}

/** Adds `volume write`, `volume read` and `volume partition` to the volume command group. */
export function registerDataCommands(volume: Command, context: CliContext): void {
  const { io } = context;
  const offset = (flag: string) => (text: string) => parseOffsetArgument(text, flag);

  const transferOptions = (command: Command) =>
    command
      .option(
        '--concurrency <n>',
        `requests in flight at once, 1 to ${MAX_CONCURRENCY}`,
        parseConcurrencyArgument,
        DEFAULT_CONCURRENCY,
      )
      .option('--request-size <size>', 'bytes per request, a multiple of 4KiB up to 4MiB (default: 4MiB)', parseRequestSizeArgument)
      .option('--progress', 'show a progress bar on stderr even when it is not a terminal')
      .option('--no-progress', 'never show a progress bar');

  transferOptions(
    volume
      .command('write')
      .description('write a file into a volume, in parallel requests of at most 4 MiB')
      .argument('<volume-id>', 'the volume, e.g. vol-0123456789abcdef0', parseVolumeIdArgument)
      .requiredOption('--offset <size>', 'volume offset to write at, a multiple of 4KiB, e.g. 0 or 4MiB', offset('--offset'))
      .requiredOption('--file <path>', 'the file to write; its length must be a multiple of 4KiB unless --pad')
      .option('--pad', 'zero-pad the end of the file up to a multiple of 4KiB'),
  ).action(async (volumeId: string, options: WriteOptions) => {
    const client = context.client();
    const file = await openFile(options.file, 'r', '--file');
    try {
      const stat = await file.stat();
      if (!stat.isFile()) throw new UsageError(`cannot read --file ${options.file}: it is not a regular file`);
      const fileBytes = stat.size;
      if (fileBytes === 0) throw new UsageError(`--file ${options.file} is empty; there is nothing to write`);
      const length = options.pad ? roundUpToBlock(fileBytes) : fileBytes;
      if (fileBytes % BLOCK_SIZE !== 0 && !options.pad) {
        throw new UsageError(
          `--file ${options.file} is ${fileBytes} bytes, not a multiple of ${BLOCK_SIZE}; ` +
            `add --pad to zero-pad it to ${roundUpToBlock(fileBytes)} bytes`,
        );
      }
      const target = await client.getVolume(volumeId);
      checkRange(target, options.offset, length, `writing ${formatSize(length)} at --offset ${formatSize(options.offset)}`);

      const pieces = splitRequests(options.offset, length, options.requestSize ?? DEFAULT_REQUEST_BYTES);
      // One run id per invocation: a retry of request i reuses its key, a new run never collides.
      const runId = randomBytes(8).toString('hex');
      const tracker = new RetryTracker();
      const bar = new ProgressBar({ stream: io.stderr, total: length, enabled: progressEnabled(options.progress, io.stderr), label: 'write' });
      bar.update(0);
      const ops: Array<{ partition: number; op: number }> = [];
      try {
        await runPool(
          pieces.length,
          options.concurrency,
          async (index) => {
            const piece = pieces[index] as TransferPiece;
            const data = await readPiece(file, options.file, piece, fileBytes);
            const key = `sleds-cli-${runId}-${index}`;
            const result = await withRetries(
              () => client.writeData(volumeId, piece.offset, data, { idempotencyKey: key }),
              tracker.options,
            );
            for (const { partition, op } of result.ops) ops.push({ partition, op });
            bar.advance(piece.length);
          },
          () => (tracker.failed = true),
        );
      } catch (error) {
        bar.abort();
        context.hint(
          `Stopped after writing ${formatSize(bar.done)} of ${formatSize(length)}; the rest of the range may hold ` +
            'its old data or part of the new. Run the same command again to write it all.',
        );
        throw error;
      }
      bar.finish();
      const elapsedMs = bar.elapsedMs;
      ops.sort((a, b) => a.partition - b.partition || a.op - b.op);
      const partitions = new Set(ops.map((entry) => entry.partition)).size;
      if (context.json) {
        return context.printJson({
          volumeId,
          offset: options.offset,
          length,
          fileBytes,
          requests: pieces.length,
          retries: tracker.retries,
          elapsedMs: Math.round(elapsedMs),
          ops,
        });
      }
      context.hint(
        formatTransferSummary({ verb: 'wrote', bytes: length, elapsedMs, requests: pieces.length, partitions, retries: tracker.retries }),
      );
    } finally {
      await file.close();
    }
  });

  transferOptions(
    volume
      .command('read')
      .description('read a range of a volume into a file (or stdout), in parallel requests of at most 4 MiB')
      .argument('<volume-id>', 'the volume, e.g. vol-0123456789abcdef0', parseVolumeIdArgument)
      .option('--offset <size>', 'volume offset to read from, a multiple of 4KiB', offset('--offset'), 0)
      .option('--length <size>', 'bytes to read, a multiple of 4KiB (default: to the end of the volume)', (text: string) =>
        parseSizeArgument(text, '--length'),
      )
      .requiredOption('--out <path>', 'the file to write, or - for stdout'),
  ).action(async (volumeId: string, options: ReadOptions) => {
    const toStdout = options.out === '-';
    if (toStdout && context.json) throw new UsageError('--json cannot be used with --out -: stdout carries the data');
    if (options.length !== undefined && options.length % BLOCK_SIZE !== 0) {
      throw new UsageError(`invalid --length: ${options.length} bytes is not a multiple of ${BLOCK_SIZE} bytes`);
    }
    const client = context.client();
    const source = await client.getVolume(volumeId);
    if (options.offset >= source.sizeBytes) {
      throw new UsageError(
        `--offset ${formatSize(options.offset)} is at or past the end of ${volumeId}, which holds ${formatSize(source.sizeBytes)}`,
      );
    }
    const length = options.length ?? source.sizeBytes - options.offset;
    checkRange(source, options.offset, length, `reading ${formatSize(length)} from --offset ${formatSize(options.offset)}`);

    const pieces = splitRequests(options.offset, length, options.requestSize ?? DEFAULT_REQUEST_BYTES);
    const tracker = new RetryTracker();
    // Bytes on stdout leave no room for a bar worth reading, so --out - never draws one.
    const enabled = !toStdout && progressEnabled(options.progress, io.stderr);
    const bar = new ProgressBar({ stream: io.stderr, total: length, enabled, label: 'read' });
    bar.update(0);
    const fetchPiece = (piece: TransferPiece) =>
      withRetries(() => client.readData(volumeId, piece.offset, piece.length), tracker.options);
    try {
      if (toStdout) {
        await readToStream(pieces, options.concurrency, fetchPiece, async (data) => {
          await writeToStream(io.stdout, data);
          bar.advance(data.length);
        });
      } else {
        const out = await openFile(options.out, 'w', '--out');
        try {
          await runPool(
            pieces.length,
            options.concurrency,
            async (index) => {
              const piece = pieces[index] as TransferPiece;
              const data = await fetchPiece(piece);
              await writeAt(out, data, piece.position);
              bar.advance(piece.length);
            },
            () => (tracker.failed = true),
          );
        } finally {
          await out.close();
        }
      }
    } catch (error) {
      tracker.failed = true;
      bar.abort();
      throw error;
    }
    bar.finish();
    const elapsedMs = bar.elapsedMs;
    if (context.json) {
      return context.printJson({
        volumeId,
        offset: options.offset,
        length,
        out: options.out,
        requests: pieces.length,
        retries: tracker.retries,
        elapsedMs: Math.round(elapsedMs),
      });
    }
    context.hint(formatTransferSummary({ verb: 'read', bytes: length, elapsedMs, requests: pieces.length, retries: tracker.retries }));
  });

  volume
    .command('partition')
    .description("show one partition's head-node replicas: epoch, last committed op, pending notes")
    .argument('<volume-id>', 'the volume, e.g. vol-0123456789abcdef0', parseVolumeIdArgument)
    .argument('<partition>', 'the partition number, from 0', (text: string) => parseCountArgument(text, 'partition number', 0))
    .action(async (volumeId: string, partition: number) => {
      const status = await context.client().getPartition(volumeId, partition);
      if (context.json) return context.printJson(status);
      context.print(formatPartitionStatus(status));
    });
}

/**
 * Fetches pieces with up to `concurrency` in flight but hands them to `emit` strictly in
 * order, as a pipe needs. A finished piece waits for the ones before it, so memory stays
 * at `concurrency` pieces.
 */
async function readToStream(
  pieces: readonly TransferPiece[],
  concurrency: number,
  fetchPiece: (piece: TransferPiece) => Promise<Buffer>,
  emit: (data: Buffer) => Promise<void>,
): Promise<void> {
  const inflight: Array<Promise<Buffer>> = [];
  const start = (piece: TransferPiece) => {
    const pending = fetchPiece(piece);
    // Observed here so a later piece failing while an earlier one is awaited is not "unhandled".
    pending.catch(() => undefined);
    inflight.push(pending);
  };
  for (const piece of pieces) {
    start(piece);
    if (inflight.length >= concurrency) await emit(await (inflight.shift() as Promise<Buffer>));
  }
  while (inflight.length > 0) await emit(await (inflight.shift() as Promise<Buffer>));
}
