/**
 * Domain types shared by the manifest readers, the pure planner, the runner and the reports.
 * Tag lists are always normalised (trimmed, no empties, no duplicates, order kept).
 */
import type { Rule, SourceLocation, ManifestProblem } from '../manifest/types.js';
export type { Rule, SourceLocation, ManifestProblem };

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

