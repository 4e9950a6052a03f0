import { normalizeTags, sameTags } from './normalize.js';
import type { ComposedOp, PlanEntry, Target } from './types.js';

/** Apply a composed operation to the current tags. Pure. Existing tags keep their order. */
export function applyOp(before: readonly string[], op: ComposedOp): string[] {
  if (op.kind === 'set') return [...op.tags];
  const removing = new Set(op.remove);
  const present = new Set<string>();
  const kept: string[] = [];
  for (const t of before) {
    if (removing.has(t) || present.has(t)) continue;
    kept.push(t);
    present.add(t);
  }
  for (const t of op.add) {
    if (!present.has(t)) {
      kept.push(t);
      present.add(t);
    }
  }
  return kept;
}

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
