import { setLiveLine } from './terminal.js';
/** The outcomes the bar counts (a conflict is shown with the failures). */
type Outcome = 'updated' | 'unchanged' | 'failed' | 'skipped';

/** The one logger method progress needs (a pino Logger fits). */
export interface ProgressLogger {
  info(obj: object, msg?: string): void;
}

/**
 * What the line is about:
 * - `work`: items done of the total (run, undo): the bar, rate, ETA, failures, 429s.
 * - `scan`: a command that only reads (plan, export, tags): pages and images read, matched so far.
 * - `auto` (default): `scan` while `scan()` has been called and no item has finished yet, then
 *   `work` (a run's line then also says how far its scan got: `read N`).
 */
export type ProgressMode = 'auto' | 'work' | 'scan';

export interface ProgressOptions {
  /** Items in the run; undefined while unknown (streaming manifest). In scan mode: items wanted (matched of total). */
  total: number | undefined;
  /** Where the live line goes (default stderr). Its `columns` is the width the line fits in, re-read on `resize`. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Live line on a terminal; otherwise a progress log line every `intervalMs`. */
  isTTY?: boolean;
  logger?: ProgressLogger;
  intervalMs?: number;
  /** Clock in ms (tests). */
  now?: () => number;
  mode?: ProgressMode;
}

/** How far a read-only scan got; absolute counts (the latest call wins). */
export interface ScanCounts {
  /** Listing pages read so far. */
  pages: number;
  /** Images read so far (every record of those pages). */
  images: number;
  /** Wanted images found so far (plan, verify); omit when the scan wants everything (export, tags). */
  matched?: number;
}

export interface Progress {
  tick(outcome: Outcome): void;
  setTotal(n: number): void;
  note429(): void;
  /** Report a scan's progress (pages, images read, matched so far). */
  scan(counts: ScanCounts): void;
  /** The current state, as rendered and logged. */
  snapshot(): ProgressSnapshot;
  stop(): void;
}

export interface ScanSnapshot {
  pages: number;
  images: number;
  /** null when the scan wants every image (no `matched` given). */
  matched: number | null;
  /** Images read per second over the last ~30 s. */
  rate: number;
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
  /** Which line is shown (default `work`). */
  phase?: 'work' | 'scan';
  /** Present once `scan()` was called (and always in the scan phase). */
  scan?: ScanSnapshot;
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

/** Width assumed when the stream does not say (not a real terminal, or a terminal that reports 0). */
export const DEFAULT_COLUMNS = 80;

function streamColumns(stream: { columns?: number }): number {
  const c = stream.columns;
  return typeof c === 'number' && Number.isFinite(c) && c > 0 ? Math.floor(c) : DEFAULT_COLUMNS;
}

/**
 * Progress for people on a terminal (one live line: done/total, rate, ETA, failures, 429s, or
 * a scan's pages, images and matches), and a `progress` info line every `intervalMs` otherwise,
 * so cron logs show a long run is alive. The live line always fits the terminal's width (see
 * renderProgressLine), so a redraw never wraps onto a new line.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const isTTY = options.isTTY ?? (stream as { isTTY?: boolean }).isTTY === true;
  const intervalMs = options.intervalMs ?? 5000;
  const now = options.now ?? Date.now;
  const mode = options.mode ?? 'auto';
  const started = now();
  const window = new RateWindow(started);
  const scanWindow = new RateWindow(started);

  let total = options.total;
  const counts = { updated: 0, unchanged: 0, failed: 0, skipped: 0 };
  let done = 0;
  let status429 = 0;
  let scanned: { pages: number; images: number; matched: number | null } | undefined;
  let stopped = false;

  const phase = (): 'work' | 'scan' => {
    if (mode === 'scan') return 'scan';
    if (mode === 'work') return 'work';
    return scanned !== undefined && done === 0 ? 'scan' : 'work';
  };

  const snapshot = (): ProgressSnapshot => {
    const t = now();
    const rate = window.rate(t, done);
    const left = total !== undefined ? Math.max(0, total - done) : undefined;
    const p = phase();
    const scan = scanned ?? (p === 'scan' ? { pages: 0, images: 0, matched: null } : undefined);
    return {
      done,
      total: total ?? null,
      ...counts,
      status429,
      rate: round1(rate),
      etaSeconds: left === undefined ? null : left === 0 ? 0 : rate > 0 ? Math.round(left / rate) : null,
      elapsedSeconds: Math.round((t - started) / 1000),
      phase: p,
      ...(scan ? { scan: { ...scan, rate: round1(scanWindow.rate(t, scan.images)) } } : {}),
    };
  };

  let timer: NodeJS.Timeout | undefined;
  let finish: (() => void) | undefined;

  if (isTTY) {
    // The line is redrawn in place (`\r`, erase line). Log lines for the same terminal are
    // written above it (see terminal.ts). No cursor save/restore: a restored cursor position
    // goes stale as soon as anything else writes to the terminal. It fits in `columns - 1`, so
    // the terminal never wraps it (a wrapped line is not erased by the next redraw).
    let width = streamColumns(stream as { columns?: number });
    let shown: string | undefined;
    const line = () => renderProgressLine(snapshot(), width);
    const clear = () => stream.write('\r\x1b[2K');
    const show = (text: string) => {
      shown = text;
      stream.write(`\r\x1b[2K${text}`);
    };
    const draw = () => show(line());
    // The periodic redraw writes only when the text changed.
    const refresh = () => {
      const text = line();
      if (text !== shown) show(text);
    };
    const onResize = () => {
      width = streamColumns(stream as { columns?: number });
      draw();
    };
    stream.on('resize', onResize);
    finish = () => {
      stream.removeListener('resize', onResize);
      setLiveLine(undefined);
      stream.write(`\r\x1b[2K${line()}\n`);
    };
    setLiveLine({ clear, redraw: draw });
    draw();
    timer = setInterval(refresh, 200); // 5 a second: the rate and ETA move between ticks
    timer.unref();
  } else if (options.logger) {
    const logger = options.logger;
    timer = setInterval(() => logger.info(progressLogFields(snapshot()), 'progress'), intervalMs);
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
    scan(c) {
      if (stopped) return;
      scanned = { pages: c.pages, images: c.images, matched: c.matched ?? null };
      scanWindow.record(now(), c.images);
    },
    snapshot,
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      finish?.();
    },
  };
}

/**
 * Progress for a command that only reads (plan, export, tags): the scan line on a terminal, a
 * `progress` log line (`phase: "scan"`, pages, images, matched) every `intervalMs` otherwise.
 * Call `scan({ pages, images, matched })` after each page, `stop()` at the end.
 */
export function createScanProgress(options: Omit<ProgressOptions, 'total' | 'mode'> & { total?: number }): Progress {
  return createProgress({ ...options, total: options.total, mode: 'scan' });
}

/**
 * The fields of a `progress` log line: the whole snapshot for work, and for a scan only what
 * says how far it got (done/ETA mean nothing while nothing is written).
 */
export function progressLogFields(s: ProgressSnapshot): object {
  if (s.phase !== 'scan' || !s.scan) return s;
  return {
    phase: 'scan',
    pages: s.scan.pages,
    images: s.scan.images,
    matched: s.scan.matched,
    total: s.total,
    rate: s.scan.rate,
    ...(s.failed > 0 ? { failed: s.failed } : {}),
    status429: s.status429,
    elapsedSeconds: s.elapsedSeconds,
  };
}

const BAR_WIDTH = 30;
const MIN_BAR_WIDTH = 10;

function barOf(progress: number, width: number): string {
  const filled = Math.min(width, Math.max(0, Math.round(progress * width)));
  return `[${'='.repeat(filled)}${'-'.repeat(width - filled)}] `;
}

/** One bar line: `[=====-----] 120/500 | 9.8/s | ETA 39s | failed 2 | 429s 1`. */
export function formatBar(s: ProgressSnapshot, progress: number, width: number): string {
  const barText = s.total !== null && s.total > 0 ? barOf(progress, width) : '';
  const eta = s.etaSeconds === null ? '?' : formatDuration(s.etaSeconds);
  return `${barText}${s.done}/${s.total ?? '?'} | ${s.rate}/s | ETA ${eta} | failed ${s.failed} | 429s ${s.status429}`;
}

const fields = (...parts: Array<string | undefined>) => parts.filter((p): p is string => p !== undefined).join(' | ');

/** Images/s: one decimal below 100, whole numbers above (a scan reads hundreds a second). */
function formatScanRate(rate: number): string {
  return `${rate >= 100 ? Math.round(rate) : round1(rate)}`;
}

/**
 * The live line for a terminal `width` columns wide: never longer than `width - 1` (a line that
 * fills the last column wraps on some terminals, and a wrapped line is not erased by a redraw).
 * Pure. When the full line does not fit, it degrades in this order:
 * - work: shrink the bar (30 → 10 columns), drop the scan's `read N`, drop the bar, drop the ETA,
 *   drop the rate, drop the 429s, shorten `failed`, keep only done/total, then the percentage.
 * - scan: drop the rate, drop the 429s, shorten the labels, drop the pages, keep only matched
 *   (or images read), cut it.
 */
export function renderProgressLine(s: ProgressSnapshot, width: number): string {
  const max = Math.floor(width) - 1;
  if (!(max > 0)) return '';
  const candidates = s.phase === 'scan' ? scanLines(s) : workLines(s, max);
  for (const line of candidates) if (line !== undefined && line.length <= max) return line;
  const last = candidates.filter((l): l is string => l !== undefined).at(-1) ?? '';
  return last.slice(0, max);
}

function workLines(s: ProgressSnapshot, max: number): Array<string | undefined> {
  const core = `${s.done}/${s.total ?? '?'}`;
  const rate = `${s.rate}/s`;
  const eta = `ETA ${s.etaSeconds === null ? '?' : formatDuration(s.etaSeconds)}`;
  const failed = `failed ${s.failed}`;
  const r429 = `429s ${s.status429}`;
  const read = s.scan ? `read ${s.scan.images}` : undefined;
  const hasBar = s.total !== null && s.total > 0;
  const progress = hasBar ? Math.min(1, s.done / s.total!) : 0;
  // The bar takes what the text leaves, up to 30 columns; below 10 it is not worth showing.
  const withBar = (text: string) => {
    if (!hasBar) return text;
    const room = max - text.length - 3; // `[`, `] `
    return room >= MIN_BAR_WIDTH ? `${barOf(progress, Math.min(BAR_WIDTH, room))}${text}` : undefined;
  };
  const full = fields(core, rate, eta, failed, r429, read);
  const noRead = fields(core, rate, eta, failed, r429);
  return [
    withBar(full),
    withBar(noRead),
    full,
    noRead,
    fields(core, rate, failed, r429),
    fields(core, failed, r429),
    fields(core, failed),
    `${core} fail ${s.failed}`,
    core,
    hasBar ? `${Math.floor(progress * 100)}%` : `${s.done}`,
  ];
}

function scanLines(s: ProgressSnapshot): string[] {
  const scan = s.scan ?? { pages: 0, images: 0, matched: null, rate: 0 };
  const matchedOf = scan.matched === null ? undefined : s.total !== null ? `${scan.matched}/${s.total}` : `${scan.matched}`;
  const matched = matchedOf === undefined ? undefined : `${matchedOf} matched`;
  const images = `${scan.images} images read`;
  const rate = `${formatScanRate(scan.rate)} img/s`;
  const failed = s.failed > 0 ? `failed ${s.failed}` : undefined;
  const r429 = `429s ${s.status429}`;
  const head = `scanning: page ${scan.pages}`;
  return [
    fields(head, images, matched, rate, failed, r429),
    fields(head, images, matched, failed, r429),
    fields(head, images, matched, failed),
    fields(`scan p${scan.pages}`, `${scan.images} read`, matched, failed),
    fields(`${scan.images} read`, matched),
    matched ?? `${scan.images} read`,
    matchedOf ?? `${scan.images}`,
  ];
}
