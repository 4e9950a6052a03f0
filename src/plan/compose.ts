import { normalizeTags } from './normalize.js';
import type { ComposedOp, Rule } from './types.js';
import type { RuleOps } from '../manifest/types.js';

type Step = Exclude<ComposedOp, { kind: 'seq' }>;
type Merge = Extract<ComposedOp, { kind: 'merge' }>;

const EMPTY_MERGE: Merge = { kind: 'merge', add: [], remove: [] };

/** The identity operation (no rule applied yet). */
export function emptyOp(): ComposedOp {
  return EMPTY_MERGE;
}

export function isEmptyOp(op: ComposedOp): boolean {
  return op.kind === 'merge' && op.add.length === 0 && op.remove.length === 0 && op.rename === undefined;
}

/**
 * Apply a rename map to a tag list: every `old` becomes `new` in the same position; duplicates
 * that result are dropped (first position kept). All pairs apply at once, so `{a: b, b: a}` swaps.
 */
export function renameTags(tags: readonly string[], rename: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  const present = new Set<string>();
  for (const t of tags) {
    const r = Object.prototype.hasOwnProperty.call(rename, t) ? rename[t]! : t;
    if (present.has(r)) continue;
    present.add(r);
    out.push(r);
  }
  return out;
}

/** Apply one step to (normalised) tags. Pure; existing tags keep their order, added ones are appended. */
function applyStep(before: readonly string[], op: Step): string[] {
  if (op.kind === 'set') return [...op.tags];
  const renamed = op.rename ? renameTags(before, op.rename) : before;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: an empty set removes nothing, as undefined does
  const removing = op.remove.length > 0 ? new Set(op.remove) : undefined;
  const present = new Set<string>();
  const kept: string[] = [];
  for (const t of renamed) {
    if (removing?.has(t) || present.has(t)) continue;
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

/** Apply a composed operation to the current (normalised) tags. Pure. */
export function applyOp(before: readonly string[], op: ComposedOp): string[] {
  if (op.kind !== 'seq') return applyStep(before, op);
  let tags: readonly string[] = before;
  for (const step of op.steps) tags = applyStep(tags, step);
  return [...tags];
}

function addTags(op: Merge, tags: string[]): Merge {
  const adding = new Set(tags);
  return { ...op, add: normalizeTags([...op.add, ...tags]), remove: op.remove.filter((t) => !adding.has(t)) };
}

function removeTags(op: Merge, tags: string[]): Merge {
  const removing = new Set(tags);
  return { ...op, add: op.add.filter((t) => !removing.has(t)), remove: normalizeTags([...op.remove, ...tags]) };
}

/** Set a key as an own, enumerable property, even `__proto__` (rename maps come from user JSON). */
function put(map: Record<string, string>, key: string, value: string): void {
  // Stryker disable next-line BooleanLiteral: equivalent for writable and configurable (keys are put once, never reassigned or deleted); enumerable is tested
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `first` then `second` as one map (tags pass through both); identities dropped; undefined if empty. */
function composeRenames(
  first: Readonly<Record<string, string>> | undefined,
  second: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const has = (m: Readonly<Record<string, string>>, k: string) => Object.prototype.hasOwnProperty.call(m, k);
  if (first) {
    for (const [k, v] of Object.entries(first)) {
      const to = has(second, v) ? second[v]! : v;
      if (to !== k) put(out, k, to);
    }
  }
  for (const [k, v] of Object.entries(second)) {
    if (first && has(first, k)) continue;
    if (v !== k) put(out, k, v);
  }
  return Object.keys(out).length > 0 ? sortedRename(out) : undefined;
}

/** Keys in a stable order, so the same operation always serialises the same way (resume compares it). */
function sortedRename(map: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(map).sort()) put(out, k, map[k]!);
  return out;
}

/** A merge with a rename in front: `{rename}` then `{add, remove}` of `op`. */
function withRename(op: Merge, rename: Record<string, string> | undefined): Merge {
  const out: Merge = { kind: 'merge', add: op.add, remove: op.remove };
  if (rename) out.rename = rename;
  return out;
}

/** Append a step to an operation, folding where the result is provably the same. */
function then(op: ComposedOp, step: Step): ComposedOp {
  if (op.kind === 'seq') {
    const last = op.steps[op.steps.length - 1]!;
    const folded = then(last, step);
    if (folded.kind !== 'seq') return { kind: 'seq', steps: [...op.steps.slice(0, -1), folded] };
    return { kind: 'seq', steps: [...op.steps, step] };
  }
  if (step.kind === 'set') return step;
  if (op.kind === 'set') return { kind: 'set', tags: applyStep(op.tags, step) };
  // merge then merge
  let out: Merge = op;
  if (step.rename) {
    // The rename can move in front of op's add/remove only if it touches none of their tags.
    const touched = new Set([...op.add, ...op.remove]);
    const clash = Object.entries(step.rename).some(([k, v]) => touched.has(k) || touched.has(v));
    if (clash) return { kind: 'seq', steps: [op, step] };
    out = withRename(op, composeRenames(op.rename, step.rename));
  }
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: adding no tag
  if (step.add.length > 0) out = addTags(out, step.add);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: removing no tag
  if (step.remove.length > 0) out = removeTags(out, step.remove);
  return out;
}

/** The operations of one rule as one step (order within a rule: clear, set, rename, add, remove). */
export function ruleStep(rule: RuleOps): Step {
  let step: Step = EMPTY_MERGE;
  if (rule.clear) step = { kind: 'set', tags: [] };
  if (rule.set) step = { kind: 'set', tags: normalizeTags(rule.set) };
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: an empty rename map renames nothing
  const rename = rule.rename && Object.keys(rule.rename).length > 0 ? sortedRename(rule.rename) : undefined;
  if (rename) step = step.kind === 'set' ? { kind: 'set', tags: renameTags(step.tags, rename) } : withRename(step, rename);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: adding no tag
  if (rule.add && rule.add.length > 0) {
    const add = normalizeTags(rule.add);
    step = step.kind === 'set' ? { kind: 'set', tags: normalizeTags([...step.tags, ...add]) } : addTags(step, add);
  }
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: removing no tag
  if (rule.remove && rule.remove.length > 0) {
    const remove = new Set(normalizeTags(rule.remove));
    step = step.kind === 'set' ? { kind: 'set', tags: step.tags.filter((t) => !remove.has(t)) } : removeTags(step, [...remove]);
  }
  return step;
}

/** Fold one rule into an operation (rules apply in file order). */
export function applyRule(prev: ComposedOp | undefined, rule: RuleOps): ComposedOp {
  return then(prev ?? EMPTY_MERGE, ruleStep(rule));
}

/** Whether the op needs the current tags (merge, seq) or fully determines the result (set/clear). */
export function needsRead(op: ComposedOp): boolean {
  return op.kind !== 'set';
}

function stepToRule(id: string, op: Step): Rule & { id: string } {
  if (op.kind === 'set') return op.tags.length === 0 ? { id, clear: true } : { id, set: op.tags };
  const rule: Rule & { id: string } = { id };
  // Stryker disable next-line ConditionalExpression: equivalent: rename: undefined is dropped by JSON.stringify and ignored by applyRule
  if (op.rename) rule.rename = op.rename;
  if (op.add.length > 0) rule.add = op.add;
  if (op.remove.length > 0) rule.remove = op.remove;
  // An operation with nothing to do still has to be a valid rule (one operation at least).
  if (!rule.rename && !rule.add && !rule.remove) rule.add = [];
  return rule;
}

/**
 * The composed operation written back as manifest rules (failures.ndjson): one rule, or for a
 * `seq` one rule per step, which compose back to the same operation in file order.
 */
export function opToRules(id: string, op: ComposedOp): Array<Rule & { id: string }> {
  if (op.kind === 'seq') return op.steps.map((s) => stepToRule(id, s));
  return [stepToRule(id, op)];
}

/** The composed operation as one rule when it is a single step (kept for callers that need one). */
export function opToRule(id: string, op: ComposedOp): Rule & { id: string } {
  return opToRules(id, op)[0]!;
}
