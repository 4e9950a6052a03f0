/**
 * The one engine (design.md §1): every command that writes — run, job, rename, strip, apply,
 * undo — is a source of items feeding this loop; what differs between them is only how an item
 * is decided. Read current tags page by page → decide (pure) → queue/rate/retry → write-ahead
 * journal line → POST /update/<id> → outcome line. Abort, signal, budgets and drain live here.
 */
import type { Logger } from 'pino';
import type { Decision, ItemOp } from '../plan/types.js';
import { RunAbort, type AbortKind } from './abort.js';
import { describeError, isUnreachable } from './describe-error.js';
import type { RequestExecutor } from './executor.js';
import { journalItemText, journalTime, opKey, type AttemptedItem, type DoneItem, type JournalItemText, type JournalWriter } from './journal.js';
import { normalizeTags, sameTags } from '../plan/normalize.js';
import { IdMarks } from './id-marks.js';
import { ReadAhead } from './read-ahead.js';
import { assertTagged, newPassStats, scanLibrary, UNAUTHORIZED_MESSAGE, type ScanPassStats, type TagsApi } from './scan.js';
import type { FailureReason, JournalEntry } from './types.js';

/** `--max-failures`: an absolute count or a share of the items. */
export type FailureBudget = { count: number } | { percent: number };

/**
 * Where items come from and how each is decided. Pure apart from what it was built from: the
 * engine calls `decide` for every image it reads that the source may want.
 */
export interface ItemSource {
  /**
   * True when the source needs the whole library (library-wide rules): every image read is
   * offered to `decide`. Otherwise only the ids of `ids()` are looked for.
   */
  readonly wholeLibrary: boolean;
  /** Ids the source names (they must be found, or they fail `not_found`), in order. */
  ids(): Iterable<string>;
  /** How many ids `ids()` yields. */
  readonly idCount: number;
  /** Does `ids()` name this id? */
  has(id: string): boolean;
  /**
   * The id's place in `ids()` (0 … idCount − 1), when the source numbers its ids: the engine
   * then marks ids in bitmaps instead of sets of strings (a million ids, a few MB).
   */
  indexOf?(id: string): number | undefined;
  /**
   * Decide one image from its current tags exactly as read (null: not read, `--no-read`).
   * Undefined: the image is not an item (no rule selects it).
   */
  decide(id: string, current: readonly string[] | null): Decision | undefined;
  /**
   * The operation of an id's own rules (for its `not_found` line and failures.ndjson).
   */
  idOp(id: string): ItemOp | undefined;
  /**
   * True when an item's operation does not depend on the image's tags (id rules without
   * library-wide rules, apply, undo): a resume then skips done items without reading them.
   */
  readonly staticOps: boolean;
  /** A tag holding a comma that the source may write (design.md §3: unsafe if the listing joins tags with commas). */
  readonly commaTag?: string;
}

export interface EngineOptions {
  /** Read current tags first (default). False is `--no-read`: items are decided blind. */
  read: boolean;
  pageSize: number;
  /** Plan only: decide and report, never write. */
  dryRun: boolean;
  maxFailures?: FailureBudget;
  /** Write at most this many images; the write that would pass it is not sent (exit 3, resumable). */
  maxChanges?: number;
  /** Writes allowed to wait in the queue before the scan pauses (keeps read→write time short). */
  maxBacklog?: number;
  /** Confirming passes at most, when the listing may have moved (design.md §3). */
  maxConfirmingPasses?: number;
}

/** What the engine tells the recorder. */
export interface EngineObserver {
  /** Every decided item (plan.ndjson, plan stats), before its write. */
  decided?(decision: Decision): void;
  /** Every finished item, once, in finishing order. */
  finished(entry: JournalEntry): void;
  /** An item the journal records as done with the same operation (resume): no request. */
  skipped?(id: string): void;
  /** A page of the listing was read. */
  scanned?(progress: { pass: number; pages: number; images: number; items: number }): void;
}

export interface EngineContext {
  api: TagsApi;
  executor: RequestExecutor;
  logger: Logger;
  /** Absent on a dry run (nothing is written, nothing journaled). */
  journal?: JournalWriter;
  observer: EngineObserver;
  /** What an earlier invocation of this run did (--resume), by id. */
  resume?: Map<string, DoneItem>;
  /** Resume: items whose last write may have landed without its reply. */
  attempted?: Map<string, AttemptedItem>;
}

export interface EngineResult {
  /** Why the run stopped early, when it did (exit 3 / signal). */
  aborted?: { reason: AbortKind; message: string };
  failed: number;
  finished: number;
  skipped: number;
  /** Items that did not finish (abort, signal, budget): a resume does them. */
  unfinished: number;
  /** Resume: items recorded done whose operation changed since (done again). */
  redone: number;
  /** Passes over the listing (1 + confirming passes), and the GET requests they cost. */
  passes: number;
  listRequests: number;
  /** Distinct images read (all passes). */
  scanned: number;
  /** Images each library-wide rule selected, by rule index. */
  matched: number[];
  /** The listing gave tags as one comma-joined string (design.md §3). */
  tagsFromString: boolean;
}

/** The time for a journal line. */
const at = (): string => journalTime(Date.now());

export async function runEngine(source: ItemSource, ctx: EngineContext, options: EngineOptions): Promise<EngineResult> {
  const { api, executor, logger, journal, observer } = ctx;
  const maxBacklog = options.maxBacklog ?? Math.max(64, executor.queue.concurrency * 16);
  // While scanning: as few queued writes as keep the connections busy through the next page read.
  const readAhead = new ReadAhead(executor.queue.concurrency, maxBacklog);
  const maxConfirming = options.maxConfirmingPasses ?? 2;
  // Writes in flight, counted (no Set of their promises): drain() waits until none is left.
  let inflight = 0;
  let inflightError: { error: unknown } | undefined;
  let idle: { promise: Promise<void>; resolve: () => void } | undefined;
  const writeSettled = () => {
    if (--inflight === 0 && idle) {
      idle.resolve();
      idle = undefined;
    }
  };
  const resume = ctx.resume;
  let failed = 0;
  let finished = 0;
  let skipped = 0;
  let redone = 0;
  let decidedItems = 0;
  let writesStarted = 0;
  let writesEnded = 0;
  let aborted: EngineResult['aborted'];
  const matched: number[] = [];
  let passes = 0;
  let scanned = 0;
  let tagsFromString = false;
  const listRequestsAtStart = executor.counters.reads;

  const stop = (reason: AbortKind, message: string) => {
    if (aborted) return;
    aborted = { reason, message };
    logger.error({ reason }, message);
    executor.abort(message);
  };
  /** Stop deciding and starting items, but let the writes already queued finish. */
  const halt = (reason: AbortKind, message: string) => {
    if (aborted) return;
    aborted = { reason, message };
    logger.error({ reason }, message);
  };
  const stopped = () => aborted !== undefined || executor.aborted;

  // The failure budget is known only once the number of items is: a share counts against the
  // ids named plus the images decided so far.
  const budget = (): number | undefined => {
    const b = options.maxFailures;
    if (!b) return undefined;
    if ('count' in b) return b.count;
    return Math.floor((b.percent / 100) * Math.max(source.idCount, decidedItems));
  };

  const finish = (entry: JournalEntry, item?: JournalItemText) => {
    finished++;
    journal?.record(entry, item);
    if (entry.outcome === 'failed') {
      failed++;
      logger.error(
        { id: entry.id, status: entry.status ?? null, attempts: entry.attempts, reason: entry.reason },
        `${entry.id}: ${entry.error ?? entry.reason}`,
      );
    }
    observer.finished(entry);
    const limit = budget();
    if (entry.outcome === 'failed' && limit !== undefined && failed > limit) {
      stop('budget', `failure budget exceeded: ${failed} items failed (--max-failures allows ${limit})`);
    }
  };

  /** Resume: is this item recorded done with the operation it has now? */
  const alreadyDone = (id: string, op: ItemOp | undefined): boolean => {
    if (!resume) return false;
    const state = resume.get(id);
    if (!state) return false;
    if (state.opKey === opKey(op)) return true;
    redone++;
    return false;
  };

  const handle = (d: Decision) => {
    decidedItems++;
    observer.decided?.(d);
    const base = { id: d.id, before: d.before, after: d.after, op: d.op };
    if (d.action === 'not_found') {
      finish({ ...base, outcome: 'failed', attempts: 0, reason: 'not_found', error: 'id not in the library', at: at() });
      return;
    }
    if (d.action === 'unchanged') {
      finish({ ...base, outcome: 'unchanged', attempts: 0, at: at() });
      return;
    }
    if (d.action === 'conflict') {
      const expect = d.op.kind === 'guarded' ? d.op.expect : null;
      finish({ ...base, outcome: 'conflict', expect, attempts: 0, error: 'changed since: not written', at: at() });
      return;
    }
    if (options.dryRun) return;
    if (options.maxChanges !== undefined && writesStarted >= options.maxChanges) {
      // The budget's writes already queued still go out: stop deciding, do not abort the queue.
      halt('max_changes', `--max-changes ${options.maxChanges} reached: the next write was not sent; resume with a larger budget to go on`);
      return;
    }
    writesStarted++;
    // Write-ahead: the pending line is in the journal's buffer now, and flushed to the OS in
    // the same turn as the send (below), never after it.
    // The JSON of id, before, after and op, made once for the pending and the outcome line.
    const item = journal ? journalItemText(base) : undefined;
    // Entries of one shape, not spreads of base: two per write, the hot path.
    journal?.pending({ id: d.id, outcome: 'pending', before: d.before, after: d.after, op: d.op, attempts: 0, at: at() }, item);
    const after = d.after ?? [];
    const task = executor
      .execute('write', () => {
        try {
          journal?.flushForSend();
        } catch (error) {
          stop('journal', `cannot write the journal (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): stopped before sending more writes; resumable`);
          throw error;
        }
        return api.update(d.id, after);
      })
      .then((result) => {
        writesEnded++;
        if (result.ok) {
          finish({ id: d.id, outcome: 'updated', before: d.before, after: d.after, op: d.op, attempts: result.attempts, status: 200, at: at() }, item);
          return;
        }
        if (result.reason === 'aborted') {
          // Unfinished, for a resume. Never sent at all: say so, so undo does not count it.
          if (result.attempts === 0) journal?.record({ ...base, outcome: 'unsent', attempts: 0, at: at() }, item);
          return;
        }
        if (result.reason === 'unauthorized') return stop('unauthorized', UNAUTHORIZED_MESSAGE);
        const { status, message, detail } = describeError(result.error, result.attempts);
        if (result.reason === 'retries_exhausted' && isUnreachable(result.error)) {
          return stop('unreachable', `the server is unreachable: ${message}; stopped sending; run again (or --resume) once it is back`);
        }
        finish({
          ...base,
          outcome: 'failed',
          attempts: result.attempts,
          ...(status !== undefined ? { status } : {}),
          reason: result.reason as FailureReason,
          error: detail,
          at: at(),
        }, item);
      });
    inflight++;
    void task.then(writeSettled, (error: unknown) => {
      inflightError ??= { error };
      writeSettled();
      throw error; // unhandled, as before: a bug in the recording path crashes the run
    });
  };

  /** Offer an image read from the listing to the source; true when it became an item. */
  const offer = (id: string, tags: readonly string[]): boolean => {
    const state = resume?.get(id);
    if (state && !source.staticOps) {
      // Decide again from what the run read then: same operation → done, skip it.
      const then = source.decide(id, state.before ?? tags);
      if (then && alreadyDone(id, then.op)) {
        skipped++;
        observer.skipped?.(id);
        return true;
      }
    }
    const tried = ctx.attempted?.get(id);
    if (tried && sameTags(normalizeTags(tags), normalizeTags(tried.after))) {
      // A write of an earlier invocation landed though its reply was lost: the image holds it.
      // Done, not written again — for an operation that is not idempotent (a swap), a second
      // write would undo the first.
      const then = source.decide(id, tried.before ?? tags);
      if (then && opKey(then.op) === tried.opKey) {
        if (then.matched) for (const i of then.matched) matched[i] = (matched[i] ?? 0) + 1;
        handle({ ...then, before: [...tags], after: tried.after, action: 'unchanged' });
        return true;
      }
    }
    const d = source.decide(id, tags);
    if (!d) return false;
    if (d.matched) for (const i of d.matched) matched[i] = (matched[i] ?? 0) + 1;
    handle(d);
    return true;
  };

  const drain = async () => {
    while (inflight > 0) {
      if (!idle) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        idle = { promise, resolve };
      }
      await idle.promise;
    }
    if (inflightError) throw inflightError.error;
  };

  try {
    if (!options.read) {
      for (const id of source.ids()) {
        if (stopped()) break;
        if (alreadyDone(id, source.idOp(id))) {
          skipped++;
          observer.skipped?.(id);
          continue;
        }
        const room = executor.roomUnder(maxBacklog);
        if (room) {
          await room;
          if (stopped()) break;
        }
        const d = source.decide(id, null);
        if (d) handle(d);
      }
    } else if (!source.wholeLibrary) {
      // Ids only: look for the ids not already done; stop paging once all are found.
      const settled = new IdMarks(source); // done before (resume) or found in the listing
      for (const id of source.ids()) {
        if (source.staticOps && alreadyDone(id, source.idOp(id))) {
          skipped++;
          observer.skipped?.(id);
          settled.add(id);
        }
      }
      const wants = (id: string) => source.has(id) && !settled.has(id);
      const missing = () => source.idCount - settled.size;
      if (missing() > 0) {
        const take = (id: string) => wants(id) && settled.add(id);
        let { stats, wrote } = await scanPass(take, true, () => missing() === 0, wants);
        scanned = stats.distinct;
        // The listing may have moved under the pass (it wrote, or ids came twice): look again
        // for what is missing, reading the whole listing before writing (design.md §3).
        for (let n = 0; n < maxConfirming && missing() > 0 && !stopped() && (wrote || stats.repeats > 0); n++) {
          await drain();
          if (stopped()) break;
          logger.info({ missing: missing(), pass: passes + 1 }, `${missing()} ids not seen; the listing may have moved: reading it again to confirm`);
          ({ stats, wrote } = await scanPass(take, false, () => missing() === 0, wants));
          scanned = Math.max(scanned, stats.distinct);
        }
        // Only a scan that reached the end proves an id absent.
        for (const id of source.ids()) {
          if (stopped()) break;
          if (!settled.has(id)) handle(notFound(id, source));
        }
      }
    } else {
      // The whole library: every image is offered once (its first read stands).
      const decided = new IdMarks(source);
      const take = (id: string) => decided.add(id);
      let { stats, wrote } = await scanPass(take, true);
      let librarySize = stats.total;
      for (let n = 0; n < maxConfirming && !stopped() && (wrote || stats.repeats > 0); n++) {
        librarySize ??= await libraryImageCount(api, executor);
        if (librarySize !== undefined && decided.size >= librarySize) break;
        await drain();
        if (stopped()) break;
        logger.info({ seen: decided.size, librarySize: librarySize ?? null, pass: passes + 1 }, 'the listing may have moved while writing: reading it again for images not yet seen');
        ({ stats, wrote } = await scanPass(take, false));
        if (stats.total !== undefined) librarySize = stats.total;
      }
      scanned = decided.size;
      if (!stopped()) {
        for (const id of source.ids()) {
          if (decided.has(id)) continue;
          handle(notFound(id, source));
          if (stopped()) break;
        }
      }
    }
  } catch (error) {
    if (error instanceof RunAbort) stop(error.kind, error.message);
    else if (!executor.aborted) throw error;
  }
  // A signal handler may have aborted the executor directly.
  await drain();
  if (!aborted && executor.aborted) aborted = { reason: 'signal', message: executor.abortReason ?? 'interrupted' };
  const expected = source.wholeLibrary ? decidedItems + skipped : source.idCount;
  return {
    ...(aborted ? { aborted } : {}),
    failed,
    finished,
    skipped,
    unfinished: Math.max(0, expected - finished - skipped, writesStarted - writesEnded),
    redone,
    passes,
    listRequests: executor.counters.reads - listRequestsAtStart,
    scanned,
    matched,
    tagsFromString,
  };

  /**
   * One pass over the listing. `take(id)` says whether an image read is wanted (and marks it
   * seen); `interleave` decides and writes as pages arrive, else decisions wait for the pass's
   * end, so its own writes cannot move the listing under it. `done` ends paging early.
   */
  async function scanPass(take: (id: string) => boolean, interleave: boolean, done?: () => boolean, wants: (id: string) => boolean = () => true) {
    passes++;
    const stats = newPassStats();
    const writesBefore = executor.counters.writes;
    const held: Array<{ id: string; tags: string[] }> = [];
    let asked = performance.now();
    for await (const records of scanLibrary(api, executor, options.pageSize, logger, stats, new IdMarks(source))) {
      const now = performance.now();
      readAhead.pageRead(now, now - asked, writesEnded);
      if (!tagsFromString && records.some((r) => r.tagsFromString)) {
        tagsFromString = true;
        logger.warn('the listing gives tags as one comma-joined string: a tag holding a comma cannot be read back');
        if (source.commaTag !== undefined) {
          throw new RunAbort(
            'comma_tags',
            `the listing gives tags as one comma-joined string, and this run would write the tag ${JSON.stringify(source.commaTag)}, ` +
              `which holds a comma: it would read back as two tags. Stopped before ${executor.counters.writes === 0 ? 'any write' : 'further writes'}.`,
          );
        }
      }
      // A wanted record without tags cannot be merged or compared: check the whole page before
      // any of it is decided, so no write for that page goes out.
      for (const record of records) if (record.tags === null && wants(record.id)) assertTagged(record, executor);
      let items = 0;
      for (const record of records) {
        if (!take(record.id)) continue;
        assertTagged(record, executor);
        if (interleave) {
          if (offer(record.id, record.tags)) items++;
        } else held.push({ id: record.id, tags: record.tags });
      }
      observer.scanned?.({ pass: passes, pages: stats.pages, images: stats.distinct, items });
      if (stopped() || done?.()) break;
      await executor.waitForBacklogBelow(options.maxBacklog ?? readAhead.limit());
      if (stopped()) break;
      asked = performance.now();
    }
    const wrote = executor.counters.writes > writesBefore || inflight > 0;
    for (const { id, tags } of held) {
      if (stopped()) break;
      offer(id, tags);
      const room = executor.roomUnder(maxBacklog);
      if (room) await room;
    }
    return { stats, wrote };
  }
}

function notFound(id: string, source: ItemSource): Decision {
  const op = source.idOp(id) ?? { kind: 'merge' as const, add: [], remove: [] };
  return { id, before: null, after: null, action: 'not_found', op };
}

/** The library's size from GET /user/ (`image_count`), when the API says it. */
async function libraryImageCount(api: TagsApi, executor: RequestExecutor): Promise<number | undefined> {
  if (!api.user) return undefined;
  const result = await executor.execute('read', () => api.user!());
  if (!result.ok) return undefined;
  const count = result.value.image_count;
  return typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : undefined;
}
