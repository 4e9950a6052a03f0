/** Outcomes of items (design.md §5). A failed item is data, not an exception. */
export type Outcome = 'updated' | 'unchanged' | 'failed' | 'skipped';

/** Why an item failed. */
export type FailureReason =
  | 'not_found' // the scan never saw the id, or the server answered 404
  | 'forbidden' // 403: someone else's image / not allowed
  | 'http' // another non-retryable status
  | 'retries_exhausted' // retryable failures until --retries ran out
  | 'network' // network error not retried (should be rare)
  | 'aborted'; // the run stopped before the item finished (401, budget, signal)

/** One line of journal.ndjson: written when an item finishes. */
export interface JournalEntry {
  id: string;
  outcome: Outcome;
  before: string[] | null;
  after: string[] | null;
  attempts: number;
  status?: number;
  error?: string;
  reason?: FailureReason;
  /** ISO time the item finished. */
  at: string;
}
