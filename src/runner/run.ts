import type { Logger } from 'pino';
import { resolveTarget } from '../plan/resolve.js';
import type { PlanEntry, Target } from '../plan/types.js';
import type { RequestExecutor } from './executor.js';
import { scanForIds, type TagsApi } from './scan.js';
import type { JournalEntry } from './types.js';
import { writeTags } from './write.js';
import { RunAbort, type AbortKind } from './abort.js';

/** `--max-failures`: an absolute count or a share of the items. */
export type FailureBudget = { count: number } | { percent: number };

export interface RunTargetsOptions {
  /** Read current tags first (default). False is `--no-read`: set/clear only, no no-op skip. */
  read: boolean;
  pageSize: number;
  /** Plan only: resolve and report, never write. */
  dryRun: boolean;
  maxFailures?: FailureBudget;
  /** Writes allowed to wait in the queue before the scan pauses (keeps read→write time short). */
  maxBacklog?: number;
}

export interface RunTargetsHooks {
  /** Every finished item (the journal); called once per item, in finishing order. */
  onItem(entry: JournalEntry): void;
  /** Every resolved plan entry, before any write (plan.ndjson, plan stats). */
  onPlan?(entry: PlanEntry): void;
  logger: Logger;
}

export interface RunTargetsResult {
  /** Why the run stopped early, when it did (exit 3). */
  aborted?: { reason: AbortKind; message: string };
  failed: number;
  finished: number;
  /** Items that never finished (abort): not journaled, so a resume retries them. */
  unfinished: number;
}


/**
 * The heart of `run`: read current tags page by page, resolve each target as soon as its page
 * is read, and write what changed — every request through the executor (queue + rate + retry).
 * Each item ends as exactly one journal entry; failures are data, not exceptions.
 */
export async function runTargets(
  targets: Target[],
  api: TagsApi,
  executor: RequestExecutor,
  hooks: RunTargetsHooks,
  options: RunTargetsOptions,
): Promise<RunTargetsResult> {
  const { logger } = hooks;
  const total = targets.length;
  // Nothing to do (e.g. resuming a finished run): no scan, no request.
  if (total === 0) return { failed: 0, finished: 0, unfinished: 0 };
  const budget = budgetCount(options.maxFailures, total);
  const maxBacklog = options.maxBacklog ?? Math.max(64, executor.queue.concurrency * 16);
  const inflight = new Set<Promise<void>>();
  let failed = 0;
  let finished = 0;
  let aborted: RunTargetsResult['aborted'];

  const stop = (reason: AbortKind, message: string) => {
    if (aborted) return;
    aborted = { reason, message };
    logger.error({ reason }, message);
    executor.abort(message);
  };

  const finish = (entry: JournalEntry) => {
    finished++;
    if (entry.outcome === 'failed') {
      failed++;
      logger.error(
        { id: entry.id, status: entry.status ?? null, attempts: entry.attempts, reason: entry.reason },
        `${entry.id}: ${entry.error ?? entry.reason}`,
      );
    }
    hooks.onItem(entry);
    if (entry.outcome === 'failed' && budget !== undefined && failed > budget) {
      stop('budget', `failure budget exceeded: ${failed} items failed (--max-failures allows ${budget})`);
    }
  };

  const handle = (entry: PlanEntry) => {
    hooks.onPlan?.(entry);
    const at = () => new Date().toISOString();
    if (entry.action === 'not_found') {
      finish({ ...entry, outcome: 'failed', attempts: 0, reason: 'not_found', error: 'id not in the library', at: at() });
      return;
    }
    if (entry.action === 'unchanged') {
      finish({ ...entry, outcome: 'unchanged', attempts: 0, at: at() });
      return;
    }
    if (options.dryRun) return;
    const task = writeTags(executor, api, entry.id, entry.after ?? []).then((result) => {
      if (result.kind === 'unfinished') return; // a resume picks it up
      if (result.kind === 'stop') return stop(result.reason, result.message);
      if (result.kind === 'updated') return finish({ ...entry, outcome: 'updated', attempts: result.attempts, status: 200, at: at() });
      const { kind: _, ...failure } = result;
      finish({ ...entry, outcome: 'failed', ...failure, at: at() });
    });
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };

  try {
    if (!options.read) {
      for (const target of targets) {
        if (aborted || executor.aborted) break;
        await executor.waitForBacklogBelow(maxBacklog);
        handle(resolveTarget(target, null));
      }
    } else {
      const pending = new Map(targets.map((t) => [t.id, t]));
      for await (const found of scanForIds(pending, api, executor, options.pageSize, logger)) {
        for (const { item, tags } of found) handle(resolveTarget(item, tags));
        if (aborted || executor.aborted) break;
        await executor.waitForBacklogBelow(maxBacklog);
      }
      // Only a scan that reached the end proves an id absent; a scan cut short by an abort (or a
      // signal, which aborts the executor directly) leaves the rest unfinished, for a resume.
      // The budget may trip on these very failures: stop there, the rest stay unfinished.
      for (const target of pending.values()) {
        if (aborted || executor.aborted) break;
        handle(resolveTarget(target, undefined));
      }
    }
  } catch (error) {
    if (error instanceof RunAbort) stop(error.kind, error.message);
    else if (executor.aborted) {
      /* the scan was cut short by an abort already recorded */
    } else throw error;
  }
  // A signal handler may have aborted the executor directly.
  if (!aborted && executor.aborted) aborted = { reason: 'signal', message: executor.abortReason ?? 'interrupted' };
  while (inflight.size > 0) await Promise.all([...inflight]);
  if (!aborted && executor.aborted) aborted = { reason: 'signal', message: executor.abortReason ?? 'interrupted' };
  return { ...(aborted ? { aborted } : {}), failed, finished, unfinished: total - finished };
}

function budgetCount(budget: FailureBudget | undefined, total: number): number | undefined {
  if (!budget) return undefined;
  if ('count' in budget) return budget.count;
  return Math.floor((budget.percent / 100) * total);
}

