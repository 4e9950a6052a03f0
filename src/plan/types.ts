/**
 * Types of the pure planner: composed operations, decisions, plan entries.
 * Tag lists in operations are always normalised (NFC, trimmed, no empties, no duplicates, order kept).
 */
import type { Rule, SourceLocation, ManifestProblem } from '../manifest/types.js';
export type { Rule, SourceLocation, ManifestProblem };

/**
 * The composed effect of the rules that apply to one image, in a normal form:
 * - `set`: the final list is exactly `tags` (clear is `set` with `[]`);
 * - `merge`: rename the current tags (`rename`, all pairs at once, positions kept), then drop
 *   `remove` and append `add`. `add` and `remove` are disjoint.
 * - `seq`: steps that do not fold into one merge (an add/remove followed by a rename that
 *   touches the same tags); applied in order.
 */
export type ComposedOp =
  | { kind: 'set'; tags: string[] }
  | { kind: 'merge'; add: string[]; remove: string[]; rename?: Record<string, string> }
  | { kind: 'seq'; steps: Array<Exclude<ComposedOp, { kind: 'seq' }>> };

/**
 * A guarded write (apply, undo): write `write`, but only where the image still holds `expect`
 * (null: no guard, the plan was made without reading).
 */
export interface GuardedOp {
  kind: 'guarded';
  expect: string[] | null;
  write: string[];
}

/** What an item does, as the journal records it (resume compares it). */
export type ItemOp = ComposedOp | GuardedOp;

/** An id with its composed operation, in first-seen file order. */
export interface Target {
  id: string;
  op: ComposedOp;
}

export type PlanAction = 'update' | 'unchanged' | 'not_found' | 'conflict';

/** The result of resolving one target against the image's current tags. */
export interface PlanEntry {
  id: string;
  /** Current tags exactly as read; null when not read (`--no-read`) or not found. */
  before: string[] | null;
  /** Tags after the change; null for not_found. */
  after: string[] | null;
  action: PlanAction;
}

/** A decided item: its plan entry, the operation that decided it, and (guarded writes) what was expected. */
export interface Decision extends PlanEntry {
  op: ItemOp;
  /** Library-wide rules (by index in file order) that selected the image. */
  matched?: number[];
}
