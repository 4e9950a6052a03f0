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
  // Stryker disable next-line ConditionalExpression: equivalent, a fast path; without it every check below is skipped and the result is true
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
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent for valid rules (validate-rule rejects an empty all); otherwise the rule is only left unindexed, tested every time
  if (where.all !== undefined && where.all.length > 0) return [where.all[0]!];
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: returning where.any when it is undefined is returning undefined, and an unindexed rule is only tested more often
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
  /** id → its index in #idRules (first-seen file order): a run marks ids in bitmaps by it. */
  readonly #index = new Map<string, number>();
  /** By index: one operation (the usual case, before any library-wide rule) or segments. */
  readonly #idRules: Array<ComposedOp | IdSegment[]> = [];
  /** One string per distinct tag: a million rules naming the same few tags share them. */
  readonly #tags = new Map<string, string>();
  /**
   * One object per distinct operation (operations are never mutated once composed): a bulk
   * manifest of a million ids with a handful of different operations holds a handful of them.
   * Bounded, so a manifest of all-different operations does not keep a second index of them.
   */
  readonly #ops = new Map<string, ComposedOp>();
  /** tag → indexes of library-wide rules that need it (sorted ascending). */
  readonly #byTag = new Map<string, number[]>();
  /** Library-wide rules any image may match (none / id_prefix / untagged / `{}`). */
  readonly #unindexed: number[] = [];

  add(rule: Rule): void {
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
    const at = this.#whereRules.length;
    const k = this.#index.get(id);
    if (k === undefined) {
      const op = this.#interned(applyRule(undefined, rule));
      this.#index.set(id, this.#idRules.length);
      // Stryker disable next-line ConditionalExpression: equivalent: one segment before rule 0 is the same operation, only stored as a segment
      this.#idRules.push(at === 0 ? op : [{ before: at, op }]);
      return;
    }
    const prev = this.#idRules[k]!;
    const segments: IdSegment[] = Array.isArray(prev) ? prev : [{ before: 0, op: prev }];
    const last = segments[segments.length - 1]!;
    // Stryker disable next-line ConditionalExpression: equivalent: two segments before the same library-wide rule apply one after the other, as one folded
    if (last.before === at) last.op = this.#interned(applyRule(last.op, rule));
    else segments.push({ before: at, op: this.#interned(applyRule(undefined, rule)) });
    // Stryker disable next-line ConditionalExpression: equivalent: the same operation, kept as one segment
    this.#idRules[k] = segments.length === 1 && segments[0]!.before === 0 ? segments[0]!.op : segments;
  }

  #rulesOf(id: string): ComposedOp | IdSegment[] | undefined {
    const k = this.#index.get(id);
    return k === undefined ? undefined : this.#idRules[k];
  }

  #segments(id: string): IdSegment[] | undefined {
    const value = this.#rulesOf(id);
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value : [{ before: 0, op: value }];
  }

  #intern(tags: string[]): string[] {
    // Stryker disable next-line EqualityOperator,BlockStatement: equivalent: interning shares equal strings to save memory; skipping it or reading one past the end changes no tag
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i]!;
      const shared = this.#tags.get(t);
      if (shared === undefined) this.#tags.set(t, t);
      else tags[i] = shared;
    }
    return tags;
  }

  #interned(op: ComposedOp): ComposedOp {
    if (op.kind === 'set') this.#intern(op.tags);
    // Stryker disable next-line BlockStatement: equivalent: interning only saves memory
    else if (op.kind === 'merge') {
      this.#intern(op.add);
      this.#intern(op.remove);
    } else for (const step of op.steps) this.#interned(step);
    const key = op.kind === 'merge' && op.rename === undefined ? `m\u0000${op.add.join('\u0001')}\u0000${op.remove.join('\u0001')}` : op.kind === 'set' ? `s\u0000${op.tags.join('\u0001')}` : JSON.stringify(op);
    const shared = this.#ops.get(key);
    if (shared !== undefined) return shared;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: the bound only limits memory; sharing fewer or more equal operations changes no result
    if (this.#ops.size < 10_000) this.#ops.set(key, op);
    return op;
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
    for (const value of this.#idRules) {
      if (Array.isArray(value)) for (const s of value) yield* ofOp(s.op);
      else yield* ofOp(value);
    }
  }

  /** Ids named by id rules, in first-seen file order. */
  ids(): IterableIterator<string> {
    return this.#index.keys();
  }

  get idCount(): number {
    return this.#index.size;
  }

  hasId(id: string): boolean {
    return this.#index.has(id);
  }

  /** The id's place in `ids()` (0 … idCount − 1), or undefined when no id rule names it. */
  indexOf(id: string): number | undefined {
    return this.#index.get(id);
  }

  /**
   * The id rules of `id` as one operation, when no library-wide rule exists (then the operation
   * does not depend on the tags). Undefined when the id has no rule.
   */
  idOp(id: string): ComposedOp | undefined {
    const value = this.#rulesOf(id);
    // Stryker disable next-line ConditionalExpression: equivalent: undefined is not an array, so the next line returns it too
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) return value;
    const segments = value;
    let op: ComposedOp = emptyOp();
    for (const s of segments) op = composeOps(op, s.op);
    return op;
  }

  /** Compose every rule for one image with these normalised tags, in file order. Pure. */
  decide(id: string, tags: readonly string[]): ImageDecision {
    // Stryker disable next-line BlockStatement: equivalent: the fast path without library-wide rules; the general path gives the same decision
    if (this.#whereRules.length === 0) {
      const op = this.idOp(id);
      if (!op) return { op: undefined, after: [...tags], matched: [] };
      return { op, after: applyOp(tags, op), matched: [] };
    }
    const segments = this.#segments(id) ?? [];
    let current: readonly string[] = tags;
    let op: ComposedOp | undefined;
    const matched: number[] = [];
    // Candidate library-wide rules, ascending; grows whenever a rule (id or library-wide) gives
    // the image a tag that a later rule needs.
    const candidates = new Set<number>(this.#unindexed);
    for (const t of current) for (const i of this.#byTag.get(t) ?? []) candidates.add(i);
    let pending = [...candidates].sort((a, b) => a - b);
    let cursor = -1;
    let seg = 0;
    const apply = (step: ComposedOp) => {
      const before = current;
      op = composeOps(op ?? emptyOp(), step);
      current = applyOp(current, step);
      const had = new Set(before);
      // Stryker disable next-line BooleanLiteral: equivalent: re-sorting the candidates when nothing was added leaves them as they were
      let grew = false;
      for (const t of current) {
        // Stryker disable next-line ConditionalExpression: equivalent: the rules indexed by a tag the image had are already candidates
        if (had.has(t)) continue;
        for (const i of this.#byTag.get(t) ?? []) {
          // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent: a rule at or before the cursor is never picked again (pending.find(i > cursor)) and adding a candidate twice is a no-op
          if (i > cursor && !candidates.has(i)) {
            candidates.add(i);
            grew = true;
          }
        }
      }
      // Stryker disable next-line ConditionalExpression: equivalent: re-sorting unchanged candidates
      if (grew) pending = [...candidates].sort((a, b) => a - b);
    };
    for (;;) {
      const next = pending.find((i) => i > cursor);
      const segment = segments[seg];
      // An id segment comes before the library-wide rule its `before` names: apply it first,
      // then look again for the next candidate (it may have made one selectable).
      if (segment && (next === undefined || segment.before <= next)) {
        seg++;
        cursor = Math.max(cursor, segment.before - 1);
        apply(segment.op);
        continue;
      }
      if (next === undefined) break;
      cursor = next;
      const rule = this.#whereRules[next]!;
      if (!matchesWhere(rule.where, id, current)) continue;
      matched.push(next);
      apply(rule.op);
    }
    return { op, after: [...current], matched };
  }
}

/** `a` then `b`, folded step by step. */
export function composeOps(a: ComposedOp, b: ComposedOp): ComposedOp {
  // Stryker disable next-line ConditionalExpression: equivalent: folding b's steps into the empty operation builds the same operation
  if (isEmptyOp(a)) return b;
  const steps = b.kind === 'seq' ? b.steps : [b];
  let out = a;
  for (const s of steps) out = applyRuleStep(out, s);
  return out;
}

function applyRuleStep(op: ComposedOp, step: Exclude<ComposedOp, { kind: 'seq' }>): ComposedOp {
  // Re-express the step as rule operations and fold it (the folding rules live in compose.ts).
  // Stryker disable next-line ConditionalExpression: equivalent: set [] is clear
  if (step.kind === 'set') return applyRule(op, step.tags.length === 0 ? { clear: true } : { set: step.tags });
  return applyRule(op, {
    ...(step.rename ? { rename: step.rename } : {}),
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: add [] adds nothing
    ...(step.add.length > 0 ? { add: step.add } : {}),
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: remove [] removes nothing
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
