/**
 * Domain types shared by the manifest readers, the pure planner, the runner and the reports.
 * Tag lists are always normalised (trimmed, no empties, no duplicates, order kept).
 */

/** Where a rule came from, for error messages: `file:line` (CSV/NDJSON) or `file:$[3]` (JSON). */
export interface SourceLocation {
  file: string;
  /** 1-based line number (CSV: the record's first line; NDJSON: the line). */
  line?: number;
  /** JSON path such as `$[3]` or `$["abc"]`. */
  path?: string;
}

/**
 * One validated rule as written in a manifest. Within one rule the order is clear, set, add, remove.
 * At least one operation is present.
 */
export interface Rule {
  id: string;
  clear?: boolean;
  set?: string[];
  add?: string[];
  remove?: string[];
  source?: SourceLocation;
}

/**
 * The composed effect of all of an id's rules, in one of two normal forms:
 * - `set`: the final list is exactly `tags` (clear is `set` with `[]`);
 * - `merge`: keep the current tags minus `remove`, then append `add`. `add` and `remove` are disjoint.
 */
export type ComposedOp =
  | { kind: 'set'; tags: string[] }
  | { kind: 'merge'; add: string[]; remove: string[] };

/** An id with its composed operation, in first-seen file order. */
export interface Target {
  id: string;
  op: ComposedOp;
}

export type PlanAction = 'update' | 'unchanged' | 'not_found';

/** The result of resolving one target against the image's current tags. */
export interface PlanEntry {
  id: string;
  /** Current tags; null when not read (`--no-read`) or not found. */
  before: string[] | null;
  /** Tags after the change; null for not_found. */
  after: string[] | null;
  action: PlanAction;
}

/** A rejected manifest record (written to rejects.ndjson with --skip-invalid). */
export interface ManifestProblem {
  source: SourceLocation;
  message: string;
  /** The raw record, when one could be parsed. */
  raw?: unknown;
}
