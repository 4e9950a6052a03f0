import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { GuardedOp } from '../plan/types.js';
import { openExistingRunDir, UNDO_FILE } from '../report/run-dir.js';
import { JOURNAL_FILE, readJournalState } from '../runner/journal.js';
import { guardedSource } from '../runner/sources.js';
import { shellQuote } from '../report/human.js';
import type { CommandIO } from './common.js';
import { executeRun, type WriteOptions } from './execute.js';

export interface UndoCommandOptions extends WriteOptions {
  /** The run directory to undo. */
  runDir: string;
}

/**
 * `retag undo <run-dir>`: every image the run may have changed (updated, pending, or failed
 * after a write was sent) is a guarded write: write back its earliest `before` where it still
 * holds what the run last wrote. Images changed since are conflicts (conflicts.ndjson, exit 1).
 * The undo has its own run directory, so `retag undo <undo-dir>` undoes the undo.
 */
export async function undoCommand(options: UndoCommandOptions, io: CommandIO): Promise<number> {
  const source = await openExistingRunDir(options.runDir);
  try {
    await stat(path.join(source, JOURNAL_FILE));
  } catch {
    throw new UsageError(`${source} holds no ${JOURNAL_FILE}: not a run directory, or the run changed nothing`);
  }
  const { items, tornLines } = await readJournalState(source);
  const undo = new Map<string, GuardedOp>();
  let notUndoable = 0;
  for (const item of items.values()) {
    if (!item.mayHaveChanged) continue;
    if (item.earliestBefore === null || item.earliestBefore === undefined || item.written === undefined) {
      notUndoable++;
      continue;
    }
    undo.set(item.id, { kind: 'guarded', expect: item.written, write: item.earliestBefore });
  }
  return executeRun(
    {
      command: 'undo',
      input: path.join(source, JOURNAL_FILE),
      resumeCommand: `retag undo ${shellQuote(source)}`,
      source: guardedSource(undo),
      options: { ...options, read: true },
      holdDirs: [source],
      prepare: async (_dir, logger) => {
        if (tornLines > 0) logger.warn({ tornLines }, 'the journal had a torn line (a crash mid-write): ignored');
        if (notUndoable > 0) logger.warn({ notUndoable }, `${notUndoable} items were written without a read (--no-read): no before tags, cannot be undone`);
      },
      summaryExtra: { undoOf: source, ...(notUndoable > 0 ? { notUndoable } : {}) },
      humanExtra: (summary) => {
        let text = '';
        if (notUndoable > 0) text += `  not undoable: ${notUndoable} written with --no-read (no before tags)\n`;
        if (!options.dryRun) text += `undo this undo with: retag undo ${summary.runDir}\n`;
        return text;
      },
    },
    io,
  );
}

export { UNDO_FILE };
