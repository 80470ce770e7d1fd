/**
 * A one-line progress bar for long transfers and jobs (`sleds volume write|read`,
 * `sleds snapshot create --wait`, `sleds copy --watch`). Rendering is a pure function of (done, total, elapsed, width), so it is tested
 * without a terminal or a clock; the class only decides when to draw and where.
 */
import { MIB, formatSize } from '../units/sizes.js';
import type { CliStream } from './main.js';

/** What one frame of the bar shows. */
export interface ProgressState {
  /** Bytes (or other units) done so far. */
  readonly done: number;
  readonly total: number;
  /** Milliseconds since the transfer started. */
  readonly elapsedMs: number;
  /** Units per second as measured elsewhere (a server); replaces done / elapsed. */
  readonly rate?: number;
  /** Seconds left as estimated elsewhere, null when unknown; replaces the estimate from the rate. */
  readonly etaSeconds?: number | null;
}

export interface RenderOptions {
  /** Columns available; the line stays at least one shorter, so a terminal never wraps it. */
  readonly width?: number;
  /** A word in front of the bar, such as "write". */
  readonly label?: string;
  /**
   * Counts things instead of bytes: "3/16 partitions" in place of sizes, and no rate.
   * The plural noun; absent for bytes.
   */
  readonly unit?: string;
  /**
   * A few words after the ETA, such as "round 2/3, 12 intermediaries". On a narrow line
   * the bar gives way to it first; then the status goes, then the other fields.
   */
  readonly status?: string;
}

export const DEFAULT_WIDTH = 80;
/** The bar itself never grows beyond this, however wide the terminal. */
export const MAX_BAR_WIDTH = 30;
const MIN_BAR_WIDTH = 5;
/** "999.99 MiB", "9.5 MiB/s" and "59m59s": the widest values that are common. */
const SIZE_FIELD_WIDTH = 10;
const RATE_FIELD_WIDTH = 9;
const ETA_FIELD_WIDTH = 6;

/** "0.3 MiB/s", "9.5 MiB/s", "80 MiB/s": one decimal only where it carries information. */
export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '-- MiB/s';
  const mib = bytesPerSecond / MIB;
  return `${mib < 10 ? mib.toFixed(1) : Math.round(mib).toString()} MiB/s`;
}

/** A remaining time: "7s", "3m05s", "2h04m". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const whole = Math.ceil(seconds);
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  const minutes = Math.floor(whole / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** An elapsed time for summaries: "0.4 s", "12.0 s", then "3m05s" from a minute on. */
export function formatElapsed(ms: number): string {
  return ms < 60_000 ? `${(Math.max(0, ms) / 1000).toFixed(1)} s` : formatEta(ms / 1000);
}

/** Whole percent, rounded down so that 100% means done. */
export function progressPercent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.max(0, Math.min(100, Math.floor((done * 100) / total)));
}

/**
 * Renders one frame: `write  37% [###-------]  96 MiB / 256 MiB  80 MiB/s  ETA 2s`, and a
 * status after it when one is given. The bar takes what the text leaves of `width`, up to
 * MAX_BAR_WIDTH, and is left out when fewer than a handful of columns remain; then the
 * status, ETA, rate and sizes go in that order.
 */
export function renderProgressLine(state: ProgressState, options: RenderOptions = {}): string {
  const width = Math.max(1, Math.floor(options.width ?? DEFAULT_WIDTH));
  const { total, elapsedMs } = state;
  const done = Math.max(0, Math.min(state.done, total));
  const percent = `${progressPercent(done, total)}%`.padStart(4);
  const seconds = elapsedMs / 1000;
  const rate = state.rate ?? (seconds > 0 ? done / seconds : Number.NaN);
  const estimate = done > 0 && rate > 0 ? (total - done) / rate : Number.NaN;
  const eta = done >= total ? 0 : state.etaSeconds === undefined ? estimate : (state.etaSeconds ?? Number.NaN);
  const head = options.label ? `${options.label} ${percent}` : percent;
  // Fields are padded to their usual widest, and the ETA's room is reserved, so the bar keeps
  // its width from frame to frame instead of twitching as "9.5" becomes "10" or "10s" "9s".
  const etaText = formatEta(eta);
  const etaPadding = Math.max(0, ETA_FIELD_WIDTH - etaText.length);
  const fields = options.unit
    ? [`${String(done).padStart(String(total).length)}/${total} ${options.unit}`, `ETA ${etaText}`]
    : [
        `${formatSize(done).padStart(Math.max(SIZE_FIELD_WIDTH, formatSize(total).length))} / ${formatSize(total)}`,
        formatRate(rate).padStart(RATE_FIELD_WIDTH),
        `ETA ${etaText}`,
      ];
  const tail = fields.join('  ');
  const reserved = tail.length + etaPadding;
  // A status follows the ETA's reserved room, so it stands still too.
  const status = options.status ? `${' '.repeat(etaPadding)}  ${options.status}` : '';

  // " [" and "]  " around the bar, and one spare column at the end of the line.
  const room = width - 1 - head.length - reserved - 5 - (status ? status.length - etaPadding : 0);
  const barWidth = Math.min(MAX_BAR_WIDTH, room);
  if (barWidth >= MIN_BAR_WIDTH) {
    const filled = total <= 0 ? barWidth : Math.floor((barWidth * done) / total);
    return `${head} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]  ${tail}${status}`;
  }
  if (options.status) {
    // Without a bar there is nothing to keep still, so the ETA's reserved room goes too.
    const line = [head, ...fields, options.status].join('  ');
    if (line.length <= width - 1) return line;
    // No room for the status at all: the line as it is without one, bar and all.
    const { status: _dropped, ...rest } = options;
    return renderProgressLine(state, rest);
  }
  // Too narrow for a bar: drop the least useful fields first (ETA, then rate, then sizes).
  for (let kept = fields.length; kept >= 0; kept--) {
    const line = [head, ...fields.slice(0, kept)].join('  ');
    if (line.length <= width - 1) return line;
  }
  return head.slice(0, Math.max(1, width - 1));
}

export interface ProgressBarOptions {
  readonly stream: CliStream;
  readonly total: number;
  /** When false the bar draws nothing; the caller still counts, for its summary. */
  readonly enabled: boolean;
  readonly label?: string;
  /** Counts things, not bytes; see RenderOptions.unit. */
  readonly unit?: string;
  /** Milliseconds; injected by tests. */
  readonly now?: () => number;
  /** Redraw at most this often (100 ms: about ten frames a second). */
  readonly minIntervalMs?: number;
}

/** What a frame shows beyond the count; each field stays until it is given again. */
export interface FrameDetails {
  /** The total, when it is learnt only after the bar was made (a copy job's plan). */
  readonly total?: number;
  readonly status?: string;
  readonly rate?: number;
  readonly etaSeconds?: number | null;
}

/**
 * Counts progress and redraws one line on `stream` with a carriage return, at most about
 * ten times a second. `finish()` draws the last frame and ends the line; `abort()` just
 * ends the line, so that an error message that follows starts on a line of its own.
 */
export class ProgressBar {
  private totalCount: number;
  private details: FrameDetails = {};
  /** Set by wait(): the frame is this text alone until the next update. */
  private waiting: string | undefined;
  private readonly stream: CliStream;
  private readonly enabled: boolean;
  private readonly label: string | undefined;
  private readonly unit: string | undefined;
  private readonly now: () => number;
  private readonly minIntervalMs: number;
  private readonly startedAt: number;
  private doneCount = 0;
  private lastDrawAt = Number.NEGATIVE_INFINITY;
  private drawnWidth = 0;
  private closed = false;

  constructor(options: ProgressBarOptions) {
    this.stream = options.stream;
    this.totalCount = options.total;
    this.enabled = options.enabled;
    this.label = options.label;
    this.unit = options.unit;
    this.now = options.now ?? (() => performance.now());
    this.minIntervalMs = options.minIntervalMs ?? 100;
    this.startedAt = this.now();
  }

  get total(): number {
    return this.totalCount;
  }

  get done(): number {
    return this.doneCount;
  }

  /** Milliseconds since the bar was made. */
  get elapsedMs(): number {
    return this.now() - this.startedAt;
  }

  /** The frame as it would be drawn now. */
  render(): string {
    // A pseudo-terminal without a size reports 0 columns: use the default then too.
    const width = this.stream.columns || DEFAULT_WIDTH;
    if (this.waiting !== undefined) {
      const line = this.label === undefined ? this.waiting : `${this.label}  ${this.waiting}`;
      return line.slice(0, Math.max(1, width - 1));
    }
    const { rate, etaSeconds, status } = this.details;
    return renderProgressLine(
      {
        done: this.doneCount,
        total: this.totalCount,
        elapsedMs: this.elapsedMs,
        ...(rate === undefined ? {} : { rate }),
        ...(etaSeconds === undefined ? {} : { etaSeconds }),
      },
      {
        width,
        ...(this.label === undefined ? {} : { label: this.label }),
        ...(this.unit === undefined ? {} : { unit: this.unit }),
        ...(status === undefined ? {} : { status }),
      },
    );
  }

  /**
   * Shows `text` alone, for the time before anything can be counted (a job that is still
   * being planned). The next update() brings the bar back.
   */
  wait(text: string): void {
    this.waiting = text;
    this.redraw();
  }

  /** Adds `amount` to what is done and redraws if the last frame is old enough. */
  advance(amount: number): void {
    this.update(this.doneCount + amount);
  }

  /** Sets what is done (and, optionally, the total, status, rate or ETA) and redraws if the last frame is old enough. */
  update(done: number, details: FrameDetails = {}): void {
    this.doneCount = done;
    this.details = { ...this.details, ...details };
    if (details.total !== undefined) this.totalCount = details.total;
    this.waiting = undefined;
    this.redraw();
  }

  private redraw(): void {
    if (!this.enabled || this.closed) return;
    const now = this.now();
    if (now - this.lastDrawAt < this.minIntervalMs) return;
    this.lastDrawAt = now;
    this.draw();
  }

  /** Draws the final frame (whatever the throttle says) and ends the line. */
  finish(): void {
    if (!this.enabled || this.closed) return;
    this.draw();
    this.close();
  }

  /** Ends the line without another frame; for failures. */
  abort(): void {
    if (!this.enabled || this.closed) return;
    this.close();
  }

  private draw(): void {
    const line = this.render();
    // Pad over the previous frame rather than use ANSI erase codes, which a forced bar in a log would show.
    this.stream.write(`\r${line.padEnd(this.drawnWidth)}`);
    this.drawnWidth = line.length;
  }

  private close(): void {
    this.closed = true;
    if (this.drawnWidth > 0) this.stream.write('\n');
  }
}
