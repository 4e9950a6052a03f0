import type { Logger } from 'pino';
import { normalizeTags, sameTags } from '../plan/normalize.js';
import { latestById } from '../report/run-dir.js';
import { RunAbort, type AbortKind } from './abort.js';
import type { RequestExecutor } from './executor.js';
import { scanForIds, type TagsApi } from './scan.js';
import type { JournalEntry } from './types.js';
import { writeTags } from './write.js';

/** What a run changed on one image: the undo restores `before` where the image still holds `after`. */
export interface UndoItem {
  id: string;
  /** The tags the run found (exactly as the server had them). */
  before: string[];
  /** The tags the run wrote. */
  after: string[];
}

/**
 * - `restore`: the image still carries what the run wrote → write `before` back;
 * - `already_restored`: it already carries `before` again (an earlier undo, or a manual fix) → nothing;
 * - `conflict`: someone changed it since → left alone, reported;
 * - `missing`: the image is gone from the listing → reported.
 */
export type UndoAction = 'restore' | 'already_restored' | 'conflict' | 'missing';

/** Pure: decide from before/after/current. Tag lists compare as sets of normalised tags. */
export function decideUndo(item: UndoItem, current: readonly string[] | null | undefined): UndoAction {
  if (current === undefined || current === null) return 'missing';
  const now = normalizeTags(current);
  if (sameTags(now, normalizeTags(item.after))) return 'restore';
  if (sameTags(now, normalizeTags(item.before))) return 'already_restored';
  return 'conflict';
}

/**
 * The items a run changed, from its journal: every id whose latest entry is `updated` with a
 * `before` (items written with --no-read have none and cannot be undone: counted in `noBefore`).
 */
export function undoItemsFromJournal(entries: Iterable<JournalEntry>): { items: UndoItem[]; noBefore: number } {
  const items: UndoItem[] = [];
  let noBefore = 0;
  for (const e of latestById(entries).values()) {
    if (e.outcome !== 'updated') continue;
    if (e.before === null || e.after === null) {
      noBefore++;
      continue;
    }
    items.push({ id: e.id, before: e.before, after: e.after });
  }
  return { items, noBefore };
}

export interface UndoHooks {
  /** Every finished item, once, in finishing order (the undo's own journal). */
  onItem(entry: JournalEntry, action: UndoAction, item: UndoItem): void;
  logger: Logger;
}

export interface UndoResult {
  aborted?: { reason: AbortKind; message: string };
  finished: number;
  unfinished: number;
}

/**
 * Read the current tags of the items (one scan of GET /get/), decide per item, and write back
 * `before` where the decision is `restore` — every request through the executor. The undo's
 * journal entries read like a run's: `before` is what the image held just now, `after` what the
 * undo wrote, so an undo can itself be undone.
 */
export async function runUndo(
  items: UndoItem[],
  api: TagsApi,
  executor: RequestExecutor,
  hooks: UndoHooks,
  options: { pageSize: number; maxBacklog?: number },
): Promise<UndoResult> {
  const { logger } = hooks;
  const maxBacklog = options.maxBacklog ?? Math.max(64, executor.queue.concurrency * 16);
  const inflight = new Set<Promise<void>>();
  let finished = 0;
  let aborted: UndoResult['aborted'];
  const at = () => new Date().toISOString();

  const stop = (reason: AbortKind, message: string) => {
    if (aborted) return;
    aborted = { reason, message };
    logger.error({ reason }, message);
    executor.abort(message);
  };
  const finish = (entry: JournalEntry, action: UndoAction, item: UndoItem) => {
    finished++;
    if (entry.outcome === 'failed') {
      logger.error({ id: entry.id, action, status: entry.status, attempts: entry.attempts }, `${entry.id}: ${entry.error ?? action}`);
    }
    hooks.onItem(entry, action, item);
  };

  const handle = (item: UndoItem, current: string[] | undefined) => {
    const action = decideUndo(item, current);
    if (action === 'missing') {
      finish(
        { id: item.id, outcome: 'failed', reason: 'not_found', before: null, after: item.before, attempts: 0, error: 'id no longer in the library', at: at() },
        action,
        item,
      );
      return;
    }
    const now = current!;
    if (action === 'already_restored') {
      finish({ id: item.id, outcome: 'unchanged', before: now, after: now, attempts: 0, at: at() }, action, item);
      return;
    }
    if (action === 'conflict') {
      finish(
        {
          id: item.id,
          outcome: 'failed',
          before: now,
          after: item.before,
          attempts: 0,
          error: `conflict: changed since the run (it wrote ${JSON.stringify(item.after)}, the image now has ${JSON.stringify(now)}); left alone`,
          at: at(),
        },
        action,
        item,
      );
      return;
    }
    const task = writeTags(executor, api, item.id, item.before).then((result) => {
      if (result.kind === 'unfinished') return; // running the undo again picks it up
      if (result.kind === 'stop') return stop(result.reason, result.message);
      if (result.kind === 'updated') {
        return finish({ id: item.id, outcome: 'updated', before: now, after: item.before, attempts: result.attempts, status: 200, at: at() }, action, item);
      }
      const { kind: _, ...failure } = result;
      finish({ id: item.id, outcome: 'failed', before: now, after: item.before, ...failure, at: at() }, action, item);
    });
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };

  const pending = new Map(items.map((i) => [i.id, i]));
  try {
    for await (const found of scanForIds(pending, api, executor, options.pageSize, logger)) {
      for (const { item, tags } of found) handle(item, tags);
      if (aborted || executor.aborted) break;
      await executor.waitForBacklogBelow(maxBacklog);
    }
    if (!aborted && !executor.aborted) for (const item of pending.values()) handle(item, undefined);
  } catch (error) {
    if (error instanceof RunAbort) stop(error.kind, error.message);
    else if (!executor.aborted) throw error;
  }
  while (inflight.size > 0) await Promise.all([...inflight]);
  if (!aborted && executor.aborted) aborted = { reason: 'signal', message: executor.abortReason ?? 'interrupted' };
  return { ...(aborted ? { aborted } : {}), finished, unfinished: items.length - finished };
}
