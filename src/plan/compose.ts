import { normalizeTags } from './normalize.js';
import type { ComposedOp, Rule, Target } from './types.js';

/**
 * Fold one rule into an id's composed operation. Rules apply in file order; within a rule the
 * order is clear, set, add, remove. Normal forms (see ComposedOp): once a clear/set is seen the
 * result is an exact `set`; otherwise a `merge` whose add and remove lists stay disjoint, so the
 * merge can itself be written back as one valid rule (add applies before remove).
 */
export function applyRule(prev: ComposedOp | undefined, rule: Rule): ComposedOp {
  let op: ComposedOp = prev ?? { kind: 'merge', add: [], remove: [] };
  if (rule.clear) op = { kind: 'set', tags: [] };
  if (rule.set) op = { kind: 'set', tags: normalizeTags(rule.set) };
  if (rule.add) op = addTags(op, normalizeTags(rule.add));
  if (rule.remove) op = removeTags(op, normalizeTags(rule.remove));
  return op;
}

function addTags(op: ComposedOp, tags: string[]): ComposedOp {
  if (op.kind === 'set') return { kind: 'set', tags: normalizeTags([...op.tags, ...tags]) };
  const adding = new Set(tags);
  return {
    kind: 'merge',
    add: normalizeTags([...op.add, ...tags]),
    remove: op.remove.filter((t) => !adding.has(t)),
  };
}

function removeTags(op: ComposedOp, tags: string[]): ComposedOp {
  const removing = new Set(tags);
  if (op.kind === 'set') return { kind: 'set', tags: op.tags.filter((t) => !removing.has(t)) };
  return {
    kind: 'merge',
    add: op.add.filter((t) => !removing.has(t)),
    remove: normalizeTags([...op.remove, ...tags]),
  };
}

/**
 * Incremental composition keyed by id, in first-seen order. Memory is proportional to the
 * number of distinct ids, not the number of rules.
 */
export class Composer {
  private readonly ops = new Map<string, ComposedOp>();

  add(rule: Rule): void {
    this.ops.set(rule.id!, applyRule(this.ops.get(rule.id!), rule));
  }

  get size(): number {
    return this.ops.size;
  }

  targets(): Target[] {
    return [...this.ops].map(([id, op]) => ({ id, op }));
  }
}

export function composeRules(rules: Iterable<Rule>): Target[] {
  const composer = new Composer();
  for (const rule of rules) composer.add(rule);
  return composer.targets();
}

/** Whether the op needs the current tags (add/remove) or fully determines the result (set/clear). */
export function needsRead(op: ComposedOp): boolean {
  return op.kind === 'merge';
}

/** The composed operation written back as one valid manifest rule (failures.ndjson). */
export function opToRule(id: string, op: ComposedOp): Rule {
  if (op.kind === 'set') return op.tags.length === 0 ? { id, clear: true } : { id, set: op.tags };
  const rule: Rule = { id };
  if (op.add.length > 0) rule.add = op.add;
  if (op.remove.length > 0) rule.remove = op.remove;
  // A merge with nothing to add or remove still has to be a valid rule (one operation at least).
  if (!rule.add && !rule.remove) rule.add = [];
  return rule;
}
