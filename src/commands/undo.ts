import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { runExitCode, UsageError } from '../errors.js';
import { normalizeTags } from '../plan/normalize.js';
import { formatRunSummary } from '../report/human.js';
import { createProgress } from '../report/progress.js';
import {
  createRunDir,
  JOURNAL_FILE,
  JournalWriter,
  openExistingRunDir,
  readJournal,
  writeFailures,
  writeNdjson,
  writeSummary,
  writeUndo,
  type RunSummary,
} from '../report/run-dir.js';
import type { JournalEntry } from '../runner/types.js';
import { runUndo, undoItemsFromJournal, type UndoAction, type UndoItem } from '../runner/undo.js';
import { onInterruptDrain, openApiSession, requestSummary, type ApiOptions, type CommandIO } from './common.js';

/** Images changed since the run, left alone: each line a valid rule (`retag run` on it forces the restore). */
export const CONFLICTS_FILE = 'conflicts.ndjson';

export interface UndoCommandOptions extends ApiOptions {
  /** The run directory to undo. */
  runDir: string;
  pageSize: number;
  /** The undo's own run directory (default retag-runs/<UTC timestamp>/). */
  out?: string;
}

/**
 * `retag undo <run-dir>`: for every image the run changed, write back its `before` tags where it
 * still carries what the run wrote (read, compare, write). Images changed since are conflicts:
 * left alone, listed in conflicts.ndjson, exit 1. The undo writes its own run directory
 * (journal, summary, undo.ndjson), so `retag undo <undo-dir>` undoes the undo.
 */
export async function undoCommand(options: UndoCommandOptions, io: CommandIO): Promise<number> {
  const startedAt = new Date();
  const source = await openExistingRunDir(options.runDir);
  try {
    await stat(path.join(source, JOURNAL_FILE));
  } catch {
    throw new UsageError(`${source} holds no ${JOURNAL_FILE}: not a run directory, or the run changed nothing`);
  }
  const { entries, tornLines } = await readJournal(source);
  const { items, noBefore } = undoItemsFromJournal(entries);

  const runDir = await createRunDir(options.out, startedAt);
  let progress: ReturnType<typeof createProgress> | undefined;
  const session = await openApiSession(options, io, { runId: randomUUID(), events: { on429: () => progress?.note429() } });
  const { logger, executor, client } = session;
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  const unregister = onInterruptDrain(io, session, options.timeoutMs, (signal) => (interrupted = signal));

  try {
    if (tornLines > 0) logger.warn({ tornLines }, 'the journal had a torn line (a crash mid-write): ignored');
    if (noBefore > 0) logger.warn({ noBefore }, `${noBefore} items were written without a read (--no-read): no before tags, cannot be undone`);
    logger.info({ undoOf: source, items: items.length, runDir }, `undo: ${items.length} images to restore where unchanged since`);

    const journal = await JournalWriter.open(runDir, { append: false, redact: [session.apiKey] });
    progress = createProgress({ total: items.length, stream: io.stderr, logger });
    const counts = { updated: 0, unchanged: 0, failed: 0, skipped: 0, total: items.length };
    const failuresByReason: Record<string, number> = {};
    const journaled: JournalEntry[] = [];
    const conflicts: Array<{ entry: JournalEntry; item: UndoItem }> = [];
    const failed: Array<{ entry: JournalEntry; item: UndoItem }> = [];

    const result = await runUndo(
      items,
      client,
      executor,
      {
        logger,
        onItem(entry: JournalEntry, action: UndoAction, item: UndoItem) {
          journal.write(entry);
          journaled.push(entry);
          if (entry.outcome !== 'skipped') counts[entry.outcome]++;
          progress?.tick(entry.outcome);
          if (entry.outcome !== 'failed') return;
          const reason = action === 'conflict' ? 'conflict' : (entry.reason ?? 'unknown');
          failuresByReason[reason] = (failuresByReason[reason] ?? 0) + 1;
          (action === 'conflict' ? conflicts : failed).push({ entry, item });
        },
      },
      { pageSize: options.pageSize },
    );
    progress.stop();
    await journal.close();

    // failures.ndjson: what could not be restored for a transient reason (re-running the undo
    // retries them safely too). Conflicts are kept apart: re-running them would clobber an edit.
    await writeFailures(
      runDir,
      failed.map(({ entry, item }) => ({ target: { id: item.id, op: { kind: 'set' as const, tags: normalizeTags(item.before) } }, entry })),
    );
    await writeNdjson(
      path.join(runDir, CONFLICTS_FILE),
      conflicts.map(({ entry, item }) => ({ id: item.id, set: item.before, _wrote: item.after, _current: entry.before })),
    );
    await writeUndo(runDir, journaled);

    const exitCode = runExitCode({ ...(interrupted ? { interrupted } : {}), aborted: Boolean(result.aborted), failed: counts.failed });
    const endedAt = new Date();
    const summary: RunSummary & { undoOf: string; conflicts: number; notUndoable?: number } = {
      command: 'undo',
      manifest: path.join(source, JOURNAL_FILE),
      undoOf: source,
      counts,
      conflicts: conflicts.length,
      ...(noBefore > 0 ? { notUndoable: noBefore } : {}),
      failuresByReason,
      ...requestSummary(session, startedAt, endedAt),
      exitCode,
      runDir,
      ...(result.aborted ? { aborted: result.aborted.message } : {}),
      ...(result.unfinished > 0 ? { unfinished: result.unfinished } : {}),
    };
    await writeSummary(runDir, summary, { redact: [session.apiKey] });
    logger.info({ summary: { counts, conflicts: conflicts.length, requests: summary.requests, exitCode, durationMs: summary.durationMs } }, 'undo finished');
    // The human lines count conflicts apart, so the "re-run failures" hint covers only failures.ndjson.
    const shown = { ...summary, counts: { ...counts, failed: failed.length } };
    let text = formatRunSummary(shown);
    if (conflicts.length > 0) {
      text += `  conflicts: ${conflicts.length} image${conflicts.length === 1 ? '' : 's'} changed since the run, left alone (see ${path.join(runDir, CONFLICTS_FILE)})\n`;
    }
    if (noBefore > 0) text += `  not undoable: ${noBefore} written with --no-read (no before tags)\n`;
    if (result.unfinished > 0 || failed.length > 0) text += `retry with: retag undo ${source} (safe to repeat)\n`;
    text += `undo this undo with: retag undo ${runDir}\n`;
    io.stderr.write(text);
    return exitCode;
  } finally {
    unregister();
    progress?.stop();
    await session.close();
  }
}
