/**
 * The independent oracle of design.md §2 (test/helpers/oracle.ts), checked by hand against the
 * design's own examples, then cross-checked with fast-check against the project's pure plan
 * (`decideImage` over a `RuleSet` built from the same rules, validated by the manifest
 * validator): two implementations written apart must agree. Then properties of the project's
 * plan, stated as precisely as the design promises them (idempotence, no tag outside the rules'
 * reach lost, the order of untouched tags kept).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { validateRuleObject } from '../src/manifest/index.js';
import type { Rule } from '../src/manifest/types.js';
import { applyOp } from '../src/plan/compose.js';
import { decideImage, RuleSet } from '../src/plan/rule-set.js';
import {
  expectedTags,
  oracleTag,
  oracleTags,
  sameMembers,
  selected,
  traceRules,
  type OracleRule,
  type OracleWhere,
} from './helpers/oracle.js';

/** The project's RuleSet for these rules, each validated as a manifest line would be. */
function ruleSetOf(rules: readonly OracleRule[]): RuleSet {
  const set = new RuleSet();
  rules.forEach((raw, i) => {
    const rule = validateRuleObject(raw, { file: 'oracle.ndjson', line: i + 1 });
    if (Array.isArray(rule)) throw new Error(`rule ${i + 1} rejected: ${rule.map((p) => p.message).join('; ')}`);
    set.add(rule as Rule);
  });
  return set;
}

interface Case {
  name: string;
  id?: string;
  current: string[];
  rules: OracleRule[];
  expected: string[];
  selected: boolean;
  /** The project may give the same members in another order (see the case's name). */
  orderFree?: boolean;
}

const SUMMER: OracleRule = { where: { tag: 'summer' }, rename: { summer: 'summer-2026' } };

const CASES: Case[] = [
  // rename (design.md §2)
  { name: 'rename keeps the position', current: ['a', 'summer', 'b'], rules: [SUMMER], expected: ['a', 'summer-2026', 'b'], selected: true },
  { name: 'rename onto a tag already there, later: the new name takes the first position', current: ['summer', 'x', 'summer-2026'], rules: [SUMMER], expected: ['summer-2026', 'x'], selected: true },
  { name: 'rename onto a tag already there, earlier: old simply goes', current: ['summer-2026', 'x', 'summer'], rules: [SUMMER], expected: ['summer-2026', 'x'], selected: true },
  { name: 'a swap {a:b, b:a}', current: ['a', 'b', 'c'], rules: [{ id: 'img-1', rename: { a: 'b', b: 'a' } }], expected: ['b', 'a', 'c'], selected: true },
  { name: 'a swap with one side present', current: ['c', 'a'], rules: [{ id: 'img-1', rename: { a: 'b', b: 'a' } }], expected: ['c', 'b'], selected: true },
  { name: 'the pairs of a rule apply at once (no chain a→b→c)', current: ['a', 'b'], rules: [{ id: 'img-1', rename: { a: 'b', b: 'c' } }], expected: ['b', 'c'], selected: true },
  { name: 'rename is case-sensitive, and merges case variants', current: ['Sale', 'x', 'sale'], rules: [{ where: { tag: 'Sale' }, rename: { Sale: 'sale' } }], expected: ['sale', 'x'], selected: true },
  { name: 'rename in an id rule of an absent tag: selected, nothing changes', current: ['x'], rules: [{ id: 'img-1', rename: { a: 'b' } }], expected: ['x'], selected: true },
  // composition in file order
  { name: 'design example: where rename, then an id rule adds the old tag back: both', id: 'img-5', current: ['summer'], rules: [SUMMER, { id: 'img-5', add: ['summer'] }], expected: ['summer-2026', 'summer'], selected: true },
  { name: 'a where sees what an earlier id rule added', id: 'img-6', current: ['x'], rules: [{ id: 'img-6', add: ['summer'] }, SUMMER], expected: ['x', 'summer-2026'], selected: true },
  { name: 'a where sees what an earlier id rule set', id: 'img-6', current: [], rules: [{ id: 'img-6', set: ['draft', 'k'] }, { where: { any: ['draft', 'wip'] }, remove: ['draft', 'wip'] }], expected: ['k'], selected: true },
  { name: 'a where no longer selects what an earlier id rule changed', id: 'img-7', current: ['a'], rules: [{ id: 'img-7', add: ['b'] }, { where: { none: ['b'] }, add: ['n'] }], expected: ['a', 'b'], selected: true },
  { name: 'a where sees what an earlier where rule left', current: ['draft', 'x'], rules: [{ where: { tag: 'draft' }, rename: { draft: 'wip' } }, { where: { any: ['draft', 'wip'] }, remove: ['draft', 'wip'] }], expected: ['x'], selected: true },
  { name: 'a where selects by a tag an earlier where rule added', current: ['a'], rules: [{ where: {}, add: ['new'] }, { where: { tag: 'new' }, rename: { new: 'newer' } }], expected: ['a', 'newer'], selected: true },
  { name: 'design example: strip draft and wip', current: ['draft', 'x', 'wip'], rules: [{ where: { any: ['draft', 'wip'] }, remove: ['draft', 'wip'] }], expected: ['x'], selected: true },
  { name: 'remove, then a later rule adds it again: appended (the project keeps its place: same members)', current: ['x', 'y'], rules: [{ id: 'img-1', remove: ['x'] }, { id: 'img-1', add: ['x'] }], expected: ['y', 'x'], selected: true, orderFree: true },
  // within a rule: clear, set, rename, add, remove
  { name: 'within a rule: set, rename, add, remove in that order', current: ['q'], rules: [{ id: 'img-1', remove: ['b'], add: ['a', 'c'], rename: { a: 'x' }, set: ['a', 'b'] }], expected: ['x', 'a', 'c'], selected: true },
  { name: 'clear then add', current: ['a', 'b'], rules: [{ id: 'img-1', clear: true, add: ['n'] }], expected: ['n'], selected: true },
  { name: 'set replaces, in its own order', current: ['a', 'b'], rules: [{ id: 'img-1', set: ['c', 'a'] }], expected: ['c', 'a'], selected: true },
  { name: 'set: [] clears', current: ['a', 'b'], rules: [{ id: 'img-1', set: [] }], expected: [], selected: true },
  { name: 'add appends; an added tag already there keeps its place', current: ['a', 'b'], rules: [{ id: 'img-1', add: ['c', 'a'] }], expected: ['a', 'b', 'c'], selected: true },
  { name: 'remove of an absent tag: selected, unchanged', current: ['a'], rules: [{ id: 'img-1', remove: ['z'] }], expected: ['a'], selected: true },
  // normalisation
  { name: 'current tags: NFC, trimmed, blanks and duplicates dropped, case kept', current: [' a', 'a', 'e\u0301', '', '  ', 'A', '\u00e9 '], rules: [{ id: 'img-1', add: ['b'] }], expected: ['a', '\u00e9', 'A', 'b'], selected: true },
  { name: "a rule's tags are normalised too", current: ['\u00e9'], rules: [{ id: 'img-1', add: [' b ', 'b', 'e\u0301'] }], expected: ['\u00e9', 'b'], selected: true },
  { name: 'rename keys and values are normalised', current: ['a'], rules: [{ id: 'img-1', rename: { ' a ': ' z ' } }], expected: ['z'], selected: true },
  { name: 'a where tag is normalised', current: ['summer'], rules: [{ where: { tag: ' summer ' }, add: ['s'] }], expected: ['summer', 's'], selected: true },
  // where: every selector kind
  { name: 'tag: absent → not selected', current: ['x'], rules: [SUMMER], expected: ['x'], selected: false },
  { name: 'all: every one present', current: ['hero', 'x', 'banner'], rules: [{ where: { all: ['hero', 'banner'] }, add: ['hb'] }], expected: ['hero', 'x', 'banner', 'hb'], selected: true },
  { name: 'all: one missing → not selected', current: ['hero'], rules: [{ where: { all: ['hero', 'banner'] }, add: ['hb'] }], expected: ['hero'], selected: false },
  { name: 'any: one present', current: ['x', 'b'], rules: [{ where: { any: ['a', 'b'] }, add: ['ab'] }], expected: ['x', 'b', 'ab'], selected: true },
  { name: 'any: none present → not selected', current: ['x'], rules: [{ where: { any: ['a', 'b'] }, add: ['ab'] }], expected: ['x'], selected: false },
  { name: 'none: none present', current: ['x'], rules: [{ where: { none: ['a', 'b'] }, add: ['n'] }], expected: ['x', 'n'], selected: true },
  { name: 'none: one present → not selected', current: ['a'], rules: [{ where: { none: ['a', 'b'] }, add: ['n'] }], expected: ['a'], selected: false },
  { name: 'id_prefix: matches', id: 'img-123', current: [], rules: [{ where: { id_prefix: 'img-1' }, add: ['p'] }], expected: ['p'], selected: true },
  { name: 'id_prefix: does not match', id: 'img-2', current: [], rules: [{ where: { id_prefix: 'img-1' }, add: ['p'] }], expected: [], selected: false },
  { name: 'untagged: true on no tags', current: [], rules: [{ where: { untagged: true }, set: ['needs-review'] }], expected: ['needs-review'], selected: true },
  { name: 'untagged: true on only blank tags (normalised first)', current: ['  ', ''], rules: [{ where: { untagged: true }, set: ['needs-review'] }], expected: ['needs-review'], selected: true },
  { name: 'untagged: true on a tagged image → not selected', current: ['a'], rules: [{ where: { untagged: true }, set: ['needs-review'] }], expected: ['a'], selected: false },
  { name: 'untagged: false on a tagged image', current: ['a'], rules: [{ where: { untagged: false }, add: ['t'] }], expected: ['a', 't'], selected: true },
  { name: 'untagged: false on no tags → not selected', current: [], rules: [{ where: { untagged: false }, add: ['t'] }], expected: [], selected: false },
  { name: '{} selects every image, untagged too', current: [], rules: [{ where: {}, add: ['all'] }], expected: ['all'], selected: true },
  { name: 'several keys: all must hold (tag and none)', current: ['a', 'b'], rules: [{ where: { tag: 'a', none: ['b'] }, add: ['n'] }], expected: ['a', 'b'], selected: false },
  { name: 'several keys: all hold', current: ['a'], rules: [{ where: { tag: 'a', none: ['b'], id_prefix: 'img' }, add: ['n'] }], expected: ['a', 'n'], selected: true },
  { name: 'an id rule of another image does not apply', current: ['a'], rules: [{ id: 'img-2', add: ['n'] }], expected: ['a'], selected: false },
];

describe('the oracle against the design’s examples (hand-written table)', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const id = c.id ?? 'img-1';
    expect(expectedTags(id, c.current, c.rules)).toEqual(c.expected);
    expect(selected(id, c.current, c.rules)).toBe(c.selected);
  });

  test('swap applied twice gives the tags back: a swap is not idempotent', () => {
    const swap: OracleRule[] = [{ id: 'img-1', rename: { a: 'b', b: 'a' } }];
    expect(expectedTags('img-1', expectedTags('img-1', ['a', 'x'], swap), swap)).toEqual(['a', 'x']);
  });

  test('rename a→x and add a in one rule: a second application adds x (not idempotent)', () => {
    const rules: OracleRule[] = [{ id: 'img-1', rename: { a: 'x' }, add: ['a'] }];
    const once = expectedTags('img-1', [], rules);
    expect(once).toEqual(['a']);
    expect(expectedTags('img-1', once, rules)).toEqual(['x', 'a']);
  });
});

describe('the project’s plan on the same table (decideImage)', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const id = c.id ?? 'img-1';
    const decision = decideImage(ruleSetOf(c.rules), id, c.current);
    if (!c.selected) {
      expect(decision).toBeUndefined();
      return;
    }
    expect(decision).toBeDefined();
    if (c.orderFree) expect([...decision!.after!].sort()).toEqual([...c.expected].sort());
    else expect(decision!.after).toEqual(c.expected);
    expect(decision!.before).toEqual(c.current); // kept exactly as read
    expect(decision!.action).toBe(sameMembers(c.expected, oracleTags(c.current)) ? 'unchanged' : 'update');
  });

  test('the two non-idempotent witnesses behave the same in the project', () => {
    const swap = ruleSetOf([{ id: 'img-1', rename: { a: 'b', b: 'a' } }]);
    const once = decideImage(swap, 'img-1', ['a', 'x'])!.after!;
    expect(once).toEqual(['b', 'x']);
    expect(decideImage(swap, 'img-1', once)!.after).toEqual(['a', 'x']);
    const readd = ruleSetOf([{ id: 'img-1', rename: { a: 'x' }, add: ['a'] }]);
    expect(decideImage(readd, 'img-1', ['a'])!.after).toEqual(['x', 'a']);
    expect(decideImage(readd, 'img-1', [])!.after).toEqual(['a']);
  });
});

// ---------------------------------------------------------------------------------------------
// Random rules and tag lists.

/** Tags with NFC/NFD twins, case variants and untrimmed spellings, so normalisation is exercised. */
const VOCAB = ['a', 'b', 'c', 'd', 'A', ' a', 'b ', '\u00e9', 'e\u0301', 'summer', 'summer-2026'];
const IDS = ['img-1', 'img-2', 'img-10', 'x-1'];

const tagArb = fc.constantFrom(...VOCAB);
const currentArb = fc.array(fc.oneof({ weight: 9, arbitrary: tagArb }, { weight: 1, arbitrary: fc.constantFrom('', '  ') }), { maxLength: 5 });
const tagListArb = fc.array(fc.oneof({ weight: 9, arbitrary: tagArb }, { weight: 1, arbitrary: fc.constant(' ') }), { maxLength: 4 });
const someTagsArb = fc.array(tagArb, { minLength: 1, maxLength: 3 });

/** Present with probability weight/10. */
const sometimes = <T>(arb: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 10 - weight, arbitrary: fc.constant(undefined) }, { weight, arbitrary: arb });
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** Valid rename maps (keys distinct once normalised, new ≠ old): random maps, chains and swaps. */
function renameArbOf(keys: fc.Arbitrary<string>, values: fc.Arbitrary<string>, swaps: boolean): fc.Arbitrary<Record<string, string>> {
  const random = fc
    .uniqueArray(fc.tuple(keys, values), { selector: ([from]) => oracleTag(from), minLength: 1, maxLength: 3 })
    .map((pairs) => Object.fromEntries(pairs.filter(([from, to]) => oracleTag(from) !== oracleTag(to))));
  const swap = fc
    .tuple(tagArb, tagArb)
    .filter(([x, y]) => oracleTag(x) !== oracleTag(y))
    .map(([x, y]) => ({ [x]: y, [y]: x }));
  return (swaps ? fc.oneof(random, swap) : random).filter((m) => Object.keys(m).length > 0);
}

const whereArb: fc.Arbitrary<OracleWhere> = fc
  .record({
    tag: sometimes(tagArb, 4),
    all: sometimes(someTagsArb, 2),
    any: sometimes(someTagsArb, 3),
    none: sometimes(someTagsArb, 2),
    id_prefix: sometimes(fc.constantFrom('img-1', 'img-', 'x'), 2),
    untagged: sometimes(fc.boolean(), 1),
  })
  .map(defined);

function opsArbOf(rename: fc.Arbitrary<Record<string, string>>, tags: fc.Arbitrary<string[]>): fc.Arbitrary<OracleRule> {
  return fc
    .record({
      clear: sometimes(fc.constant(true), 1),
      set: sometimes(fc.array(tagArb, { maxLength: 3 }), 1),
      rename: sometimes(rename, 4),
      add: sometimes(tags, 5),
      remove: sometimes(tags, 4),
    })
    .map(defined)
    .filter((ops) => Object.keys(ops).length > 0);
}

const opsArb = opsArbOf(renameArbOf(tagArb, tagArb, true), tagListArb);
const idRuleArb = fc.tuple(fc.constantFrom(...IDS), opsArb).map(([id, ops]): OracleRule => ({ id, ...ops }));
const whereRuleArb = fc.tuple(whereArb, opsArb).map(([where, ops]): OracleRule => ({ where, ...ops }));
const anyRuleArb = fc.oneof(idRuleArb, whereRuleArb);
const idArb = fc.constantFrom(...IDS);

/** Tags that some rule removes and a later rule adds: the project keeps their place, the oracle appends. */
function removedThenAdded(rules: readonly OracleRule[]): Set<string> {
  const removed = new Set<string>();
  const out = new Set<string>();
  for (const r of rules) {
    for (const t of oracleTags(r.add ?? [])) if (removed.has(t)) out.add(t);
    for (const t of oracleTags(r.remove ?? [])) removed.add(t);
  }
  return out;
}

/** The cross-check itself: the project's decision equals the oracle's, field by field. */
function agree(id: string, current: string[], rules: OracleRule[]): void {
  const decision = decideImage(ruleSetOf(rules), id, current);
  const oracle = traceRules(id, current, rules);
  if (oracle.applied.length === 0) {
    expect(decision).toBeUndefined();
    return;
  }
  expect(decision).toBeDefined();
  const after = decision!.after!;
  // Same members, exactly; and the same order, exactly, except for tags removed and added again.
  expect([...after].sort()).toEqual([...oracle.tags].sort());
  const free = removedThenAdded(rules);
  expect(after.filter((t) => !free.has(t))).toEqual(oracle.tags.filter((t) => !free.has(t)));
  expect(decision!.before).toEqual(current);
  expect(decision!.matched ?? []).toEqual(oracle.matchedWhere);
  expect(decision!.action).toBe(sameMembers(oracle.tags, oracleTags(current)) ? 'unchanged' : 'update');
}

describe('oracle = project (fast-check)', () => {
  test('any mix of id rules and where rules of every kind, in any order', () => {
    fc.assert(
      fc.property(idArb, currentArb, fc.array(anyRuleArb, { maxLength: 6 }), (id, current, rules) => agree(id, current, rules)),
      { numRuns: 3000 },
    );
  });

  test('where rules only, then id rules (no id rule before a where rule)', () => {
    const rulesArb = fc.tuple(fc.array(whereRuleArb, { maxLength: 5 }), fc.array(idRuleArb, { maxLength: 3 })).map(([w, i]) => [...w, ...i]);
    fc.assert(
      fc.property(idArb, currentArb, rulesArb, (id, current, rules) => agree(id, current, rules)),
      { numRuns: 3000 },
    );
  });

  test('rename maps only (chains, swaps, merges onto present tags), id and where rules', () => {
    const renameOnly = renameArbOf(tagArb, tagArb, true).map((rename): OracleRule => ({ rename }));
    const ruleArb = fc.oneof(
      fc.tuple(whereArb, renameOnly).map(([where, r]): OracleRule => ({ where, ...r })),
      fc.tuple(fc.constantFrom(...IDS), renameOnly).map(([id, r]): OracleRule => ({ id, ...r })),
    );
    fc.assert(
      fc.property(idArb, currentArb, fc.array(ruleArb, { minLength: 1, maxLength: 5 }), (id, current, rules) => agree(id, current, rules)),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Properties of the project's plan.
//
// What the design promises about idempotence (§7 "every operation is idempotent (set, add,
// remove, clear, rename give the same result applied twice)") holds for each operation alone,
// and for a rename only when no new name is also an old one (a swap applied twice is the
// identity, see the witnesses above). For composed rules it holds when no rule can bring back a
// tag another rule renames away, and no rule removes a tag before a later rename produces it:
//   C: no rename source is a rename target, an added tag or a set tag of any rule;
//   D: no rule removes the target of a rename in a later rule.
// Under C and D, applying the rules again changes nothing (same members: the no-op check says
// `unchanged`, no write), and so does applying the composed operation of the first decision
// again. Where rules may select differently the second time, so the first form is stated for id
// rules only.

const KEYS = ['k1', 'k2', ' k1'];
const OTHERS = ['a', 'b', ' a', '\u00e9', 'e\u0301', 'B'];
const keyArb = fc.constantFrom(...KEYS);
const otherArb = fc.constantFrom(...OTHERS);
const currentCDArb = fc.array(fc.constantFrom(...KEYS, ...OTHERS), { maxLength: 5 });
/** Rules satisfying C by construction: renames map KEYS → OTHERS; set/add draw from OTHERS. */
const opsCDArb = fc
  .record({
    clear: sometimes(fc.constant(true), 1),
    set: sometimes(fc.array(otherArb, { maxLength: 3 }), 1),
    rename: sometimes(renameArbOf(keyArb, otherArb, false), 5),
    add: sometimes(fc.array(otherArb, { maxLength: 3 }), 5),
    remove: sometimes(fc.array(fc.constantFrom(...KEYS, ...OTHERS), { maxLength: 3 }), 4),
  })
  .map(defined)
  .filter((ops) => Object.keys(ops).length > 0);

/** D: no rule removes what a later rename produces. */
function satisfiesD(rules: readonly OracleRule[]): boolean {
  const removedSoFar = new Set<string>();
  for (const r of rules) {
    for (const to of Object.values(r.rename ?? {})) if (removedSoFar.has(oracleTag(to))) return false;
    for (const t of oracleTags(r.remove ?? [])) removedSoFar.add(t);
  }
  return true;
}

/** Every tag a rule names in any operation or as a rename source/target. */
function namedByRules(rules: readonly OracleRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules) {
    for (const t of oracleTags([...(r.set ?? []), ...(r.add ?? []), ...(r.remove ?? [])])) out.add(t);
    for (const [from, to] of Object.entries(r.rename ?? {})) {
      out.add(oracleTag(from));
      out.add(oracleTag(to));
    }
  }
  return out;
}

/** Could a rule that replaces every tag (set/clear) apply to this image? (Where rules: maybe.) */
function mayReplaceAll(id: string, rules: readonly OracleRule[]): boolean {
  return rules.some((r) => (r.clear === true || r.set !== undefined) && (r.where !== undefined || r.id === id));
}

describe('properties of the project’s plan', () => {
  test('each operation alone is idempotent, exactly: deciding the result again gives the result (swaps excluded)', () => {
    const oneOpArb = fc.oneof(
      fc.constant<OracleRule>({ clear: true }),
      fc.array(tagArb, { maxLength: 3 }).map((set): OracleRule => ({ set })),
      tagListArb.map((add): OracleRule => ({ add })),
      tagListArb.map((remove): OracleRule => ({ remove })),
      renameArbOf(keyArb, otherArb, false).map((rename): OracleRule => ({ rename })),
    );
    fc.assert(
      fc.property(currentCDArb, oneOpArb, (current, ops) => {
        const rules = ruleSetOf([{ id: 'img-1', ...ops }]);
        const after = decideImage(rules, 'img-1', current)!.after!;
        const again = decideImage(rules, 'img-1', after)!;
        expect(again.after).toEqual(after);
        expect(again.action).toBe('unchanged');
      }),
      { numRuns: 1000 },
    );
  });

  test('id rules under C and D: deciding the result again is a no-op (same members, action unchanged)', () => {
    const rulesArb = fc.array(opsCDArb.map((ops): OracleRule => ({ id: 'img-1', ...ops })), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(currentCDArb, rulesArb, (current, rules) => {
        fc.pre(satisfiesD(rules));
        const set = ruleSetOf(rules);
        const after = decideImage(set, 'img-1', current)!.after!;
        const again = decideImage(set, 'img-1', after)!;
        expect(sameMembers(again.after!, after)).toBe(true);
        expect(again.action).toBe('unchanged');
      }),
      { numRuns: 1500 },
    );
  });

  test('any rules under C and D: the composed operation of a decision applied to its result changes nothing (same members)', () => {
    const ruleArb = fc.oneof(
      opsCDArb.map((ops): OracleRule => ({ id: 'img-1', ...ops })),
      fc.tuple(whereArb, opsCDArb).map(([where, ops]): OracleRule => ({ where, ...ops })),
    );
    fc.assert(
      fc.property(currentCDArb, fc.array(ruleArb, { minLength: 1, maxLength: 6 }), (current, rules) => {
        fc.pre(satisfiesD(rules));
        const decision = decideImage(ruleSetOf(rules), 'img-1', current);
        if (decision === undefined) return;
        const after = decision.after!;
        const op = decision.op;
        if (op.kind === 'guarded') throw new Error('a rule decision is never guarded');
        // Same members (design.md §2 equality); the order may differ where a rule removes a tag a
        // later one adds again (applied twice, the re-added tag moves to the end).
        expect(sameMembers(applyOp(after, op), after)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  test('no tag outside the rules’ reach is ever lost (reach: removed tags, rename sources, set/clear)', () => {
    fc.assert(
      fc.property(idArb, currentArb, fc.array(anyRuleArb, { maxLength: 6 }), (id, current, rules) => {
        if (mayReplaceAll(id, rules)) return;
        const reach = new Set<string>();
        for (const r of rules) {
          for (const t of oracleTags(r.remove ?? [])) reach.add(t);
          for (const from of Object.keys(r.rename ?? {})) reach.add(oracleTag(from));
        }
        const decision = decideImage(ruleSetOf(rules), id, current);
        const after = decision?.after ?? oracleTags(current);
        for (const t of oracleTags(current)) if (!reach.has(t)) expect(after).toContain(t);
      }),
      { numRuns: 2000 },
    );
  });

  test('the order of untouched tags is kept (tags no rule names, when no set/clear may apply)', () => {
    fc.assert(
      fc.property(idArb, currentArb, fc.array(anyRuleArb, { maxLength: 6 }), (id, current, rules) => {
        if (mayReplaceAll(id, rules)) return;
        const named = namedByRules(rules);
        const decision = decideImage(ruleSetOf(rules), id, current);
        const after = decision?.after ?? oracleTags(current);
        const untouched = oracleTags(current).filter((t) => !named.has(t));
        expect(after.filter((t) => untouched.includes(t))).toEqual(untouched);
      }),
      { numRuns: 2000 },
    );
  });

  test('a rename keeps every other tag where it was: the renamed tag takes the old one’s index', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 6 }), fc.constantFrom('a', 'b', 'c'), fc.constantFrom('x', 'y'), (current, from, to) => {
        const decision = decideImage(ruleSetOf([{ where: { tag: from }, rename: { [from]: to } }]), 'img-1', current);
        if (!current.includes(from)) {
          expect(decision).toBeUndefined();
          return;
        }
        expect(decision!.after).toEqual(current.map((t) => (t === from ? to : t)));
      }),
      { numRuns: 500 },
    );
  });
});
