import { setLiveLine } from './terminal.js';
/** The outcomes the bar counts (a conflict is shown with the failures). */
type Outcome = 'updated' | 'unchanged' | 'failed' | 'skipped';

/** The one logger method progress needs (a pino Logger fits). */
export interface ProgressLogger {
  info(obj: object, msg?: string): void;
}

export interface ProgressOptions {
  /** Items in the run; undefined while unknown (streaming manifest). */
  total: number | undefined;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Live bar on a terminal; otherwise a progress log line every `intervalMs`. */
  isTTY?: boolean;
  logger?: ProgressLogger;
  intervalMs?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface Progress {
  tick(outcome: Outcome): void;
  setTotal(n: number): void;
  note429(): void;
  stop(): void;
}

export interface ProgressSnapshot {
  done: number;
  total: number | null;
  updated: number;
  unchanged: number;
  failed: number;
  skipped: number;
  status429: number;
  /** Items per second over the last ~30 s. */
  rate: number;
  /** Seconds left at that rate; null when the total or the rate is unknown. */
  etaSeconds: number | null;
  elapsedSeconds: number;
}

/** Rate over a sliding window: samples of (time, done) at most once a second, the last ~30 s. */
class RateWindow {
  private readonly samples: Array<{ t: number; done: number }> = [];

  constructor(
    start: number,
    private readonly windowMs = 30_000,
  ) {
    this.samples.push({ t: start, done: 0 });
  }

  record(t: number, done: number): void {
    if (t - this.samples[this.samples.length - 1]!.t >= 1000) this.samples.push({ t, done });
    // Keep the newest sample at or before the window's start as the base.
    while (this.samples.length > 1 && t - this.samples[1]!.t >= this.windowMs) this.samples.shift();
  }

  rate(t: number, done: number): number {
    const first = this.samples[0]!;
    const secs = (t - first.t) / 1000;
    return secs > 0 ? (done - first.done) / secs : 0;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** `42s`, `3m 05s`, `1h 02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Progress for people on a terminal (a live bar: done/total, rate, ETA, failures, 429s), and a
 * `progress` info line every `intervalMs` otherwise, so cron logs show a long run is alive.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const isTTY = options.isTTY ?? (stream as { isTTY?: boolean }).isTTY === true;
  const intervalMs = options.intervalMs ?? 5000;
  const now = options.now ?? Date.now;
  const started = now();
  const window = new RateWindow(started);

  let total = options.total;
  const counts = { updated: 0, unchanged: 0, failed: 0, skipped: 0 };
  let done = 0;
  let status429 = 0;
  let stopped = false;

  const snapshot = (): ProgressSnapshot => {
    const t = now();
    const rate = window.rate(t, done);
    const left = total !== undefined ? Math.max(0, total - done) : undefined;
    return {
      done,
      total: total ?? null,
      ...counts,
      status429,
      rate: round1(rate),
      etaSeconds: left === undefined ? null : left === 0 ? 0 : rate > 0 ? Math.round(left / rate) : null,
      elapsedSeconds: Math.round((t - started) / 1000),
    };
  };

  let timer: NodeJS.Timeout | undefined;
  let bar: { draw(): void; finish(): void } | undefined;

  if (isTTY) {
    // The bar is one line redrawn in place (`\r`, erase line). Log lines for the same terminal
    // are written above it (see terminal.ts). No cursor save/restore: a restored cursor position
    // goes stale as soon as anything else writes to the terminal.
    const width = 30;
    const line = () => {
      const s = snapshot();
      const progress = s.total ? Math.min(1, s.done / s.total) : 0;
      return formatBar(s, progress, width);
    };
    const clear = () => stream.write('\r\x1b[2K');
    const draw = () => stream.write(`\r\x1b[2K${line()}`);
    bar = { draw, finish: () => stream.write(`\r\x1b[2K${line()}\n`) };
    setLiveLine({ clear, redraw: draw });
    draw();
    timer = setInterval(draw, 200); // 5 redraws a second: the rate and ETA move between ticks
    timer.unref();
  } else if (options.logger) {
    const logger = options.logger;
    timer = setInterval(() => logger.info(snapshot(), 'progress'), intervalMs);
    timer.unref();
  }

  return {
    tick(outcome) {
      if (stopped) return;
      counts[outcome]++;
      done++;
      window.record(now(), done);
      if (total !== undefined && done > total) total = done;
    },
    setTotal(n) {
      total = n;
    },
    note429() {
      status429++;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      if (bar) {
        setLiveLine(undefined);
        bar.finish();
      }
    },
  };
}

/** One bar line: `[=====-----] 120/500 | 9.8/s | ETA 39s | failed 2 | 429s 1`. */
export function formatBar(s: ProgressSnapshot, progress: number, width: number): string {
  let barText = '';
  if (s.total !== null && s.total > 0) {
    const filled = Math.min(width, Math.max(0, Math.round(progress * width)));
    barText = `[${'='.repeat(filled)}${'-'.repeat(width - filled)}] `;
  }
  const eta = s.etaSeconds === null ? '?' : formatDuration(s.etaSeconds);
  return `${barText}${s.done}/${s.total ?? '?'} | ${s.rate}/s | ETA ${eta} | failed ${s.failed} | 429s ${s.status429}`;
}
