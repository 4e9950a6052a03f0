/**
 * The one recorder of a run (design.md §1): counts, progress, the plan (stats and plan.ndjson),
 * and at the end the run-directory files, the summary and the human summary. The engine tells it
 * what happens; the journal itself is written by the engine (write-ahead belongs to the runner).
 */
import { PlanStats, type PlanSummary } from '../plan/summary.js';
import type { Decision } from '../plan/types.js';
import type { JournalEntry } from '../runner/types.js';
import { createProgress, type Progress, type ProgressLogger } from './progress.js';
import { emptyCounts, PlanWriter, type PlanHeader, type RunCounts } from './run-dir.js';

export interface RecorderOptions {
  /** Items expected, when known (ids named); undefined for library-wide runs until the scan ends. */
  total: number | undefined;
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  logger: ProgressLogger;
  /** Write plan.ndjson into this run directory (plan / dry run). */
  plan?: { dir: string; header: PlanHeader };
  /** A plan only reads: its display stays on the scan (pages, images read, matched). */
  readOnly?: boolean;
}

export class RunRecorder {
  /** This invocation's counts. */
  readonly counts: RunCounts = emptyCounts();
  readonly failuresByReason: Record<string, number> = {};
  readonly #plan = new PlanStats();
  readonly #planWriter: PlanWriter | undefined;
  readonly #progress: Progress;
  readonly #readOnly: boolean;
  #scan = { pages: 0, images: 0 };
  #matched = 0;

  constructor(options: RecorderOptions) {
    this.#planWriter = options.plan ? PlanWriter.open(options.plan.dir, options.plan.header) : undefined;
    this.#readOnly = options.readOnly === true;
    this.#progress = createProgress({ total: options.total, stream: options.stream, logger: options.logger, mode: options.readOnly ? 'scan' : 'auto' });
  }

  decided(d: Decision): void {
    // Per-tag plan statistics are for the plan's report only: a run that writes skips them.
    if (!this.#readOnly) return;
    this.#plan.add(d);
    this.#planWriter?.write(d);
  }

  finished(entry: JournalEntry): void {
    const outcome = entry.outcome;
    if (outcome === 'pending' || outcome === 'unsent') return;
    this.counts[outcome]++;
    this.counts.total++;
    if (outcome === 'failed') {
      const key = entry.reason ?? 'unknown';
      this.failuresByReason[key] = (this.failuresByReason[key] ?? 0) + 1;
    }
    this.#progress.tick(outcome === 'conflict' ? 'failed' : outcome);
  }

  skipped(_id: string): void {
    this.counts.skipped++;
    this.counts.total++;
    this.#progress.tick('skipped');
  }

  scanned(progress: { pass: number; pages: number; images: number; items: number }): void {
    this.#scan = { pages: progress.pages, images: progress.images };
    this.#matched += progress.items;
    this.#progress.scan({ pages: progress.pages, images: progress.images, matched: this.#matched });
  }

  get scan(): { pages: number; images: number } {
    return this.#scan;
  }

  note429(): void {
    this.#progress.note429();
  }

  setTotal(n: number): void {
    this.#progress.setTotal(n);
  }

  /** Stop the live display and close plan.ndjson. Idempotent. */
  stop(): void {
    this.#progress.stop();
    this.#planWriter?.close();
  }

  plan(): PlanSummary {
    return this.#plan.result();
  }
}
