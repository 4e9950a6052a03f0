import type { ItemOp } from '../plan/types.js';

/** Outcomes of items (design.md §5). A failed item is data, not an exception. */
export type Outcome = 'updated' | 'unchanged' | 'failed' | 'conflict' | 'skipped';

/**
 * A journal line's state: `pending` (written before the write is sent), `unsent` (the run stopped
 * before that write left: it cannot have landed), or the item's outcome.
 */
export type JournalState = Outcome | 'pending' | 'unsent';

/** Why an item failed. */
export type FailureReason =
  | 'not_found' // the scan never saw the id, or the server answered 404
  | 'forbidden' // 403: someone else's image / not allowed
  | 'http' // another non-retryable status
  | 'retries_exhausted' // retryable failures until --retries ran out
  | 'network' // network error not retried (should be rare)
  | 'aborted'; // the run stopped before the item finished (401, budget, signal)

/**
 * One line of journal.ndjson. A `pending` line (id, before, after, op) is on its way to the OS
 * before the write is sent; one outcome line follows when the item finishes.
 */
export interface JournalEntry {
  id: string;
  outcome: JournalState;
  before: string[] | null;
  after: string[] | null;
  /** Apply/undo: what the image was expected to hold (conflict lines). */
  expect?: string[] | null;
  /** The item's composed operation (resume compares it with what the manifest gives now). */
  op?: ItemOp;
  attempts: number;
  status?: number;
  error?: string;
  reason?: FailureReason;
  /** ISO time of the line. */
  at: string;
}

/** Items per outcome (a run's counts, summary.json `counts`). */
export interface OutcomeCounts {
  updated: number;
  unchanged: number;
  failed: number;
  conflict: number;
  skipped: number;
  total: number;
}
