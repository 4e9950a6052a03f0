import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, runExitCode, UsageError } from '../errors.js';
import { assertNoProblems, loadManifest, formatProblem } from '../manifest/index.js';
import { PlanStats } from '../plan/summary.js';
import { renderPlan } from '../plan/render.js';
import type { Target } from '../plan/types.js';
import { formatRunSummary, shellQuote } from '../report/human.js';
import { createProgress } from '../report/progress.js';
import {
  createRunDir,
  DRIFT_FILE,
  JournalWriter,
  latestById,
  openExistingRunDir,
  readJournal,
  summarizeJournal,
  SUMMARY_FILE,
  failedItems,
  writeFailures,
  writeNdjson,
  PlanWriter,
  writeRejects,
  writeSummary,
  writeUndo,
  type RunSummary,
} from '../report/run-dir.js';
import { runTargets, type FailureBudget } from '../runner/run.js';
import { verifyWrites, type VerifyResult } from '../runner/verify.js';
import type { JournalEntry } from '../runner/types.js';
import { onInterruptDrain, openApiSession, requestSummary, type ApiOptions, type CommandIO, type ManifestReadOptions } from './common.js';

const RESUMABLE: ReadonlySet<number> = new Set([ExitCode.aborted, ExitCode.sigint, ExitCode.sigterm]);

export interface RunCommandOptions extends ApiOptions, ManifestReadOptions {
  manifest: string;
  read: boolean;
  pageSize: number;
  dryRun: boolean;
  skipInvalid: boolean;
  maxFailures?: FailureBudget;
  out?: string;
  resume?: string;
  /** After the run, re-read the images it changed and report drift (drift.ndjson, summary.verify). */
  verify?: boolean;
  /** Aborting it stops the run like a failed precondition (exit 3, resumable): `retag job` losing its lock. */
  stopSignal?: AbortSignal;
  /** How to resume this run, for the human summary when it was cut short (`retag job <file>`). */
  resumeCommand?: string;
  /** Name shown in the summary (`run`, `plan`, `job <name>`). */
  command?: string;
}

/**
 * `retag run` (and `plan`, which is `run --dry-run` with a plan report).
 * Order matters: manifest, key and base URL are all checked before the first request.
 */
export async function runCommand(options: RunCommandOptions, io: CommandIO): Promise<number> {
  const startedAt = new Date();
  const command = options.command ?? (options.dryRun ? 'plan' : 'run');
  const manifest = await loadManifest(options.manifest, {
    format: options.format,
    tagSeparator: options.tagSeparator,
    maxTagLength: options.maxTagLength,
    requireSetOnly: !options.read,
  });
  if (manifest.problems.length > 0 && !options.skipInvalid) {
    assertNoProblems(options.manifest, manifest.problems);
  }
  if (manifest.targets.length === 0) {
    throw new UsageError(`${options.manifest}: no valid rules to apply`);
  }

  const runDir = options.resume ? await openExistingRunDir(options.resume) : await createRunDir(options.out, startedAt);
  const runId = options.resume ? path.basename(runDir) : randomUUID();
  let progress: ReturnType<typeof createProgress> | undefined;
  const session = await openApiSession(options, io, {
    runId,
    events: { on429: () => progress?.note429() },
  });
  const { logger, executor, client } = session;
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  const unregister = onInterruptDrain(io, session, options.timeoutMs, (signal) => (interrupted = signal));
  const onStop = () => {
    const reason = options.stopSignal?.reason instanceof Error ? options.stopSignal.reason.message : 'stopped';
    logger.error({ reason }, `${reason}: stopping (resumable)`);
    executor.abort(reason);
  };
  if (options.stopSignal?.aborted) onStop();
  else options.stopSignal?.addEventListener('abort', onStop, { once: true });

  try {
    if (manifest.problems.length > 0) {
      await writeRejects(runDir, manifest.problems);
      for (const p of manifest.problems) logger.warn({ problem: formatProblem(p) }, 'rule rejected (--skip-invalid)');
    }

    // Resume: items already updated/unchanged are skipped; the journal is appended to.
    const latest = new Map<string, JournalEntry>();
    if (options.resume) {
      const { entries, tornLines } = await readJournal(runDir);
      if (tornLines > 0) logger.warn({ tornLines }, 'journal had a torn last line (a crash mid-write): ignored');
      for (const [id, entry] of latestById(entries)) latest.set(id, entry);
      const previous = await previousManifest(runDir);
      if (previous !== undefined && path.resolve(previous) !== path.resolve(options.manifest)) {
        // Not an error (the file may have moved), but the reports will mix two manifests' items.
        logger.warn(
          { previous, manifest: options.manifest },
          `resuming a run of ${previous} with ${options.manifest}: is this the same manifest?`,
        );
      }
    }
    const done = (t: Target) => {
      const outcome = latest.get(t.id)?.outcome;
      return outcome === 'updated' || outcome === 'unchanged';
    };
    const todo = manifest.targets.filter((t) => !done(t));
    const skipped = manifest.targets.length - todo.length;

    const journal = options.dryRun ? undefined : await JournalWriter.open(runDir, { append: Boolean(options.resume) });
    const planStats = new PlanStats();
    const planWriter = options.dryRun ? PlanWriter.open(runDir) : undefined;
    progress = createProgress({ total: todo.length, stream: io.stderr, logger });
    const counts = { updated: 0, unchanged: 0, failed: 0, skipped, total: manifest.targets.length };

    logger.info(
      { manifest: options.manifest, items: manifest.targets.length, rules: manifest.ruleCount, skipped, runDir, dryRun: options.dryRun },
      `${command}: ${todo.length} items to process${skipped ? ` (${skipped} already done, skipped)` : ''}`,
    );
    const result = await runTargets(
      todo,
      client,
      executor,
      {
        logger,
        onItem(entry) {
          journal?.write(entry);
          latest.set(entry.id, entry);
          if (entry.outcome !== 'skipped') counts[entry.outcome]++;
          progress?.tick(entry.outcome);
        },
        onPlan(entry) {
          planStats.add(entry);
          planWriter?.write(entry);
        },
      },
      {
        read: options.read,
        pageSize: options.pageSize,
        dryRun: options.dryRun,
        ...(options.maxFailures ? { maxFailures: options.maxFailures } : {}),
      },
    );
    progress.stop();
    await journal?.close();

    // Reports cover the whole run (every invocation of it, when resumed).
    if (options.dryRun) {
      planWriter?.close();
      io.stdout.write(`${renderPlan(planStats.result())}\n`);
    } else {
      // In manifest order, so failures.ndjson reads like the manifest it came from.
      await writeFailures(runDir, failedItems(manifest.targets, latest));
      await writeUndo(runDir, [...latest.values()]);
    }

    // --verify: re-read what the whole run wrote, once it is over (not after an interrupt or abort).
    let verified: VerifyResult | undefined;
    if (options.verify && !options.dryRun && !interrupted && !result.aborted) {
      const expected = new Map<string, string[]>();
      for (const e of latest.values()) if (e.outcome === 'updated' && e.after !== null) expected.set(e.id, e.after);
      verified = await verifyWrites(expected, client, executor, options.pageSize, logger);
      await writeNdjson(path.join(runDir, DRIFT_FILE), verified.drift);
      for (const d of verified.drift.slice(0, 20)) logger.warn({ id: d.id, expected: d.expected, current: d.current }, `${d.id}: drift: no longer what the run wrote`);
      if (verified.incomplete) logger.warn({ reason: verified.incomplete }, 'verify could not finish: drift.ndjson is partial');
    }

    const exitCode = runExitCode({ ...(interrupted ? { interrupted } : {}), aborted: Boolean(result.aborted), failed: counts.failed });
    const endedAt = new Date();
    const whole = summarizeJournal(latest);
    const summary: RunSummary = {
      command,
      manifest: options.manifest,
      counts,
      failuresByReason: whole.failuresByReason,
      ...requestSummary(session, startedAt, endedAt),
      exitCode,
      runDir,
      ...(result.aborted ? { aborted: result.aborted.message } : {}),
      ...(result.unfinished > 0 && !options.dryRun ? { unfinished: result.unfinished } : {}),
      ...(options.resume ? { wholeRun: whole.counts } : {}),
      ...(options.dryRun ? { wouldChange: planStats.result().actions.update } : {}),
      ...(manifest.problems.length > 0 ? { rejected: manifest.problems.length } : {}),
    };
    if (verified) {
      summary.verify = {
        checked: verified.checked,
        drifted: verified.drift.length,
        ...(verified.incomplete ? { incomplete: verified.incomplete } : {}),
      };
    }
    await writeSummary(runDir, summary);
    logger.info(
      {
        summary: {
          counts,
          requests: summary.requests,
          exitCode,
          durationMs: summary.durationMs,
          ...(verified ? { drifted: verified.drift.length } : {}),
        },
      },
      'run finished',
    );
    let text = formatRunSummary(summary);
    if (verified) {
      text +=
        verified.drift.length > 0
          ? `  verify:    ${verified.drift.length} of ${verified.checked} images changed since written (see ${path.join(runDir, DRIFT_FILE)})\n`
          : `  verify:    ${verified.checked} images checked, all as written${verified.incomplete ? ' (incomplete)' : ''}\n`;
    }
    if (options.resumeCommand && !options.dryRun && RESUMABLE.has(exitCode)) {
      text += `resume with: ${options.resumeCommand} --resume ${shellQuote(runDir)}\n`;
    }
    io.stderr.write(`${text}\n`);
    return exitCode;
  } finally {
    unregister();
    options.stopSignal?.removeEventListener('abort', onStop);
    progress?.stop();
    await session.close();
  }
}

/** The manifest an earlier invocation of this run recorded in its summary.json, if any. */
async function previousManifest(runDir: string): Promise<string | undefined> {
  try {
    const summary = JSON.parse(await readFile(path.join(runDir, SUMMARY_FILE), 'utf8')) as { manifest?: unknown };
    return typeof summary.manifest === 'string' ? summary.manifest : undefined;
  } catch {
    return undefined; // killed before its first summary: nothing to compare
  }
}
