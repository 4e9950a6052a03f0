import { randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileErrorReason, UsageError } from '../errors.js';
import { opToRule } from '../plan/compose.js';
import type { ManifestProblem, PlanEntry, Rule, SourceLocation, Target } from '../plan/types.js';
import type { FailureReason, JournalEntry, Outcome } from '../runner/types.js';
import { createScrubber } from './logger.js';

// ---------------------------------------------------------------------------------------------
// Files of a run directory (design.md §5)

export const SUMMARY_FILE = 'summary.json';
export const JOURNAL_FILE = 'journal.ndjson';
export const FAILURES_FILE = 'failures.ndjson';
export const UNDO_FILE = 'undo.ndjson';
export const PLAN_FILE = 'plan.ndjson';
export const REJECTS_FILE = 'rejects.ndjson';
export const DRIFT_FILE = 'drift.ndjson';

export const RUN_FILES = {
  summary: SUMMARY_FILE,
  journal: JOURNAL_FILE,
  failures: FAILURES_FILE,
  undo: UNDO_FILE,
  plan: PLAN_FILE,
  rejects: REJECTS_FILE,
  drift: DRIFT_FILE,
} as const;

/** Parent of the default run directories. */
export const DEFAULT_RUNS_ROOT = 'retag-runs';

/** `2026-11-28T01-30-00Z`: UTC, second precision, no `:` (not allowed in Windows file names). */
export function runTimestamp(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

// ---------------------------------------------------------------------------------------------
// Creating and opening run directories

async function isNonEmptyDir(dir: string): Promise<boolean | undefined> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`run directory ${dir}: ${fileErrorReason(err)}`, { cause: err });
  }
  if (!st.isDirectory()) throw new UsageError(`run directory ${dir} exists and is not a directory`);
  return (await readdir(dir)).length > 0;
}

/**
 * Create `dir` (recursively) for a new run. An existing empty directory is fine; a non-empty one is
 * refused, so a new run never mixes its journal with another run's (use --resume for that).
 */
export async function ensureFreshRunDir(dir: string): Promise<string> {
  if (await isNonEmptyDir(dir)) {
    throw new UsageError(
      `run directory ${dir} already exists and is not empty; choose another --out, or continue that run with --resume ${dir}`,
    );
  }
  await makeRunDir(dir);
  return dir;
}

/** mkdir -p, with a message a user can act on (exit 2) when the path cannot be a directory. */
async function makeRunDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`cannot create the run directory ${dir}: ${fileErrorReason(err)}`, { cause: err });
  }
}

/** Open the directory of an earlier run (--resume, undo). It must exist. */
export async function openExistingRunDir(dir: string): Promise<string> {
  const nonEmpty = await isNonEmptyDir(dir);
  if (nonEmpty === undefined) throw new UsageError(`run directory ${dir} does not exist`);
  return dir;
}

/**
 * The directory of a new run: `out` when given (must be new or empty), else
 * `retag-runs/<UTC timestamp>/`; two runs started in the same second get `-2`, `-3`… suffixes
 * instead of a refusal, since nobody chose that name.
 */
export async function createRunDir(out?: string, now: Date = new Date()): Promise<string> {
  if (out !== undefined) return ensureFreshRunDir(out);
  const base = join(DEFAULT_RUNS_ROOT, runTimestamp(now));
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    if (!(await isNonEmptyDir(dir))) {
      await makeRunDir(dir);
      return dir;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The journal: one line per finished item, written as it finishes

/** One journal line, keys in a stable, readable order. */
function journalLine(e: JournalEntry): string {
  const ordered: Record<string, unknown> = { id: e.id, outcome: e.outcome };
  if (e.reason !== undefined) ordered.reason = e.reason;
  ordered.before = e.before;
  ordered.after = e.after;
  ordered.attempts = e.attempts;
  if (e.status !== undefined) ordered.status = e.status;
  if (e.error !== undefined) ordered.error = e.error;
  ordered.at = e.at;
  return `${JSON.stringify(ordered)}\n`;
}

function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

export interface JournalWriterOptions {
  /** Continue an existing journal (--resume); otherwise the journal must not exist yet. */
  append: boolean;
  /** Secrets to censor from every line (error messages). */
  redact?: string[];
}

/**
 * Appends one line per finished item with a synchronous write on an O_APPEND fd: once `write`
 * returns, the line is in the kernel, so a `kill -9` loses only items still in flight.
 */
export class JournalWriter {
  private fd: number | undefined;

  private constructor(
    fd: number,
    readonly path: string,
    private readonly scrub: (s: string) => string,
  ) {
    this.fd = fd;
  }

  static async open(dir: string, options: JournalWriterOptions): Promise<JournalWriter> {
    const path = join(dir, JOURNAL_FILE);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (options.append ? 0 : constants.O_EXCL);
    let fd: number;
    try {
      fd = openSync(path, flags, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new UsageError(`${path} already exists; continue that run with --resume ${dir}`, { cause: err });
      }
      throw err;
    }
    // A run killed mid-write leaves a torn last line; start on a fresh line so the first new
    // entry is not glued to it (readJournal then skips only the torn fragment).
    if (options.append && !endsWithNewline(path, fd)) writeAllSync(fd, '\n');
    return new JournalWriter(fd, path, createScrubber(options.redact ?? []));
  }

  write(entry: JournalEntry): void {
    if (this.fd === undefined) throw new Error('JournalWriter: write after close');
    writeAllSync(this.fd, this.scrub(journalLine(entry)));
  }

  async close(): Promise<void> {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function endsWithNewline(path: string, appendFd: number): boolean {
  const size = fstatSync(appendFd).size;
  if (size === 0) return true;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1);
    readSync(fd, buf, 0, 1, size - 1);
    return buf[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

const OUTCOMES: ReadonlySet<string> = new Set<Outcome>(['updated', 'unchanged', 'failed', 'skipped']);

function isJournalEntry(v: unknown): v is JournalEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  return typeof e.id === 'string' && typeof e.outcome === 'string' && OUTCOMES.has(e.outcome);
}

/**
 * Read a run's journal. Lines that do not parse (the torn last line of a killed run, or such a
 * fragment left mid-file by a resume) are skipped and counted in `tornLines`. A missing journal
 * (the run died before any item finished) reads as empty.
 */
export async function readJournal(dir: string): Promise<{ entries: JournalEntry[]; tornLines: number }> {
  const entries: JournalEntry[] = [];
  let tornLines = 0;
  const path = join(dir, JOURNAL_FILE);
  try {
    await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries, tornLines };
    throw err;
  }
  const input = createReadStream(path, { encoding: 'utf8' });
  try {
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        tornLines++;
        continue;
      }
      if (isJournalEntry(parsed)) entries.push(parsed);
      else tornLines++;
    }
  } finally {
    input.destroy();
  }
  return { entries, tornLines };
}

/**
 * id → the entry that decides the item's state: its last entry, except that a `skipped` entry
 * (written by a resume for an item already done) never hides the earlier `updated`/`unchanged`
 * entry it skipped, so undo and a second resume still see what the first run did.
 */
export function latestById(entries: Iterable<JournalEntry>): Map<string, JournalEntry> {
  const latest = new Map<string, JournalEntry>();
  for (const e of entries) {
    const prev = latest.get(e.id);
    if (e.outcome === 'skipped' && prev !== undefined && prev.outcome !== 'skipped') continue;
    latest.set(e.id, e);
  }
  return latest;
}

/** Resume: an item is done (skipped on resume) when its latest outcome is updated or unchanged. */
export function isDone(entry: JournalEntry | undefined): boolean {
  return entry?.outcome === 'updated' || entry?.outcome === 'unchanged';
}

// ---------------------------------------------------------------------------------------------
// Summary

export interface RunCounts {
  updated: number;
  unchanged: number;
  failed: number;
  skipped: number;
  total: number;
}

export interface RunSummary {
  command: string;
  manifest?: string;
  counts: RunCounts;
  failuresByReason: Record<string, number>;
  requests: { total: number; reads: number; writes: number; retries: number; status429: number };
  startedAt: string;
  endedAt: string;
  durationMs: number;
  exitCode: number;
  aborted?: string;
  runDir: string;
  rate?: { mode: 'fixed' | 'auto'; final: number };
  /** Items not finished when the run was aborted or interrupted (resumable). */
  unfinished?: number;
  /** On a resumed run, the counts over every invocation of it (`counts` is this invocation's). */
  wholeRun?: RunCounts;
  /** Dry run / plan: items that would be updated (nothing was written). */
  wouldChange?: number;
  /** `--verify`: images re-read after the run, and how many no longer hold what it wrote. */
  verify?: { checked: number; drifted: number; incomplete?: string };
  /** `--skip-invalid`: manifest problems left out of the run (see rejects.ndjson). */
  rejected?: number;
}

/**
 * Counts per outcome over the items' latest entries (see latestById), and failed items per
 * reason (`not_found`, `forbidden`, `http`, `retries_exhausted`, `network`, `aborted`).
 */
export function summarizeJournal(latest: Map<string, JournalEntry>): {
  counts: RunCounts;
  failuresByReason: Record<string, number>;
} {
  const counts: RunCounts = { updated: 0, unchanged: 0, failed: 0, skipped: 0, total: 0 };
  const byReason: Record<string, number> = {};
  for (const e of latest.values()) {
    counts[e.outcome]++;
    counts.total++;
    if (e.outcome === 'failed') {
      const key = e.reason ?? 'unknown';
      byReason[key] = (byReason[key] ?? 0) + 1;
    }
  }
  return { counts, failuresByReason: byReason };
}

export async function writeSummary(dir: string, summary: RunSummary, options: { redact?: string[] } = {}): Promise<void> {
  const scrub = createScrubber(options.redact ?? []);
  await writeFileAtomic(join(dir, SUMMARY_FILE), scrub(`${JSON.stringify(summary, null, 2)}\n`));
}

// ---------------------------------------------------------------------------------------------
// failures.ndjson, undo.ndjson, plan.ndjson, rejects.ndjson

const DEFAULT_ERRORS: Record<FailureReason, string> = {
  not_found: 'id not in the library',
  forbidden: 'not allowed to update this image',
  http: 'request rejected',
  retries_exhausted: 'retries exhausted',
  network: 'network error',
  aborted: 'run aborted before the item finished',
};

/**
 * The `_error` annotation of a failed item: `404 Image not found after 1 attempt`,
 * `not_found: id not in the library`, `network: ECONNRESET after 6 attempts`.
 */
export function describeFailure(entry: JournalEntry): string {
  const reason = entry.reason;
  const message = entry.error ?? (reason ? DEFAULT_ERRORS[reason] : undefined) ?? 'failed';
  const head = entry.status !== undefined ? `${entry.status} ${message}` : `${reason ?? 'failed'}: ${message}`;
  if (entry.attempts <= 0) return head;
  return `${head} after ${entry.attempts} attempt${entry.attempts === 1 ? '' : 's'}`;
}

/** A failures.ndjson line: the item's composed operations as one valid rule, plus `_error`. */
export function failureLine(target: Target, entry: JournalEntry): Rule & { _error: string } {
  const { source: _source, ...rule } = opToRule(target.id, target.op);
  return { ...rule, _error: describeFailure(entry) };
}

/** Pair each target whose latest entry failed with that entry, in target order. */
export function failedItems(
  targets: Iterable<Target>,
  latest: Map<string, JournalEntry>,
): Array<{ target: Target; entry: JournalEntry }> {
  const items: Array<{ target: Target; entry: JournalEntry }> = [];
  for (const target of targets) {
    const entry = latest.get(target.id);
    if (entry?.outcome === 'failed') items.push({ target, entry });
  }
  return items;
}

/** failures.ndjson: `retag run failures.ndjson` re-runs exactly these items. Written even when empty. */
export async function writeFailures(
  dir: string,
  items: Iterable<{ target: Target; entry: JournalEntry }>,
): Promise<number> {
  let n = 0;
  const lines = mapIter(items, ({ target, entry }) => {
    n++;
    return failureLine(target, entry);
  });
  await writeNdjson(join(dir, FAILURES_FILE), lines);
  return n;
}

/**
 * undo.ndjson: `{"id","set":before}` for every item whose latest outcome is `updated` (`"set": []`
 * for an image that had no tags). Items updated without a read (`--no-read`) have no `before`
 * and cannot be undone: they are counted in `noBefore`.
 */
export async function writeUndo(
  dir: string,
  entries: Iterable<JournalEntry>,
): Promise<{ written: number; noBefore: number }> {
  const latest = latestById(entries);
  let written = 0;
  let noBefore = 0;
  function* lines(): Generator<{ id: string; set: string[] }> {
    for (const e of latest.values()) {
      if (e.outcome !== 'updated') continue;
      if (e.before === null) {
        noBefore++;
        continue;
      }
      written++;
      yield { id: e.id, set: e.before };
    }
  }
  await writeNdjson(join(dir, UNDO_FILE), lines());
  return { written, noBefore };
}

/** plan.ndjson: `{id, before, after, action}` per target, streamed. */
/**
 * plan.ndjson, written as entries are resolved: a dry run of a million rules keeps none of them
 * in memory. Lines are buffered and written in 64 KiB chunks (a plan needs no per-line flush).
 */
export class PlanWriter {
  private buffer = '';
  count = 0;

  private constructor(private fd: number | undefined) {}

  static open(dir: string): PlanWriter {
    return new PlanWriter(openSync(join(dir, PLAN_FILE), 'w', 0o644));
  }

  write(e: PlanEntry): void {
    this.count++;
    this.buffer += `${JSON.stringify({ id: e.id, before: e.before, after: e.after, action: e.action })}\n`;
    if (this.buffer.length >= 65_536) this.flush();
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
  }

  private flush(): void {
    if (this.fd === undefined || this.buffer === '') return;
    writeAllSync(this.fd, this.buffer);
    this.buffer = '';
  }
}

export async function writePlan(dir: string, entries: Iterable<PlanEntry> | AsyncIterable<PlanEntry>): Promise<number> {
  const writer = PlanWriter.open(dir);
  try {
    for await (const e of entries) writer.write(e);
  } finally {
    writer.close();
  }
  return writer.count;
}

/** `manifest.csv:17`, `rules.json:$[3]`, or just the file. */
export function formatLocation(source: SourceLocation): string {
  if (source.line !== undefined) return `${source.file}:${source.line}`;
  if (source.path !== undefined) return `${source.file}:${source.path}`;
  return source.file;
}

/** rejects.ndjson (--skip-invalid): `{"location","error","raw"}` per rejected record. */
export async function writeRejects(dir: string, problems: Iterable<ManifestProblem>): Promise<number> {
  let n = 0;
  await writeNdjson(
    join(dir, REJECTS_FILE),
    mapIter(problems, (p) => {
      n++;
      const line: Record<string, unknown> = { location: formatLocation(p.source), error: p.message };
      if (p.raw !== undefined) line.raw = p.raw;
      return line;
    }),
  );
  return n;
}

// ---------------------------------------------------------------------------------------------
// Atomic writers

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

async function writeAtomically(path: string, body: (write: (chunk: string) => Promise<void>) => Promise<void>): Promise<void> {
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'w', 0o644);
  let ok = false;
  try {
    await body(async (chunk) => {
      await fh.write(chunk);
    });
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmp).catch(() => undefined);
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Write a whole file atomically: readers see the old content or the new, never a part. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await writeAtomically(path, (write) => write(content));
}

const CHUNK = 64 * 1024;

/**
 * Stream values as JSON lines to `path`, atomically (temp file in the same directory, then
 * rename). Lines are batched and each batch awaited, so a huge (or async) source never piles up
 * in memory.
 */
export async function writeNdjson(path: string, items: Iterable<unknown> | AsyncIterable<unknown>): Promise<void> {
  await writeAtomically(path, async (write) => {
    let buf = '';
    for await (const item of items) {
      buf += `${JSON.stringify(item)}\n`;
      if (buf.length >= CHUNK) {
        await write(buf);
        buf = '';
      }
    }
    if (buf !== '') await write(buf);
  });
}

function mapIter<T, U>(src: Iterable<T> | AsyncIterable<T>, fn: (t: T) => U): Iterable<U> | AsyncIterable<U> {
  if (Symbol.asyncIterator in src) {
    return (async function* () {
      for await (const t of src as AsyncIterable<T>) yield fn(t);
    })();
  }
  return (function* () {
    for (const t of src as Iterable<T>) yield fn(t);
  })();
}
