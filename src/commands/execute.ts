/**
 * The wiring every command that writes shares (run, plan, job, rename, strip, apply, undo): a
 * run directory under its lock, the request stack, signals, the journal, the one engine, the one
 * recorder, the reports and the summary. A command only builds its source of items.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, runExitCode, type StopSignal } from '../errors.js';
import { renderPlan } from '../plan/render.js';
import { formatRunSummary, shellQuote } from '../report/human.js';
import { RunRecorder } from '../report/recorder.js';
import {
  createRunDir,
  DRIFT_FILE,
  formatLocation,
  openExistingRunDir,
  RunFilesWriter,
  SUMMARY_FILE,
  writeNdjson,
  writeSummary,
  type RunCounts,
  type RunFileCounts,
  type PlanHeader,
  type RunSummary,
} from '../report/run-dir.js';
import { runEngine, type EngineResult, type FailureBudget, type ItemSource } from '../runner/engine.js';
import { JournalWriter, readDoneItems, replayJournal, type AttemptedItem, type DoneItem } from '../runner/journal.js';
import type { JournalEntry } from '../runner/types.js';
import { acquireRunDirLock, lockStaleMs } from '../runner/lock.js';
import { verifyWrites, type VerifyResult } from '../runner/verify.js';
import type { SourceLocation } from '../manifest/types.js';
import { onInterruptDrain, openApiSession, requestSummary, type ApiOptions, type CommandIO } from './common.js';

/** Options of every command that writes. */
export interface WriteOptions extends ApiOptions {
  read: boolean;
  pageSize: number;
  dryRun: boolean;
  maxFailures?: FailureBudget;
  maxChanges?: number;
  out?: string;
  resume?: string;
  /** After the run, re-read the images it changed and report drift (drift.ndjson, summary.verify). */
  verify?: boolean;
  /** Aborting it stops the run like a failed precondition (exit 3, resumable): `retag job` losing its lock. */
  stopSignal?: AbortSignal;
  /** How to resume this run, for the human summary when it was cut short. */
  resumeCommand?: string;
}

export interface ExecuteSpec {
  /** Name shown in the summary (`run`, `plan`, `job <name>`, `apply`, `undo`, `rename`, `strip`). */
  command: string;
  /** What the items come from (a manifest path, a plan, a journal), for the summary and logs. */
  input: string;
  source: ItemSource;
  options: WriteOptions;
  /** Library-wide rules, for per-rule counts (file order). */
  rules?: ReadonlyArray<{ source?: SourceLocation }>;
  /** Header of plan.ndjson (plan / dry run). */
  planHeader?: PlanHeader;
  /** Other run directories this command must hold while it runs (undo holds the run it undoes). */
  holdDirs?: string[];
  /** Before the engine starts, with the run directory open (rejects.ndjson, warnings). */
  prepare?(runDir: string, logger: import('pino').Logger): Promise<void>;
  /** Fields added to summary.json. */
  summaryExtra?: Partial<RunSummary>;
  /** How to resume this run (without --resume), for the human summary. */
  resumeCommand?: string;
  /** Lines added to the human summary. */
  humanExtra?(summary: RunSummary): string;
}

export async function executeRun(spec: ExecuteSpec, io: CommandIO): Promise<number> {
  const { options, source, command } = spec;
  const startedAt = new Date();
  const staleMs = lockStaleMs(io.env);
  const runDir = options.resume ? await openExistingRunDir(options.resume) : await createRunDir(options.out, startedAt);
  // Every directory this command writes into or reads a journal from is held for the whole run.
  const lost = new AbortController();
  const locks: Array<{ release(): Promise<void> }> = [];
  try {
    for (const dir of [runDir, ...(spec.holdDirs ?? [])]) {
      locks.push(await acquireRunDirLock(dir, (error) => lost.abort(new Error(`lost the lock of ${dir} (${error.message})`)), staleMs));
    }
    return await executeLocked(spec, io, runDir, startedAt, lost.signal);
  } finally {
    for (const lock of locks) await lock.release();
  }
}

async function executeLocked(spec: ExecuteSpec, io: CommandIO, runDir: string, startedAt: Date, lockLost: AbortSignal): Promise<number> {
  const { options, source, command } = spec;
  let recorder: RunRecorder | undefined;
  const session = await openApiSession(options, io, {
    runId: options.resume ? path.basename(runDir) : randomUUID(),
    events: { on429: () => recorder?.note429() },
  });
  const { logger, executor, client } = session;
  const redact = [session.apiKey];
  let interrupted: StopSignal | undefined;
  const unregister = onInterruptDrain(io, session, options.timeoutMs, (signal) => (interrupted = signal));
  const stopSignals = [options.stopSignal, lockLost].filter((s): s is AbortSignal => s !== undefined);
  const onStop = (signal: AbortSignal) => () => {
    const reason = signal.reason instanceof Error ? signal.reason.message : 'stopped';
    logger.error({ reason }, `${reason}: stopping (resumable)`);
    executor.abort(reason);
  };
  const listeners = stopSignals.map((signal) => {
    const listener = onStop(signal);
    if (signal.aborted) listener();
    else signal.addEventListener('abort', listener, { once: true });
    return { signal, listener };
  });

  try {
    await spec.prepare?.(runDir, logger);

    // Resume: what every earlier invocation of this run did, by id.
    let resume: Map<string, DoneItem> | undefined;
    let attempted: Map<string, AttemptedItem> | undefined;
    if (options.resume) {
      const state = await readDoneItems(runDir, { keepBefore: !source.staticOps });
      if (state.tornLines > 0) logger.warn({ tornLines: state.tornLines }, 'journal had a torn line (a crash mid-write): ignored');
      resume = state.done;
      attempted = state.attempted;
      const previous = await previousInput(runDir);
      if (previous !== undefined && path.resolve(previous) !== path.resolve(spec.input)) {
        logger.warn({ previous, input: spec.input }, `resuming a run of ${previous} with ${spec.input}: items whose operation differs are done again`);
      }
    }

    // RETAG_BENCH_NO_JOURNAL=1 exists only so `npm run bench` can measure what the write-ahead
    // journal costs against the same run without it. It makes a run unresumable and undoable by
    // nothing: never set it for real work (it is not in --help on purpose).
    const journal = options.dryRun || io.env.RETAG_BENCH_NO_JOURNAL === '1'
      ? undefined
      : await JournalWriter.open(runDir, {
          append: Boolean(options.resume),
          redact,
          onError: (error) => executor.abort(`cannot write the journal (${(error as NodeJS.ErrnoException).code ?? error.message})`),
        });
    recorder = new RunRecorder({
      total: source.wholeLibrary ? undefined : source.idCount,
      stream: io.stderr,
      logger,
      // Every dry run saves its plan (run, rename, strip, and undo/apply --dry-run too).
      ...(options.dryRun
        ? { plan: { dir: runDir, header: spec.planHeader ?? { retag_plan: 1 as const, created: new Date().toISOString(), manifest: spec.input, manifest_sha256: null } } }
        : {}),
      readOnly: options.dryRun,
    });
    const rec = recorder;
    logger.info(
      { input: spec.input, ids: source.idCount, libraryWide: source.wholeLibrary, runDir, dryRun: options.dryRun, resume: Boolean(options.resume) },
      `${command}: ${source.wholeLibrary ? 'library-wide rules: reading the whole library' : `${source.idCount} items`}${options.resume ? ' (resuming)' : ''}`,
    );

    let result: EngineResult;
    try {
      result = await runEngine(
        source,
        {
          api: client,
          executor,
          logger,
          ...(journal ? { journal } : {}),
          ...(resume ? { resume } : {}),
          ...(attempted && attempted.size > 0 ? { attempted } : {}),
          observer: {
            decided: (d) => rec.decided(d),
            finished: (e) => rec.finished(e),
            skipped: (id) => rec.skipped(id),
            scanned: (p) => rec.scanned(p),
          },
        },
        {
          read: options.read,
          pageSize: options.pageSize,
          dryRun: options.dryRun,
          ...(options.maxFailures ? { maxFailures: options.maxFailures } : {}),
          ...(options.maxChanges !== undefined ? { maxChanges: options.maxChanges } : {}),
        },
      );
    } finally {
      rec.stop();
      await journal?.close().catch((error: Error) => logger.error({ err: error }, 'closing the journal failed'));
    }
    if (result.redone > 0) {
      logger.warn({ redone: result.redone }, `${result.redone} items were done before with another operation: done again with the rules as they are now`);
    }

    // The reports cover the whole run (every invocation of it), streamed from the journal: memory
    // follows the number of items, never the journal's lines.
    const verifying = options.verify && !options.dryRun && !interrupted && !result.aborted;
    const expected = new Map<string, string[]>();
    let files: RunFileCounts | undefined;
    let wholeCounts: { counts: RunCounts; failuresByReason: Record<string, number> } | undefined;
    if (!options.dryRun) {
      const writer = new RunFilesWriter(runDir);
      try {
        wholeCounts = await replayJournal(runDir, {
          failed: (e) => writer.failed(e),
          conflict: (e) => writer.conflict(e),
          mayHaveChanged: (id, before) => writer.mayHaveChanged(id, before),
          ...(verifying ? { updated: (e: JournalEntry) => void (e.after && expected.set(e.id, e.after)) } : {}),
        }, source);
      } catch (error) {
        await writer.abort();
        throw error;
      }
      files = await writer.commit();
    }

    // --verify: re-read what the whole run wrote, once it is over (not after an interrupt or abort).
    let verified: VerifyResult | undefined;
    if (verifying) {
      verified = await verifyWrites(expected, client, executor, options.pageSize, logger);
      await writeNdjson(path.join(runDir, DRIFT_FILE), verified.drift);
      for (const d of verified.drift.slice(0, 20)) logger.warn({ id: d.id, expected: d.expected, current: d.current }, `${d.id}: drift: no longer what the run wrote`);
      if (verified.incomplete) logger.warn({ reason: verified.incomplete }, 'verify could not finish: drift.ndjson is partial');
    }

    // A plan finishes only the items that need no write: the ones it would change count too.
    const plan = options.dryRun ? rec.plan() : undefined;
    const counts = plan ? { ...rec.counts, total: rec.counts.total + plan.actions.update } : rec.counts;
    const rules = (spec.rules ?? []).map((r, i) => ({
      rule: r.source ? formatLocation(r.source) : `rule ${i + 1}`,
      matched: result.matched[i] ?? 0,
    }));
    if (!result.aborted && !interrupted) {
      for (const r of rules) if (r.matched === 0) logger.warn({ rule: r.rule }, `rule ${r.rule} matched no image`);
    }
    const exitCode = runExitCode({
      ...(interrupted ? { interrupted } : {}),
      aborted: Boolean(result.aborted),
      failed: counts.failed,
      conflicts: counts.conflict,
    });
    const endedAt = new Date();
    const summary: RunSummary = {
      command,
      manifest: spec.input,
      counts,
      failuresByReason: (wholeCounts ?? { failuresByReason: rec.failuresByReason }).failuresByReason,
      ...requestSummary(session, startedAt, endedAt),
      exitCode,
      runDir,
      ...(result.aborted ? { aborted: result.aborted.message } : {}),
      ...(result.unfinished > 0 && !options.dryRun ? { unfinished: result.unfinished } : {}),
      ...(options.resume && wholeCounts ? { wholeRun: wholeCounts.counts } : {}),
      ...(plan ? { wouldChange: plan.actions.update } : {}),
      ...(options.read ? { scan: { passes: result.passes, listRequests: result.listRequests } } : {}),
      ...(source.wholeLibrary ? { scanned: result.scanned, rules } : {}),
      ...(result.redone > 0 ? { redone: result.redone } : {}),
      ...(files && files.noBefore > 0 ? { notUndoable: files.noBefore } : {}),
      ...spec.summaryExtra,
    };
    if (verified) {
      summary.verify = { checked: verified.checked, drifted: verified.drift.length, ...(verified.incomplete ? { incomplete: verified.incomplete } : {}) };
    }
    await writeSummary(runDir, summary, { redact });
    io.onSummary?.(summary);
    logger.info(
      { command, summary: { counts, requests: summary.requests, exitCode, durationMs: summary.durationMs, ...(verified ? { drifted: verified.drift.length } : {}) } },
      'run finished',
    );

    // A plan cut short (key rejected, server unreachable, interrupted) is not a plan: say why, once.
    if (plan && !result.aborted && !interrupted) io.stdout.write(`${renderPlan(plan, { rules })}\n`);
    let text = formatRunSummary(summary, { resumeCommand: options.resumeCommand ?? spec.resumeCommand ?? `retag ${command} ${shellQuote(spec.input)}` });
    if (verified) {
      text +=
        verified.drift.length > 0
          ? `  verify:    ${verified.drift.length} of ${verified.checked} images changed since written (see ${path.join(runDir, DRIFT_FILE)})\n`
          : `  verify:    ${verified.checked} images checked, all as written${verified.incomplete ? ' (incomplete)' : ''}\n`;
    }
    text += spec.humanExtra?.(summary) ?? '';
    io.stderr.write(`${text}\n`);
    return exitCode;
  } finally {
    unregister();
    for (const { signal, listener } of listeners) signal.removeEventListener('abort', listener);
    recorder?.stop();
    await session.close();
  }
}

/** The input an earlier invocation of this run recorded in its summary.json, if any. */
async function previousInput(runDir: string): Promise<string | undefined> {
  try {
    const summary = JSON.parse(await readFile(path.join(runDir, SUMMARY_FILE), 'utf8')) as { manifest?: unknown };
    return typeof summary.manifest === 'string' ? summary.manifest : undefined;
  } catch {
    return undefined; // killed before its first summary: nothing to compare
  }
}

export { ExitCode };
