import { applyOp } from './compose.js';
import { normalizeTags, sameTags } from './normalize.js';
import type { Decision, GuardedOp, PlanEntry, Target } from './types.js';

export { applyOp };

/**
 * Resolve one target against its image's current tags.
 * - `before` undefined: the scan never found the id → not_found.
 * - `before` null: not read (--no-read); only `set` ops are allowed then, always an update.
 */
export function resolveTarget(target: Target, before: readonly string[] | null | undefined): PlanEntry {
  if (before === undefined) return { id: target.id, before: null, after: null, action: 'not_found' };
  if (before === null) {
    if (target.op.kind !== 'set') throw new Error(`resolveTarget: ${target.id} needs its current tags`);
    return { id: target.id, before: null, after: [...target.op.tags], action: 'update' };
  }
  // The journal keeps `before` exactly as the server had it (undo restores it to the letter);
  // the merge and the no-op check work on its normal form, so " b" is the tag "b".
  const normalizedBefore = normalizeTags(before);
  const after = applyOp(normalizedBefore, target.op);
  return {
    id: target.id,
    before: [...before],
    after,
    action: sameTags(normalizedBefore, after) ? 'unchanged' : 'update',
  };
}

/**
 * Apply and undo are one mechanism (design.md §7): write W, but only where the image still
 * holds E. current = W → unchanged (already there); current = E → write W; else → conflict.
 * Lists compare as sets of normalised tags. `current` null: not read (the write goes blind).
 */
export function decideGuarded(id: string, op: GuardedOp, current: readonly string[] | null): Decision {
  const write = [...op.write];
  if (current === null) return { id, before: null, after: write, action: 'update', op };
  const now = normalizeTags(current);
  const action = sameTags(now, normalizeTags(op.write))
    ? 'unchanged'
    : op.expect === null || sameTags(now, normalizeTags(op.expect))
      ? 'update'
      : 'conflict';
  return { id, before: [...current], after: write, action, op };
}

/** The intended change of a guarded write as a delta rule on top of whatever the image holds (conflicts.ndjson). */
export function guardedDelta(op: GuardedOp): { add: string[]; remove: string[] } {
  const expect = new Set(normalizeTags(op.expect ?? []));
  const write = normalizeTags(op.write);
  const writing = new Set(write);
  return { add: write.filter((t) => !expect.has(t)), remove: [...expect].filter((t) => !writing.has(t)) };
}
