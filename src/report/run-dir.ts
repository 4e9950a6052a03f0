import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileErrorReason, UsageError } from '../errors.js';
import { opToRules } from '../plan/compose.js';
import { guardedDelta } from '../plan/resolve.js';
import type { GuardedOp, ItemOp, ManifestProblem, PlanEntry, Rule, SourceLocation } from '../plan/types.js';
import type { FailureReason, JournalEntry, OutcomeCounts } from '../runner/types.js';
import { createScrubber } from '../secrets.js';

// ---------------------------------------------------------------------------------------------
// Files of a run directory (design.md §5)

export const SUMMARY_FILE = 'summary.json';
export const FAILURES_FILE = 'failures.ndjson';
export const UNDO_FILE = 'undo.ndjson';
export const PLAN_FILE = 'plan.ndjson';
export const REJECTS_FILE = 'rejects.ndjson';
export const DRIFT_FILE = 'drift.ndjson';
export const CONFLICTS_FILE = 'conflicts.ndjson';

/** Run directories and their files hold customers' tags: owner only (design.md §5). */
export const RUN_DIR_MODE = 0o700;
export const RUN_FILE_MODE = 0o600;

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
    await mkdir(dir, { recursive: true, mode: RUN_DIR_MODE });
    // mkdir's mode is filtered by the umask, and an existing empty directory keeps its own.
    await chmod(dir, RUN_DIR_MODE);
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
// Summary

export type RunCounts = OutcomeCounts;

export function emptyCounts(): RunCounts {
  return { updated: 0, unchanged: 0, failed: 0, conflict: 0, skipped: 0, total: 0 };
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
  /** The rate asked for and the rate achieved (requests / duration). */
  rate?: { mode: 'fixed' | 'auto'; final: number; achieved?: number };
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
  /** Passes over the listing (1 + confirming passes) and the GET requests they cost. */
  scan?: { passes: number; listRequests: number };
  /** Library-wide rules: images read, and images each rule selected. */
  scanned?: number;
  rules?: Array<{ rule: string; matched: number }>;
  /** Resume: items done before whose operation changed since, done again. */
  redone?: number;
  /** undo: the run undone; items it could not undo (written without a read). */
  undoOf?: string;
  notUndoable?: number;
  /** apply: the plan applied. */
  plan?: string;
}

/** The state of an item as the reports need it (folded from the journal by runner/journal.ts). */
export interface ReportItem {
  id: string;
  /** The latest outcome line, if any. */
  outcome?: JournalEntry;
  state: string;
  earliestBefore: string[] | null | undefined;
  written?: string[];
  mayHaveChanged: boolean;
}

/** Counts per latest outcome over the whole run, and failed items per reason. */
export function summarizeItems(items: Iterable<ReportItem>): { counts: RunCounts; failuresByReason: Record<string, number> } {
  const counts = emptyCounts();
  const byReason: Record<string, number> = {};
  for (const item of items) {
    const e = item.outcome;
    if (!e || item.state === 'pending') continue;
    const outcome = e.outcome as keyof RunCounts;
    if (outcome in counts && outcome !== 'total') counts[outcome]++;
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
// failures.ndjson, undo.ndjson, conflicts.ndjson, plan.ndjson, rejects.ndjson

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

/**
 * An item's operation as manifest rules: a composed operation as its rules; a guarded write
 * (apply/undo) as a delta (`add` what it adds, `remove` what it takes away), so re-running it
 * keeps whatever else the image holds now.
 */
export function itemRules(id: string, op: ItemOp | undefined, fallbackSet: string[] | null): Array<Rule & { id: string }> {
  // No operation recorded (journals of older versions): never a clear, which could wipe tags.
  if (op === undefined) return [fallbackSet === null ? { id, add: [] } : fallbackSet.length === 0 ? { id, clear: true } : { id, set: fallbackSet }];
  if (op.kind === 'guarded') {
    const { add, remove } = guardedDelta(op);
    const rule: Rule & { id: string } = { id };
    if (add.length > 0) rule.add = add;
    if (remove.length > 0) rule.remove = remove;
    if (!rule.add && !rule.remove) rule.add = [];
    return [rule];
  }
  return opToRules(id, op);
}

/** failures.ndjson lines for one failed item: valid rules plus `_error`. */
export function failureLines(entry: JournalEntry): Array<Rule & { _error: string }> {
  const error = describeFailure(entry);
  return itemRules(entry.id, entry.op, entry.after).map((rule) => ({ ...rule, _error: error }));
}

/** conflicts.ndjson line: the intended change as a delta rule, with what was expected and found. */
export function conflictLine(entry: JournalEntry): Record<string, unknown> {
  const op: GuardedOp =
    entry.op?.kind === 'guarded' ? entry.op : { kind: 'guarded', expect: entry.expect ?? null, write: entry.after ?? [] };
  const [rule] = itemRules(entry.id, op, null);
  return { ...rule, _expected: op.expect, _current: entry.before, _wanted: op.write };
}

export interface RunFileCounts {
  failures: number;
  undo: number;
  noBefore: number;
  conflicts: number;
}

/**
 * A JSON-lines file written atomically by push (temp file in the same directory, renamed over
 * the target on commit), buffered in 64 KiB chunks: a report of a million items streams through.
 */
export class NdjsonFileWriter {
  private buffer = '';
  private constructor(
    private fd: number | undefined,
    private readonly tmp: string,
    readonly path: string,
  ) {}

  static open(path: string): NdjsonFileWriter {
    const tmp = tempPathFor(path);
    return new NdjsonFileWriter(openSync(tmp, 'w', RUN_FILE_MODE), tmp, path);
  }

  write(value: unknown): void {
    this.buffer += `${JSON.stringify(value)}\n`;
    if (this.buffer.length >= CHUNK) this.flush();
  }

  async commit(): Promise<void> {
    if (this.fd === undefined) return;
    this.flush();
    const fd = this.fd;
    this.fd = undefined;
    fsyncSync(fd);
    closeSync(fd);
    await rename(this.tmp, this.path);
  }

  async abort(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    await unlink(this.tmp).catch(() => undefined);
  }

  private flush(): void {
    if (this.fd === undefined || this.buffer === '') return;
    writeAllSync(this.fd, this.buffer);
    this.buffer = '';
  }
}

/**
 * failures.ndjson, undo.ndjson and conflicts.ndjson for the whole run (every invocation), fed
 * line by line (runner/journal.ts replayJournal, or folded item states). All three are written,
 * even when empty, and replace older ones atomically.
 * - failures: items whose latest outcome is `failed` (`retag run failures.ndjson` re-runs them);
 * - undo: `{"id","set": earliest before}` for every item the run may have changed: updated,
 *   pending, or failed after a write was sent; items written without a read have no before
 *   (counted in `noBefore`);
 * - conflicts: items whose latest outcome is `conflict`.
 */
export class RunFilesWriter {
  readonly counts: RunFileCounts = { failures: 0, undo: 0, noBefore: 0, conflicts: 0 };
  private readonly files: { failures: NdjsonFileWriter; undo: NdjsonFileWriter; conflicts: NdjsonFileWriter };

  constructor(dir: string) {
    this.files = {
      failures: NdjsonFileWriter.open(join(dir, FAILURES_FILE)),
      undo: NdjsonFileWriter.open(join(dir, UNDO_FILE)),
      conflicts: NdjsonFileWriter.open(join(dir, CONFLICTS_FILE)),
    };
  }

  failed(entry: JournalEntry): void {
    this.counts.failures++;
    for (const line of failureLines(entry)) this.files.failures.write(line);
  }

  conflict(entry: JournalEntry): void {
    this.counts.conflicts++;
    this.files.conflicts.write(conflictLine(entry));
  }

  mayHaveChanged(id: string, earliestBefore: string[] | null | undefined): void {
    if (earliestBefore === null || earliestBefore === undefined) {
      this.counts.noBefore++;
      return;
    }
    this.counts.undo++;
    this.files.undo.write({ id, set: earliestBefore });
  }

  async commit(): Promise<RunFileCounts> {
    await this.files.failures.commit();
    await this.files.undo.commit();
    await this.files.conflicts.commit();
    return this.counts;
  }

  async abort(): Promise<void> {
    for (const f of Object.values(this.files)) await f.abort();
  }
}

/** The run files from folded item states (small runs, tests): the same files as a journal replay. */
export async function writeRunFiles(dir: string, items: Iterable<ReportItem>): Promise<RunFileCounts> {
  const writer = new RunFilesWriter(dir);
  const list = [...items];
  try {
    for (const item of list) if (item.state === 'failed' && item.outcome) writer.failed(item.outcome);
    for (const item of list) if (item.mayHaveChanged) writer.mayHaveChanged(item.id, item.earliestBefore);
    for (const item of list) if (item.state === 'conflict' && item.outcome) writer.conflict(item.outcome);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer.commit();
}

/** The first line of plan.ndjson: what the plan is of, so `apply` can check it. */
export interface PlanHeader {
  retag_plan: 1;
  created: string;
  manifest: string;
  manifest_sha256: string | null;
}

/**
 * plan.ndjson, written as entries are decided: a header line, then `{id, before, after, action}`
 * per item. A dry run of a million rules keeps none of them in memory: lines are buffered and
 * written in 64 KiB chunks (a plan needs no per-line flush).
 */
export class PlanWriter {
  private buffer = '';
  count = 0;

  private constructor(private fd: number | undefined) {}

  static open(dir: string, header: PlanHeader): PlanWriter {
    const fd = openSync(join(dir, PLAN_FILE), 'w', RUN_FILE_MODE);
    fchmodSync(fd, RUN_FILE_MODE); // an existing file keeps its mode otherwise
    const writer = new PlanWriter(fd);
    writer.buffer = `${JSON.stringify(header)}\n`;
    return writer;
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

function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
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
  const fh = await open(tmp, 'w', RUN_FILE_MODE);
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
