/**
 * Composition in file order across id rules and library-wide rules (design.md §2), pure.
 *
 * Every rule applies in file order: an id rule to its image, a `where` rule to every image it
 * selects at that point (its `where` is tested on the tags the earlier rules left). Selection is
 * indexed (tag → rules), so a 5,000-row rename map costs a few lookups per image, not 5,000 tests.
 */
import { applyOp, applyRule, emptyOp, isEmptyOp } from './compose.js';
import { normalizeTags, sameTags } from './normalize.js';
import type { ComposedOp, Decision, Rule } from './types.js';
import type { SourceLocation, Where } from '../manifest/types.js';

/** Does `where` hold for an image with these (normalised) tags? */
export function matchesWhere(where: Where, id: string, tags: readonly string[]): boolean {
  if (where.id_prefix !== undefined && !id.startsWith(where.id_prefix)) return false;
  if (where.untagged !== undefined && (tags.length === 0) !== where.untagged) return false;
  if (where.tag === undefined && where.all === undefined && where.any === undefined && where.none === undefined) return true;
  const has = new Set(tags);
  if (where.tag !== undefined && !has.has(where.tag)) return false;
  if (where.all !== undefined && !where.all.every((t) => has.has(t))) return false;
  if (where.any !== undefined && !where.any.some((t) => has.has(t))) return false;
  if (where.none !== undefined && where.none.some((t) => has.has(t))) return false;
  return true;
}

/** The tags one of which an image must carry to be selected (for the index), or undefined: any image may be. */
function requiredTags(where: Where): readonly string[] | undefined {
  if (where.tag !== undefined) return [where.tag];
  if (where.all !== undefined && where.all.length > 0) return [where.all[0]!];
  if (where.any !== undefined) return where.any;
  return undefined;
}

interface WhereRule {
  where: Where;
  /** The rule's operations as a composed step. */
  op: ComposedOp;
  source?: SourceLocation;
}

/** The id rules of one image between two library-wide rules, folded into one operation. */
interface IdSegment {
  /** Applies before the library-wide rule with this index (= how many came before it in the file). */
  before: number;
  op: ComposedOp;
}

/** The outcome of composing every rule for one image. */
export interface ImageDecision {
  /** The composed operation of every rule that applied (undefined: no rule applied, not an item). */
  op: ComposedOp | undefined;
  /** Normalised tags after the rules. */
  after: string[];
  /** Indexes of the library-wide rules that selected the image. */
  matched: number[];
}

/**
 * The rules of a manifest, compiled. Id rules between two library-wide rules fold into one
 * operation per id; library-wide rules keep their order and are indexed by the tags they need.
 */
export class RuleSet {
  readonly #whereRules: WhereRule[] = [];
  readonly #byId = new Map<string, IdSegment[]>();
  /** tag → indexes of library-wide rules that need it (sorted ascending). */
  readonly #byTag = new Map<string, number[]>();
  /** Library-wide rules any image may match (none / id_prefix / untagged / `{}`). */
  readonly #unindexed: number[] = [];
  ruleCount = 0;

  add(rule: Rule): void {
    this.ruleCount++;
    if (rule.where !== undefined) {
      const index = this.#whereRules.length;
      this.#whereRules.push({ where: rule.where, op: applyRule(undefined, rule), ...(rule.source ? { source: rule.source } : {}) });
      const required = requiredTags(rule.where);
      if (required === undefined) this.#unindexed.push(index);
      else
        for (const t of new Set(required)) {
          const list = this.#byTag.get(t);
          if (list) list.push(index);
          else this.#byTag.set(t, [index]);
        }
      return;
    }
    const id = rule.id!;
    const segments = this.#byId.get(id);
    const at = this.#whereRules.length;
    const last = segments?.[segments.length - 1];
    if (last && last.before === at) last.op = applyRule(last.op, rule);
    else if (segments) segments.push({ before: at, op: applyRule(undefined, rule) });
    else this.#byId.set(id, [{ before: at, op: applyRule(undefined, rule) }]);
  }

  /** True when some rule selects images with `where` (the scan must read the whole library). */
  get libraryWide(): boolean {
    return this.#whereRules.length > 0;
  }

  /** Library-wide rules in file order, with where they come from (for per-rule counts). */
  get whereRules(): ReadonlyArray<{ where: Where; source?: SourceLocation }> {
    return this.#whereRules;
  }

  /** Every tag a rule may write (set, add, rename targets): to find one that is unsafe to write. */
  *writableTags(): Generator<string> {
    const ofOp = function* (op: ComposedOp): Generator<string> {
      if (op.kind === 'seq') for (const s of op.steps) yield* ofOp(s);
      else if (op.kind === 'set') yield* op.tags;
      else {
        yield* op.add;
        if (op.rename) yield* Object.values(op.rename);
      }
    };
    for (const r of this.#whereRules) yield* ofOp(r.op);
    for (const segments of this.#byId.values()) for (const s of segments) yield* ofOp(s.op);
  }

  /** Ids named by id rules, in first-seen file order. */
  ids(): IterableIterator<string> {
    return this.#byId.keys();
  }

  get idCount(): number {
    return this.#byId.size;
  }

  hasId(id: string): boolean {
    return this.#byId.has(id);
  }

  /**
   * The id rules of `id` as one operation, when no library-wide rule exists (then the operation
   * does not depend on the tags). Undefined when the id has no rule.
   */
  idOp(id: string): ComposedOp | undefined {
    const segments = this.#byId.get(id);
    if (!segments) return undefined;
    let op: ComposedOp = emptyOp();
    for (const s of segments) op = composeOps(op, s.op);
    return op;
  }

  /** Compose every rule for one image with these normalised tags, in file order. Pure. */
  decide(id: string, tags: readonly string[]): ImageDecision {
    const segments = this.#byId.get(id);
    if (this.#whereRules.length === 0) {
      if (!segments) return { op: undefined, after: [...tags], matched: [] };
      const op = this.idOp(id)!;
      return { op, after: applyOp(tags, op), matched: [] };
    }
    let current: readonly string[] = tags;
    let op: ComposedOp | undefined;
    const matched: number[] = [];
    const applyIdSegmentsBefore = (limit: number) => {
      while (segments && seg < segments.length && segments[seg]!.before <= limit) {
        const s = segments[seg++]!;
        op = composeOps(op ?? emptyOp(), s.op);
        current = applyOp(current, s.op);
      }
    };
    let seg = 0;
    // Candidate library-wide rules, ascending; grows when a rule adds a tag that another needs.
    const candidates = new Set<number>(this.#unindexed);
    for (const t of current) for (const i of this.#byTag.get(t) ?? []) candidates.add(i);
    let pending = [...candidates].sort((a, b) => a - b);
    let cursor = -1;
    for (;;) {
      const next = pending.find((i) => i > cursor);
      if (next === undefined) break;
      applyIdSegmentsBefore(next);
      cursor = next;
      const rule = this.#whereRules[next]!;
      if (!matchesWhere(rule.where, id, current)) continue;
      matched.push(next);
      const before = current;
      op = composeOps(op ?? emptyOp(), rule.op);
      current = applyOp(current, rule.op);
      if (current !== before) {
        const had = new Set(before);
        let grew = false;
        for (const t of current) {
          if (had.has(t)) continue;
          for (const i of this.#byTag.get(t) ?? []) {
            if (i > cursor && !candidates.has(i)) {
              candidates.add(i);
              grew = true;
            }
          }
        }
        if (grew) pending = [...candidates].sort((a, b) => a - b);
      }
    }
    applyIdSegmentsBefore(Infinity);
    return { op, after: [...current], matched };
  }
}

/** `a` then `b`, folded step by step. */
export function composeOps(a: ComposedOp, b: ComposedOp): ComposedOp {
  if (isEmptyOp(a)) return b;
  const steps = b.kind === 'seq' ? b.steps : [b];
  let out = a;
  for (const s of steps) out = applyRuleStep(out, s);
  return out;
}

function applyRuleStep(op: ComposedOp, step: Exclude<ComposedOp, { kind: 'seq' }>): ComposedOp {
  // Re-express the step as rule operations and fold it (the folding rules live in compose.ts).
  if (step.kind === 'set') return applyRule(op, step.tags.length === 0 ? { clear: true } : { set: step.tags });
  return applyRule(op, {
    ...(step.rename ? { rename: step.rename } : {}),
    ...(step.add.length > 0 ? { add: step.add } : {}),
    ...(step.remove.length > 0 ? { remove: step.remove } : {}),
  });
}

/**
 * Decide one image for a run: compose its rules against the current tags as read (kept
 * exactly in `before`; rules and the no-op check work on their normal form). Undefined when no
 * rule applies (a library-wide run: not an item). `current` null: not read (`--no-read`).
 */
export function decideImage(rules: RuleSet, id: string, current: readonly string[] | null): Decision | undefined {
  if (current === null) {
    const op = rules.idOp(id);
    if (op === undefined) return undefined;
    if (op.kind !== 'set') throw new Error(`decideImage: ${id} needs its current tags`);
    return { id, before: null, after: [...op.tags], action: 'update', op };
  }
  const normalized = normalizeTags(current);
  const decided = rules.decide(id, normalized);
  if (decided.op === undefined) return undefined;
  return {
    id,
    before: [...current],
    after: decided.after,
    action: sameTags(normalized, decided.after) ? 'unchanged' : 'update',
    op: decided.op,
    ...(decided.matched.length > 0 ? { matched: decided.matched } : {}),
  };
}
