/**
 * The write-ahead journal of a run (design.md §5): a `pending` line before each write is sent,
 * an outcome line when each item finishes. Reading it back drives resume, undo and the reports.
 */
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { UsageError } from '../errors.js';
import { createScrubber } from '../secrets.js';
import type { ItemOp } from '../plan/types.js';
import type { IdIndex } from './id-marks.js';
import type { FailureReason, JournalEntry, JournalState, OutcomeCounts } from './types.js';

export const JOURNAL_FILE = 'journal.ndjson';

/** Files of a run directory hold customers' tags: owner only. */
export const RUN_FILE_MODE = 0o600;

/**
 * How long an outcome line may wait in the buffer for a send to take it along: a `kill -9`
 * loses at most this much of them. One write(2) per send instead costs ~15 µs of CPU each.
 */
export const OUTCOME_FLUSH_MS = 25;

/**
 * The JSON of what an item's lines all repeat (id, before, after, op), made once per item: a
 * write's pending line and its outcome line are built from the same pieces.
 */
export interface JournalItemText {
  readonly id: string;
  /** `"before":…,"after":…` (either omitted when undefined, as JSON.stringify would). */
  readonly beforeAfter: string;
  /** `,"op":…`, or '' without one. */
  readonly op: string;
  /** What a line without reason or expect holds between outcome and attempts: `,` beforeAfter, then op. */
  readonly rest: string;
}

export function journalItemText(e: Pick<JournalEntry, 'id' | 'before' | 'after' | 'op'>): JournalItemText {
  const before = e.before === undefined ? '' : `"before":${JSON.stringify(e.before)}`;
  const after = e.after === undefined ? '' : `"after":${JSON.stringify(e.after)}`;
  const beforeAfter = before !== '' && after !== '' ? `${before},${after}` : before + after;
  const op = e.op === undefined ? '' : `,"op":${JSON.stringify(e.op)}`;
  return { id: JSON.stringify(e.id), beforeAfter, op, rest: beforeAfter === '' ? op : `,${beforeAfter}${op}` };
}

let timeMs = Number.NaN;
let timeIso = '';
let timeSecond = Number.NaN;
/** `toISOString()` of timeSecond up to its dot: `2026-12-02T10:25:28.` */
let timeSecondIso = '';

/**
 * `new Date(ms).toISOString()` for a time from 1970 to 9999, for the `at` of journal lines: formatted once per millisecond
 * (many lines share one), the date and time of day once per second (a Date and its formatting
 * per line cost about a microsecond each).
 */
export function journalTime(ms: number): string {
  if (ms !== timeMs) {
    const second = Math.floor(ms / 1000);
    if (second !== timeSecond) {
      timeSecondIso = new Date(second * 1000).toISOString().slice(0, 20);
      timeSecond = second;
    }
    const frac = Math.floor(ms) - second * 1000;
    timeIso = `${timeSecondIso}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
    timeMs = ms;
  }
  return timeIso;
}

/** One journal line, keys in a stable, readable order (one argument: safe for `.map(journalLine)`). */
export function journalLine(e: JournalEntry): string {
  return journalLineWith(e, journalItemText(e));
}

/**
 * journalLine from the item's pieces (journalItemText of this entry's id, before, after, op):
 * id, outcome, reason, before, after, expect, op, attempts, status, error, at — the text
 * JSON.stringify gives that object.
 */
export function journalLineWith(e: JournalEntry, item: JournalItemText): string {
  if (e.reason === undefined && e.expect === undefined && e.error === undefined && e.attempts !== undefined && e.at !== undefined) {
    // The lines of nearly every item (pending, updated, unchanged): one template, no pieces.
    // Outcomes and ISO times need no escaping; attempts and status are integers.
    const status = e.status === undefined ? '' : `,"status":${JSON.stringify(e.status)}`;
    return `{"id":${item.id},"outcome":"${e.outcome}"${item.rest},"attempts":${JSON.stringify(e.attempts)}${status},"at":${JSON.stringify(e.at)}}\n`;
  }
  let line = `{"id":${item.id},"outcome":${JSON.stringify(e.outcome)}`;
  if (e.reason !== undefined) line += `,"reason":${JSON.stringify(e.reason)}`;
  if (item.beforeAfter !== '') line += `,${item.beforeAfter}`;
  if (e.expect !== undefined) line += `,"expect":${JSON.stringify(e.expect)}`;
  line += item.op;
  if (e.attempts !== undefined) line += `,"attempts":${JSON.stringify(e.attempts)}`;
  if (e.status !== undefined) line += `,"status":${JSON.stringify(e.status)}`;
  if (e.error !== undefined) line += `,"error":${JSON.stringify(e.error)}`;
  if (e.at !== undefined) line += `,"at":${JSON.stringify(e.at)}`;
  return `${line}}\n`;
}

/** Write all of `text`: one write(2) of the string; should the OS take less, the rest from its bytes. */
function writeAllSync(fd: number, text: string): void {
  const written = writeSync(fd, text);
  const size = Buffer.byteLength(text, 'utf8');
  if (written >= size) return;
  const buf = Buffer.from(text, 'utf8');
  let off = written;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

export interface JournalWriterOptions {
  /** Continue an existing journal (--resume); otherwise the journal must not exist yet. */
  append: boolean;
  /** Secrets to censor from every line (error messages). */
  redact?: string[];
  /** A deferred write of outcome lines failed (disk full): the run must stop. */
  onError?: (error: Error) => void;
}

/**
 * Appends lines with synchronous writes on an O_APPEND fd. Lines are batched: `pending` lines
 * wait in a buffer until `flushForSend()`, which the engine calls right before it sends a write
 * (so a write never leaves before its line, and the pending lines of a whole page or backlog
 * refill go out in one write(2)); outcome lines ride along with the next such write, and reach
 * the OS within OUTCOME_FLUSH_MS at the latest. Once a flush returns, the lines are in the
 * kernel: a `kill -9` loses at most the outcome lines of the last few milliseconds (those items
 * read as pending: resume checks them, undo counts them), never the record of a write sent.
 */
export class JournalWriter {
  private fd: number | undefined;
  private buffer = '';
  /** The buffer holds a pending line: the next send must flush it first. */
  private pendingBuffered = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failed: Error | undefined;

  private constructor(
    fd: number,
    readonly path: string,
    private readonly scrub: (s: string) => string,
    private readonly onError: ((error: Error) => void) | undefined,
  ) {
    this.fd = fd;
  }

  static async open(dir: string, options: JournalWriterOptions): Promise<JournalWriter> {
    const path = join(dir, JOURNAL_FILE);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (options.append ? 0 : constants.O_EXCL);
    let fd: number;
    try {
      fd = openSync(path, flags, RUN_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new UsageError(`${path} already exists; continue that run with --resume ${dir}`, { cause: err });
      }
      throw err;
    }
    // A run killed mid-write leaves a torn last line; start on a fresh line so the first new
    // entry is not glued to it (readJournal then skips only the torn fragment).
    fchmodSync(fd, RUN_FILE_MODE); // a journal of an older version may be 0644
    if (options.append && !endsWithNewline(path, fd)) writeAllSync(fd, '\n');
    return new JournalWriter(fd, path, createScrubber(options.redact ?? []), options.onError);
  }

  /**
   * Buffer a `pending` line; it reaches the OS at the next flushForSend(), which precedes the
   * write. `item`: the item's journalItemText, when the caller keeps it for the outcome line too.
   */
  pending(entry: JournalEntry, item?: JournalItemText): void {
    this.append(entry, item);
    this.pendingBuffered = true;
  }

  /** Buffer an outcome line: written with the next send's flush, or within OUTCOME_FLUSH_MS. */
  record(entry: JournalEntry, item?: JournalItemText): void {
    this.append(entry, item);
    if (this.buffer.length >= 65_536) this.flushQuietly();
    else this.timer ??= setTimeout(() => this.flushQuietly(), OUTCOME_FLUSH_MS);
  }

  /**
   * Right before a write is sent: its pending line, and whatever is buffered with it, reach the
   * OS now. No system call when every pending line is out already (outcome lines can wait).
   * Throws when it cannot (disk full): send nothing then.
   */
  flushForSend(): void {
    if (this.failed) throw this.failed;
    if (this.pendingBuffered) this.flush();
  }

  /** Write every buffered line to the OS now. Throws when it cannot (disk full): send nothing then. */
  flush(): void {
    if (this.failed) throw this.failed;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffer === '' || this.fd === undefined) return;
    // Scrubbed here, a buffer at a time rather than line by line: the same text, since no secret
    // spans two lines (a key holds no whitespace or control character, assertUsableKey).
    const text = this.scrub(this.buffer);
    this.buffer = '';
    this.pendingBuffered = false;
    try {
      writeAllSync(this.fd, text);
    } catch (error) {
      this.failed = error as Error;
      throw error;
    }
  }

  async close(): Promise<void> {
    const fd = this.fd;
    if (fd === undefined) return;
    try {
      if (!this.failed) this.flushQuietly();
    } finally {
      this.fd = undefined;
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    if (this.failed) throw this.failed;
  }

  private append(entry: JournalEntry, item?: JournalItemText): void {
    if (this.fd === undefined) throw new Error('JournalWriter: write after close');
    this.buffer += item ? journalLineWith(entry, item) : journalLine(entry);
  }

  private flushQuietly(): void {
    try {
      this.flush();
    } catch (error) {
      this.onError?.(error as Error);
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

const STATES: ReadonlySet<string> = new Set<JournalState>(['pending', 'unsent', 'updated', 'unchanged', 'failed', 'conflict', 'skipped']);

function isJournalEntry(v: unknown): v is JournalEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  return typeof e.id === 'string' && typeof e.outcome === 'string' && STATES.has(e.outcome);
}

/** How much of the journal one read takes. */
const READ_CHUNK = 1 << 20;

/**
 * The journal's non-blank lines, a chunk's worth at a time, split by hand from 1 MiB reads (no
 * readline: its per-line events cost more than the parse of a line). Lines end as readline's do
 * (crlfDelay: Infinity): at `\n`, `\r\n` or a lone `\r`; a last line without its newline (the
 * torn line of a killed run) is yielded too. A missing journal reads as empty.
 */
export async function* journalLineBatches(dir: string): AsyncGenerator<string[]> {
  const path = join(dir, JOURNAL_FILE);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    const decoder = new StringDecoder('utf8');
    // The start of a line the last chunks did not end: pieces, joined once its end arrives (a
    // long line is not copied again with every chunk).
    let rest: string[] = [];
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      const text = decoder.write(buf.subarray(0, bytesRead));
      const cut = text.lastIndexOf('\n');
      if (cut === -1) {
        if (text !== '') rest.push(text);
        continue;
      }
      rest.push(text.slice(0, cut));
      const whole = rest.length === 1 ? rest[0]! : rest.join('');
      rest = cut + 1 < text.length ? [text.slice(cut + 1)] : [];
      const lines = nonBlankLines(whole);
      if (lines.length > 0) yield lines;
    }
    rest.push(decoder.end());
    const last = nonBlankLines(rest.join(''));
    if (last.length > 0) yield last;
  } finally {
    await handle.close();
  }
}

/** `text` split into lines (see journalLineBatches), blank ones left out. */
function nonBlankLines(text: string): string[] {
  const out: string[] = [];
  for (const piece of text.split('\n')) {
    if (piece.includes('\r')) {
      const end = piece.endsWith('\r') ? piece.length - 1 : piece.length;
      for (const line of piece.slice(0, end).split('\r')) if (!isBlank(line)) out.push(line);
    } else if (!isBlank(piece)) out.push(piece);
  }
  return out;
}

/** Whitespace only (String#trim's whitespace); a journal line starts with `{`, decided at once. */
const isBlank = (line: string): boolean => line.charCodeAt(0) !== 0x7b && line.trim() === '';

/** A journal line parsed, or undefined when it does not parse or is no journal entry (torn). */
function parseLine(line: string): JournalEntry | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  return isJournalEntry(parsed) ? parsed : undefined;
}

/**
 * Stream a run's journal. Lines that do not parse (the torn last line of a killed run, or such a
 * fragment left mid-file by a resume) are skipped and counted in `torn.lines`. A missing journal
 * (the run died before any line) reads as empty.
 */
export async function* journalEntries(dir: string, torn: { lines: number } = { lines: 0 }): AsyncGenerator<JournalEntry> {
  for await (const lines of journalLineBatches(dir)) {
    const entries: JournalEntry[] = [];
    for (const line of lines) {
      const e = parseLine(line);
      if (e) entries.push(e);
      else torn.lines++;
    }
    yield* entries;
  }
}

/** The whole journal in memory (tests, small runs). */
export async function readJournal(dir: string): Promise<{ entries: JournalEntry[]; tornLines: number }> {
  const torn = { lines: 0 };
  const entries: JournalEntry[] = [];
  for await (const e of journalEntries(dir, torn)) entries.push(e);
  return { entries, tornLines: torn.lines };
}

/** What the journal says of one item, folded over all its lines (every invocation of the run). */
export interface ItemState {
  id: string;
  /** The latest line's state (`pending`: a write was sent, or about to be, and no outcome followed). */
  state: JournalState;
  /** The latest outcome line (undefined when the item only has pending lines). */
  outcome?: JournalEntry;
  /** The earliest `before` read for the id, exactly as read (null: written without a read). */
  earliestBefore: string[] | null | undefined;
  /** The last list a write was sent for (pending or updated). */
  written?: string[];
  /** A write was sent (or about to be) and may have landed: undo must consider the item. */
  mayHaveChanged: boolean;
}

/** What the fold tracks of an item's writes: the last that may have landed, and one not yet resolved. */
interface Writes {
  landed?: string[];
  landing?: string[] | null;
}

/** Compact per-item state from journal lines, in first-seen order. */
export function foldJournal(entries: Iterable<JournalEntry>): Map<string, ItemState> {
  const items = new Map<string, ItemState>();
  const writes = new Map<string, Writes>();
  for (const e of entries) foldEntry(items, writes, e);
  return items;
}

export async function readJournalState(dir: string): Promise<{ items: Map<string, ItemState>; tornLines: number }> {
  const torn = { lines: 0 };
  const items = new Map<string, ItemState>();
  const writes = new Map<string, Writes>();
  for await (const e of journalEntries(dir, torn)) foldEntry(items, writes, e);
  return { items, tornLines: torn.lines };
}

/** A failure that proves the write did not land: the server answered and refused it (4xx). */
function refused(e: JournalEntry): boolean {
  return e.reason === 'forbidden' || e.reason === 'not_found' || e.reason === 'http';
}

function foldEntry(items: Map<string, ItemState>, allWrites: Map<string, Writes>, e: JournalEntry): void {
  let s = items.get(e.id);
  if (!s) {
    s = { id: e.id, state: e.outcome, earliestBefore: undefined, mayHaveChanged: false };
    items.set(e.id, s);
  }
  let w = allWrites.get(e.id);
  if (!w) {
    w = {};
    allWrites.set(e.id, w);
  }
  // A `skipped` line (older journals) never hides what the item's earlier lines say.
  if (e.outcome === 'skipped') return;
  if (e.outcome === 'unsent') {
    // The pending write never left: forget it; the item is as its earlier lines left it.
    delete w.landing;
    s.state = s.outcome ? s.outcome.outcome : 'pending';
    const written = w.landed;
    if (written !== undefined) s.written = written;
    else delete s.written;
    s.mayHaveChanged = w.landed !== undefined;
    return;
  }
  s.state = e.outcome;
  // The first before read stands. A null before says "not read": it counts only on a write
  // line (--no-read: nothing to restore); on a not_found line it says nothing of the image.
  if (s.earliestBefore === undefined && (e.before !== null || e.outcome === 'pending' || e.outcome === 'updated')) s.earliestBefore = e.before;
  if (e.outcome === 'pending') {
    // A write is on its way: until an outcome says otherwise, it may land.
    w.landing = e.after;
  } else {
    s.outcome = e;
    if (e.outcome === 'updated') w.landed = e.after ?? undefined;
    // Refused by the server (4xx): that write did not land. Any other outcome after a pending
    // line (a lost reply, a resume finding the write applied) leaves it possibly landed.
    else if (w.landing !== undefined && !(e.outcome === 'failed' && refused(e))) w.landed = w.landing ?? undefined;
    delete w.landing;
  }
  const written = w.landing !== undefined ? (w.landing ?? undefined) : w.landed;
  if (written !== undefined) s.written = written;
  else delete s.written;
  s.mayHaveChanged = w.landing !== undefined || w.landed !== undefined;
}

/** Resume: the item is done when its latest line is updated or unchanged. */
export function isDone(s: ItemState | undefined): s is ItemState & { outcome: JournalEntry } {
  return s !== undefined && (s.state === 'updated' || s.state === 'unchanged') && s.outcome !== undefined;
}

/** A stable text of an operation, for comparing what the journal recorded with what the manifest gives now. */
export function opKey(op: ItemOp | undefined): string {
  return op === undefined ? '' : JSON.stringify(op);
}

export type { FailureReason };

// ---------------------------------------------------------------------------------------------
// Streaming reads for large runs: memory follows the number of items (a few numbers each), not
// the journal's size; tag lists are never kept.

/** What a resume needs of an item the journal records as done. */
export interface DoneItem {
  /** opKey of the operation it was done with. */
  opKey: string;
  /** What the run read then (kept only when asked: library-wide rules decide again from it). */
  before?: string[] | null;
}

/** An item not done whose last write may have landed (its reply was lost, or the run was killed). */
export interface AttemptedItem {
  opKey: string;
  /** What the run read before that write, and what it wrote. */
  before: string[] | null;
  after: string[];
}

/**
 * What a resume needs: items whose latest line is `updated` or `unchanged`, with the operation
 * they were done with; and items whose last write may have landed unseen (pending, or failed
 * without a refusal), so the resume can recognise an image that already holds that write.
 */
export async function readDoneItems(
  dir: string,
  options: { keepBefore: boolean },
): Promise<{ done: Map<string, DoneItem>; attempted: Map<string, AttemptedItem>; tornLines: number }> {
  const torn = { lines: 0 };
  const done = new Map<string, DoneItem>();
  const attempted = new Map<string, AttemptedItem>();
  for await (const e of journalEntries(dir, torn)) {
    if (e.outcome === 'skipped') continue;
    if (e.outcome === 'updated' || e.outcome === 'unchanged') {
      done.set(e.id, { opKey: opKey(e.op), ...(options.keepBefore ? { before: e.before } : {}) });
      attempted.delete(e.id);
      continue;
    }
    if (e.outcome === 'unsent') {
      attempted.delete(e.id);
      continue;
    }
    done.delete(e.id);
    if (e.outcome === 'pending' && e.after !== null) attempted.set(e.id, { opKey: opKey(e.op), before: e.before, after: e.after });
    else if (e.outcome === 'failed' && refused(e)) attempted.delete(e.id);
  }
  return { done, attempted, tornLines: torn.lines };
}

/** Counts per latest outcome over the whole run (every invocation). */
export type JournalCounts = OutcomeCounts;

/** Where a replay of the journal sends what the reports need, line by line. */
export interface ReplaySinks {
  /** The deciding line of an item whose latest outcome is failed / conflict / updated. */
  failed?(entry: JournalEntry): void;
  conflict?(entry: JournalEntry): void;
  updated?(entry: JournalEntry): void;
  /** An item the run may have changed, with the earliest `before` read for it (null: not read). */
  mayHaveChanged?(id: string, earliestBefore: string[] | null): void;
}

/** States and failure reasons as small numbers, for the columns below. */
const STATE_CODES: readonly JournalState[] = ['pending', 'unsent', 'updated', 'unchanged', 'failed', 'conflict', 'skipped'];
const REASON_CODES: readonly (FailureReason | undefined)[] = [undefined, 'not_found', 'forbidden', 'http', 'retries_exhausted', 'network', 'aborted'];
const NONE = -1;

/**
 * Per item, a few numbers in typed columns (an item is its index in `index`): its state, the
 * state of its latest outcome, its failure reason, and line numbers (the latest outcome line,
 * the earliest before, the last landed and the unresolved write). A million items cost the
 * Map of ids and ~20 bytes each.
 */
class Columns {
  /** Ids the known index does not number, after its slots. */
  readonly others = new Map<string, number>();
  readonly #indexOf: ((id: string) => number | undefined) | undefined;
  size: number;
  state: Uint8Array;
  latestState: Uint8Array;
  reason: Uint8Array;
  latest: Int32Array;
  before: Int32Array;
  landed: Int32Array;
  landing: Int32Array;
  /** A bit per item: the line at `before` holds a null before (no second parse to learn it). */
  #beforeNull: Uint8Array;

  /**
   * `known`: the run's own numbering of its ids (the manifest's), so a million journaled ids take
   * their slots from it instead of a second map of a million strings (issue 10).
   */
  constructor(known?: IdIndex) {
    this.#indexOf = known?.indexOf?.bind(known);
    this.size = this.#indexOf ? known!.idCount : 0;
    const n = this.size + 1024;
    this.state = new Uint8Array(n);
    this.latestState = new Uint8Array(n).fill(255);
    this.reason = new Uint8Array(n);
    this.latest = new Int32Array(n).fill(NONE);
    this.before = new Int32Array(n).fill(NONE);
    this.landed = new Int32Array(n).fill(NONE);
    this.landing = new Int32Array(n).fill(NONE);
    this.#beforeNull = new Uint8Array((n + 7) >> 3);
  }

  beforeNull(k: number): boolean {
    return (this.#beforeNull[k >> 3]! & (1 << (k & 7))) !== 0;
  }

  setBeforeNull(k: number): void {
    this.#beforeNull[k >> 3]! |= 1 << (k & 7);
  }

  find(id: string): number | undefined {
    return this.#indexOf?.(id) ?? this.others.get(id);
  }

  slot(id: string): number {
    let k = this.find(id);
    if (k !== undefined) return k;
    k = this.size++;
    if (k === this.state.length) this.grow();
    this.others.set(id, k);
    return k;
  }

  private grow(): void {
    const n = this.state.length * 2;
    const grown = <A extends Uint8Array | Int32Array>(a: A, empty: number): A => {
      const b = (a instanceof Uint8Array ? new Uint8Array(n) : new Int32Array(n)) as A;
      b.fill(empty, a.length);
      b.set(a);
      return b;
    };
    this.state = grown(this.state, 0);
    this.latestState = grown(this.latestState, 255);
    this.reason = grown(this.reason, 0);
    this.latest = grown(this.latest, NONE);
    this.before = grown(this.before, NONE);
    this.landed = grown(this.landed, NONE);
    this.landing = grown(this.landing, NONE);
    const bits = new Uint8Array((n + 7) >> 3);
    bits.set(this.#beforeNull);
    this.#beforeNull = bits;
  }
}

/** What pass 2 of a replay does with a line (bits of a byte per line). */
const LATEST = 1; // the deciding line of a failed / conflict / updated item with a sink
const BEFORE = 2; // the earliest before of an item the run may have changed (sink given a list)
const BEFORE_NULL = 4; // the same, but that before is null: only the id is needed

/**
 * The id of a journal line the first pass parsed, read straight off the text when the writer's
 * own layout makes that exact (`{"id":"…"` first, no escapes anywhere, so no other key can be
 * `id`); otherwise parsed.
 */
function lineId(line: string): string {
  if (line.startsWith('{"id":"') && !line.includes('\\')) {
    const end = line.indexOf('"', 7);
    if (end > 0 && !line.includes('"id"', end)) return line.slice(7, end);
  }
  return (JSON.parse(line) as JournalEntry).id;
}

/**
 * The reports of a whole run from its journal, in two streaming passes: the first parses each
 * line once and folds its item into a few numbers (the same rules as foldJournal), the second
 * hands the deciding lines to `sinks`, in the journal's order, parsing only those (and none when
 * no sink is called). Returns the counts over every invocation of the run.
 */
export async function replayJournal(
  dir: string,
  sinks: ReplaySinks,
  known?: IdIndex,
): Promise<{ counts: JournalCounts; failuresByReason: Record<string, number>; tornLines: number }> {
  const c = new Columns(known);
  const code = (s: JournalState) => STATE_CODES.indexOf(s);
  const PENDING = code('pending');
  const UNSENT = code('unsent');
  const UPDATED = code('updated');
  const FAILED = code('failed');
  const CONFLICT = code('conflict');
  const codes = new Map(STATE_CODES.map((s, n) => [s, n]));
  const reasons = new Map(REASON_CODES.map((r, n) => [r, n]));
  let torn = 0;
  // Line numbers count the non-blank lines, torn ones too: both passes number them alike.
  let i = -1;
  for await (const lines of journalLineBatches(dir)) {
    for (const line of lines) {
      i++;
      const e = parseLine(line);
      if (!e) {
        torn++;
        continue;
      }
      if (e.outcome === 'skipped') continue;
      const k = c.slot(e.id);
      if (e.outcome === 'unsent') {
        // That pending write never left: it cannot have landed.
        c.landing[k] = NONE;
        c.state[k] = c.latestState[k] === 255 ? PENDING : c.latestState[k]!;
        continue;
      }
      const state = codes.get(e.outcome)!;
      c.state[k] = state;
      if (c.before[k] === NONE && (e.before !== null || state === PENDING || state === UPDATED)) {
        c.before[k] = i;
        if (e.before === null) c.setBeforeNull(k);
      }
      if (state === PENDING) {
        c.landing[k] = i;
        continue;
      }
      c.latestState[k] = state;
      c.latest[k] = i;
      c.reason[k] = reasons.get(e.reason) ?? 0;
      if (state === UPDATED) c.landed[k] = i;
      else if (c.landing[k] !== NONE && !(state === FAILED && refused(e))) c.landed[k] = c.landing[k]!;
      c.landing[k] = NONE;
    }
  }
  const lineCount = i + 1;

  const counts: JournalCounts = { updated: 0, unchanged: 0, failed: 0, conflict: 0, skipped: 0, total: 0 };
  const failuresByReason: Record<string, number> = {};
  const sinkFor = (state: number) =>
    state === FAILED ? sinks.failed : state === CONFLICT ? sinks.conflict : state === UPDATED ? sinks.updated : undefined;
  // What the second pass must do with each line; allocated only once some line needs it.
  let marks: Uint8Array | undefined;
  const mark = (line: number, what: number) => ((marks ??= new Uint8Array(lineCount))[line]! |= what);
  for (let k = 0; k < c.size; k++) {
    const state = c.state[k]!;
    if (sinks.mayHaveChanged && c.before[k] !== NONE && (c.landing[k] !== NONE || c.landed[k] !== NONE)) {
      mark(c.before[k]!, c.beforeNull(k) ? BEFORE_NULL : BEFORE);
    }
    if (c.latest[k] === NONE || state === PENDING || state === UNSENT) continue;
    const name = STATE_CODES[state] as keyof Omit<JournalCounts, 'total'>;
    counts[name]++;
    counts.total++;
    if (name === 'failed') {
      const key = REASON_CODES[c.reason[k]!] ?? 'unknown';
      failuresByReason[key] = (failuresByReason[key] ?? 0) + 1;
    }
    if (sinkFor(state)) mark(c.latest[k]!, LATEST);
  }

  if (marks) {
    i = -1;
    passTwo: for await (const lines of journalLineBatches(dir)) {
      for (const line of lines) {
        i++;
        if (i >= lineCount) break passTwo;
        const what = marks[i]!;
        if (what === 0) continue;
        if (what === BEFORE_NULL) {
          sinks.mayHaveChanged!(lineId(line), null);
          continue;
        }
        const e = parseLine(line)!;
        if (what & LATEST) sinkFor(c.state[c.find(e.id)!]!)!(e);
        if (what & (BEFORE | BEFORE_NULL)) sinks.mayHaveChanged!(e.id, e.before);
      }
    }
  }
  return { counts, failuresByReason, tornLines: torn };
}
