/**
 * Tables for the parts of src/plan/ that the mutation run (`npm run mutate`) found untested or
 * under-tested. Each expectation is written from design.md (§2 rules and normalisation, §5
 * outputs, §7 `retag tags` and apply/undo), never computed with src/plan itself.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { applyOp, applyRule, isEmptyOp, opToRules } from '../src/plan/compose.js';
import { spellingKey, suggestRenames, TagInventory } from '../src/plan/inventory.js';
import { decideImage, RuleSet } from '../src/plan/rule-set.js';
import { summarizePlan } from '../src/plan/summary.js';
import { decideGuarded, guardedDelta } from '../src/plan/resolve.js';
import type { ComposedOp, GuardedOp, PlanEntry, Rule } from '../src/plan/types.js';
import { oracleTags, sameMembers, traceRules, type OracleRule } from './helpers/oracle.js';

type Ops = Omit<Rule, 'id' | 'where' | 'source'>;
const compose = (...rules: Ops[]): ComposedOp => rules.reduce<ComposedOp | undefined>((op, r) => applyRule(op, r), undefined)!;

describe('TagInventory (retag tags: every tag with its image count, most used first)', () => {
  test('counts images per normalised tag; a tag twice on one image counts once', () => {
    const inv = new TagInventory();
    inv.add(['b', ' b', 'a']);
    inv.add(['a']);
    inv.add([]);
    inv.add(['cafe\u0301', 'caf\u00e9 ', '']);
    expect(inv.images).toBe(4);
    expect(inv.result()).toEqual([
      { tag: 'a', images: 2 },
      { tag: 'b', images: 1 },
      { tag: 'caf\u00e9', images: 1 },
    ]);
  });

  test('most used first; ties in code point order (upper case before lower case), whatever the order seen', () => {
    const inv = new TagInventory();
    for (const tags of [['z'], ['b'], ['B'], ['z'], ['m', 'z'], ['b'], ['a']]) inv.add(tags);
    expect(inv.result()).toEqual([
      { tag: 'z', images: 3 },
      { tag: 'b', images: 2 },
      { tag: 'B', images: 1 },
      { tag: 'a', images: 1 },
      { tag: 'm', images: 1 },
    ]);
  });

  test('an empty library: no tags, no images', () => {
    const inv = new TagInventory();
    expect(inv.result()).toEqual([]);
    expect(inv.images).toBe(0);
  });
});

describe('spellingKey (--suggest: spellings equal after case folding, trimming, diacritic folding, space/-/_)', () => {
  test.each<[string, string]>([
    ['Hero Banner', 'hero_banner'],
    ['Hero Banner', 'hero-banner'],
    ['hero  banner', 'hero banner'], // a run of separators is one
    ['hero -_ banner', 'hero banner'],
    ['  Sale ', 'sale'], // trimmed
    ['Caf\u00e9', 'cafe'], // diacritics folded
    ['cafe\u0301', 'caf\u00e9'], // NFD and NFC meet
    ['\u00c5ngstr\u00f6m', 'angstrom'],
  ])('%j meets %j', (a, b) => {
    expect(spellingKey(a)).toBe(spellingKey(b));
  });

  test.each<[string, string]>([
    ['hero banner', 'herobanner'], // a separator is not nothing
    ['sale', 'sales'],
    ['a.b', 'a b'], // only space, - and _ are interchangeable
  ])('%j and %j stay apart', (a, b) => {
    expect(spellingKey(a)).not.toBe(spellingKey(b));
  });

  test('the key itself: lower case, separators as one space, no marks, trimmed', () => {
    expect(spellingKey(' Hero__Banner-Caf\u00e9 ')).toBe('hero banner cafe');
  });
});

describe('suggestRenames (each group of spellings mapped to its most used one)', () => {
  test('groups of two or more only, most used spelling wins, most used group first', () => {
    const inventory = [
      { tag: 'sale', images: 40 },
      { tag: 'hero_banner', images: 12 },
      { tag: 'Sale', images: 9 },
      { tag: 'Hero Banner', images: 7 },
      { tag: 'solo', images: 5 },
      { tag: 'SALE ', images: 2 },
      { tag: 'hero-banner', images: 1 },
    ];
    expect(suggestRenames(inventory)).toEqual([
      { from: 'Sale', to: 'sale', images: 9 },
      { from: 'SALE ', to: 'sale', images: 2 },
      { from: 'Hero Banner', to: 'hero_banner', images: 7 },
      { from: 'hero-banner', to: 'hero_banner', images: 1 },
    ]);
  });

  test('a tie: the first in inventory order wins', () => {
    expect(
      suggestRenames([
        { tag: 'Blue', images: 3 },
        { tag: 'blue', images: 3 },
      ]),
    ).toEqual([{ from: 'blue', to: 'Blue', images: 3 }]);
  });

  test('no duplicates: nothing to suggest', () => {
    expect(suggestRenames([{ tag: 'a', images: 1 }, { tag: 'b', images: 1 }])).toEqual([]);
    expect(suggestRenames([])).toEqual([]);
  });
});

// design.md §7: "write W, but only where the image still holds E". current = W → unchanged;
// current = E → write W; anything else → conflict. Lists compare as sets of normalised tags.
describe('decideGuarded (apply and undo: one mechanism)', () => {
  // apply: E = the plan's before, W = its after.
  const apply: GuardedOp = { kind: 'guarded', expect: ['a', 'b'], write: ['a', 'c'] };

  test.each<[string, string[], 'update' | 'unchanged' | 'conflict']>([
    ['current = E: write W', ['a', 'b'], 'update'],
    ['current = E in another order, untrimmed, repeated', [' b', 'a', 'b'], 'update'],
    ['current = W: already there', ['a', 'c'], 'unchanged'],
    ['current = W in another order', ['c', 'a'], 'unchanged'],
    ['current = W, not normalised (NFC, blanks)', ['c ', '', 'a'], 'unchanged'],
    ['neither: a tag added since', ['a', 'b', 'x'], 'conflict'],
    ['neither: a tag of E gone', ['a'], 'conflict'],
    ['neither: a subset of W', ['c'], 'conflict'],
    ['neither: cleared since', [], 'conflict'],
  ])('%s', (_name, current, action) => {
    expect(decideGuarded('img-1', apply, current)).toEqual({ id: 'img-1', before: current, after: ['a', 'c'], action, op: apply });
  });

  test('E and W compare as normalised sets: an E written untrimmed still matches', () => {
    const op: GuardedOp = { kind: 'guarded', expect: ['caf\u00e9 ', ' x'], write: ['y'] };
    expect(decideGuarded('i', op, ['x', 'cafe\u0301']).action).toBe('update');
    const w: GuardedOp = { kind: 'guarded', expect: ['x'], write: [' y', 'y', ''] };
    expect(decideGuarded('i', w, ['y']).action).toBe('unchanged');
  });

  test('W equal to E (nothing to change): unchanged, never a conflict', () => {
    const op: GuardedOp = { kind: 'guarded', expect: ['a'], write: ['a'] };
    expect(decideGuarded('i', op, ['a']).action).toBe('unchanged');
  });

  test('no guard (expect null: planned without reading): W where it is not yet, whatever else is there', () => {
    const op: GuardedOp = { kind: 'guarded', expect: null, write: ['w'] };
    expect(decideGuarded('i', op, ['anything']).action).toBe('update');
    expect(decideGuarded('i', op, []).action).toBe('update');
    expect(decideGuarded('i', op, ['w']).action).toBe('unchanged');
  });

  test('current not read (null): the write goes blind, an update with before null', () => {
    expect(decideGuarded('i', apply, null)).toEqual({ id: 'i', before: null, after: ['a', 'c'], action: 'update', op: apply });
  });

  test('before is the current list exactly as read (undo restores it to the letter); nothing is shared', () => {
    const current = [' b', 'a'];
    const d = decideGuarded('i', apply, current);
    expect(d.before).toEqual([' b', 'a']);
    d.before!.push('z');
    d.after!.push('z');
    expect(current).toEqual([' b', 'a']);
    expect(apply.write).toEqual(['a', 'c']);
    const blind = decideGuarded('i', apply, null);
    blind.after!.push('z');
    expect(apply.write).toEqual(['a', 'c']);
  });
});

// design.md §5 conflicts.ndjson: the intended change as a delta, add what the change adds,
// remove what it takes away.
describe('guardedDelta (conflicts.ndjson: the change on top of whatever the image holds now)', () => {
  test.each<[string, string[] | null, string[], { add: string[]; remove: string[] }]>([
    ['adds and removes', ['a', 'b'], ['a', 'c'], { add: ['c'], remove: ['b'] }],
    ['only adds', ['a'], ['a', 'b', 'c'], { add: ['b', 'c'], remove: [] }],
    ['only removes, in E order', ['c', 'a', 'b'], ['a'], { add: [], remove: ['c', 'b'] }],
    ['a clear: removes all of E', ['a', 'b'], [], { add: [], remove: ['a', 'b'] }],
    ['from nothing: adds all of W', [], ['a', 'b'], { add: ['a', 'b'], remove: [] }],
    ['no change', ['a', 'b'], ['b', 'a'], { add: [], remove: [] }],
    ['no guard (expect null): adds all of W, removes nothing', null, ['w', 'v'], { add: ['w', 'v'], remove: [] }],
    ['normalised: untrimmed and repeated tags are one', [' a', 'a', 'b '], ['a ', 'c', ' c', ''], { add: ['c'], remove: ['b'] }],
  ])('%s', (_name, expect_, write, delta) => {
    expect(guardedDelta({ kind: 'guarded', expect: expect_, write })).toEqual(delta);
  });
});

// ---------------------------------------------------------------------------------------------
// The composed operation itself. It is what the journal records (resume compares it, design.md
// §7), what failures.ndjson writes back as rules (§5: `retag run failures.ndjson` re-runs
// exactly those) and what undo and apply start from: applying it must give what the rules give.

describe('the composed operation', () => {
  test('a chain of folds keeps every step: add, rename it, add, rename that, add', () => {
    // [] → +a → [a] → a→b → [b] → +c → [b, c] → c→d → [b, d] → +e → [b, d, e]  (written by hand)
    const op = compose({ add: ['a'] }, { rename: { a: 'b' } }, { add: ['c'] }, { rename: { c: 'd' } }, { add: ['e'] });
    expect(applyOp([], op)).toEqual(['b', 'd', 'e']);
    expect(applyOp(['x', 'c'], op)).toEqual(['x', 'd', 'b', 'e']);
    // Re-composed from its rules (failures.ndjson), it does the same.
    const again = opToRules('i', op).reduce<ComposedOp | undefined>((o, r) => applyRule(o, r), undefined)!;
    expect(applyOp([], again)).toEqual(['b', 'd', 'e']);
    expect(applyOp(['x', 'c'], again)).toEqual(['x', 'd', 'b', 'e']);
  });

  test('a rename that touches none of the earlier add/remove folds into one merge', () => {
    expect(compose({ add: ['x'], remove: ['y'] }, { rename: { a: 'b' } })).toEqual({ kind: 'merge', add: ['x'], remove: ['y'], rename: { a: 'b' } });
    expect(compose({ rename: { a: 'b' } }, { rename: { c: 'd' } })).toEqual({ kind: 'merge', add: [], remove: [], rename: { a: 'b', c: 'd' } });
  });

  test('a swap composed with itself is the identity: no rename left, an empty operation', () => {
    const swap = { rename: { a: 'b', b: 'a' } };
    const op = compose(swap, swap);
    expect(op).toStrictEqual({ kind: 'merge', add: [], remove: [] });
    expect(isEmptyOp(op)).toBe(true);
    expect(opToRules('i', op)).toEqual([{ id: 'i', add: [] }]);
  });

  test('renames that undo each other leave no pair renaming a tag to itself (that is no valid rule)', () => {
    const op = compose({ rename: { a: 'b' } }, { rename: { b: 'a' } });
    // a → b → a is a no-op for a; b → a stays: [a] gives [a], [b] gives [a].
    expect(op).toEqual({ kind: 'merge', add: [], remove: [], rename: { b: 'a' } });
    expect(applyOp(['a'], op)).toEqual(['a']);
    expect(applyOp(['b', 'x'], op)).toEqual(['a', 'x']);
  });

  test('the same rename map in another key order is the same operation, to the letter (resume compares the text)', () => {
    const one = compose({ rename: { zeta: 'z', alpha: 'a', mid: 'm' } });
    const two = compose({ rename: { mid: 'm', alpha: 'a', zeta: 'z' } });
    expect(JSON.stringify(one)).toBe(JSON.stringify(two));
    const three = compose({ add: ['k'] }, { rename: { zeta: 'z' } }, { rename: { alpha: 'a' } });
    const four = compose({ add: ['k'] }, { rename: { alpha: 'a' } }, { rename: { zeta: 'z' } });
    expect(JSON.stringify(three)).toBe(JSON.stringify(four));
  });

  test('isEmptyOp: only a merge with nothing to add, remove or rename', () => {
    expect(isEmptyOp({ kind: 'merge', add: [], remove: [] })).toBe(true);
    expect(isEmptyOp({ kind: 'merge', add: ['a'], remove: [] })).toBe(false);
    expect(isEmptyOp({ kind: 'merge', add: [], remove: ['a'] })).toBe(false);
    expect(isEmptyOp({ kind: 'merge', add: [], remove: [], rename: { a: 'b' } })).toBe(false);
    expect(isEmptyOp({ kind: 'set', tags: [] })).toBe(false);
    expect(isEmptyOp({ kind: 'seq', steps: [] })).toBe(false);
  });
});

describe('RuleSet', () => {
  const where = (w: Rule['where'], ops: Ops, line: number): Rule => ({ where: w, ...ops, source: { file: 'm.ndjson', line } });

  test('libraryWide: false for id rules only, true once a where rule is added', () => {
    const rules = new RuleSet();
    rules.add({ id: 'a', add: ['x'] });
    expect(rules.libraryWide).toBe(false);
    rules.add(where({ tag: 'x' }, { add: ['y'] }, 2));
    expect(rules.libraryWide).toBe(true);
  });

  test('whereRules: library-wide rules in file order, with where they come from (summary.json rules[])', () => {
    const rules = new RuleSet();
    rules.add(where({ tag: 'summer' }, { rename: { summer: 'summer-2026' } }, 1));
    rules.add({ id: 'img-5', add: ['summer'], source: { file: 'm.ndjson', line: 2 } });
    rules.add(where({}, { add: ['all'] }, 3));
    expect(rules.whereRules.map((r) => [r.where, r.source])).toEqual([
      [{ tag: 'summer' }, { file: 'm.ndjson', line: 1 }],
      [{}, { file: 'm.ndjson', line: 3 }],
    ]);
  });

  test('writableTags: every tag a rule may write (set, add, rename targets), never one it only removes or renames away', () => {
    const rules = new RuleSet();
    rules.add({ id: 'a', set: ['s1', 's2'] });
    rules.add(where({ tag: 'old' }, { rename: { old: 'new' }, remove: ['gone'] }, 2));
    rules.add({ id: 'b', add: ['b1'], remove: ['b-gone'] }); // after a where rule: a segment
    rules.add({ id: 'c', add: ['c1'] });
    rules.add({ id: 'c', rename: { c1: 'c2' } }); // a seq: add then a rename touching it
    rules.add(where({ any: ['q'] }, { clear: true, add: ['w1'] }, 6));
    const tags = [...rules.writableTags()].sort();
    expect(tags).toEqual(['b1', 'c1', 'c2', 'new', 's1', 's2', 'w1']);
  });

  test('decide: an id with no rule keeps its tags, and no operation', () => {
    const rules = new RuleSet();
    rules.add({ id: 'a', add: ['x'] });
    expect(rules.decide('other', ['p', 'q'])).toEqual({ op: undefined, after: ['p', 'q'], matched: [] });
    rules.add(where({ tag: 'zzz' }, { add: ['y'] }, 2));
    expect(rules.decide('other', ['p', 'q'])).toEqual({ op: undefined, after: ['p', 'q'], matched: [] });
  });

  test('decideImage of an id-only manifest: the exact decision, no `matched`', () => {
    const rules = new RuleSet();
    rules.add({ id: 'a', add: ['x'] });
    expect(decideImage(rules, 'a', ['p'])).toStrictEqual({
      id: 'a',
      before: ['p'],
      after: ['p', 'x'],
      action: 'update',
      op: { kind: 'merge', add: ['x'], remove: [] },
    });
  });

  test('decideImage without reading (--no-read): set and clear decide alone; anything else needs the tags', () => {
    const rules = new RuleSet();
    rules.add({ id: 's', set: ['a', 'b'] });
    rules.add({ id: 'c', clear: true });
    rules.add({ id: 'm', add: ['x'] });
    const s = decideImage(rules, 's', null)!;
    expect(s).toStrictEqual({ id: 's', before: null, after: ['a', 'b'], action: 'update', op: { kind: 'set', tags: ['a', 'b'] } });
    s.after!.push('z'); // the decision does not share the operation's list
    expect(rules.idOp('s')).toEqual({ kind: 'set', tags: ['a', 'b'] });
    expect(decideImage(rules, 'c', null)).toMatchObject({ before: null, after: [], action: 'update' });
    expect(() => decideImage(rules, 'm', null)).toThrow('decideImage: m needs its current tags');
    expect(decideImage(rules, 'nobody', null)).toBeUndefined();
  });
});

// The decision's operation against the independent oracle: applied to the image's (normalised)
// tags it must give what the rules give, for any mix of id rules, where rules and renames.
describe('decision.op = the rules, applied at once (fast-check against test/helpers/oracle.ts)', () => {
  const VOCAB = ['a', 'b', 'c', 'd', ' a', 'e\u0301', '\u00e9'];
  const tag = fc.constantFrom(...VOCAB);
  const tags = fc.array(tag, { maxLength: 3 });
  const rename = fc
    .uniqueArray(fc.tuple(tag, tag), { selector: ([f]) => f.normalize('NFC').trim(), minLength: 1, maxLength: 2 })
    .map((pairs) => Object.fromEntries(pairs.filter(([f, t]) => f.normalize('NFC').trim() !== t.normalize('NFC').trim())))
    .filter((m) => Object.keys(m).length > 0);
  const maybe = <T>(a: fc.Arbitrary<T>, w: number) => fc.option(a, { freq: 10 - w, nil: undefined });
  const ops = fc
    .record({ clear: maybe(fc.constant(true as const), 1), set: maybe(tags, 1), rename: maybe(rename, 5), add: maybe(tags, 5), remove: maybe(tags, 4) })
    .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as OracleRule)
    .filter((o) => Object.keys(o).length > 0);
  const whereArb = fc.oneof(
    fc.constant({}),
    tag.map((t) => ({ tag: t })),
    fc.array(tag, { minLength: 1, maxLength: 2 }).map((any) => ({ any })),
    fc.array(tag, { minLength: 1, maxLength: 2 }).map((none) => ({ none })),
  );
  const rule: fc.Arbitrary<OracleRule> = fc.oneof(
    fc.tuple(fc.constantFrom('img-1', 'img-2'), ops).map(([id, o]) => ({ id, ...o })),
    fc.tuple(whereArb, ops).map(([w, o]) => ({ where: w, ...o })),
  );

  function ruleSetOf(rules: readonly OracleRule[]): RuleSet {
    const set = new RuleSet();
    for (const r of rules) {
      // The tags as validation leaves them: normalised, blanks and duplicates dropped.
      const norm = (l: readonly string[] | undefined) => (l === undefined ? undefined : oracleTags(l));
      const rn = r.rename && Object.fromEntries(Object.entries(r.rename).map(([f, t]) => [f.normalize('NFC').trim(), t.normalize('NFC').trim()]));
      const w = r.where && Object.fromEntries(Object.entries(r.where).map(([k, v]) => [k, typeof v === 'string' ? oracleTags([v])[0] : Array.isArray(v) ? oracleTags(v) : v]));
      const out: Rule = {};
      if (r.id !== undefined) out.id = r.id;
      if (w !== undefined) out.where = w;
      if (r.clear) out.clear = true;
      if (r.set) out.set = norm(r.set)!;
      if (rn) out.rename = rn;
      if (r.add) out.add = norm(r.add)!;
      if (r.remove) out.remove = norm(r.remove)!;
      set.add(out);
    }
    return set;
  }

  test('applyOp(current, decision.op) has the oracle’s members; untouched order kept', () => {
    fc.assert(
      fc.property(fc.constantFrom('img-1', 'img-2'), fc.array(tag, { maxLength: 4 }), fc.array(rule, { minLength: 1, maxLength: 6 }), (id, current, rules) => {
        const oracle = traceRules(id, current, rules);
        const decision = decideImage(ruleSetOf(rules), id, current);
        if (oracle.applied.length === 0) {
          expect(decision).toBeUndefined();
          return;
        }
        const op = decision!.op;
        if (op.kind === 'guarded') throw new Error('a rule decision is never guarded');
        const once = applyOp(oracleTags(current), op);
        expect(sameMembers(once, oracle.tags)).toBe(true);
        // Written back as rules (failures.ndjson) and composed again: the same effect.
        const again = opToRules(id, op).reduce<ComposedOp | undefined>((o, r) => applyRule(o, r), undefined)!;
        expect(applyOp(oracleTags(current), again)).toEqual(once);
        for (const r of opToRules(id, op)) for (const [from, to] of Object.entries(r.rename ?? {})) expect(to).not.toBe(from);
      }),
      { numRuns: 1500 },
    );
  });
});

describe('plan summary: ties between tag counts are broken by tag, in code point order', () => {
  const upd = (id: string, before: string[], after: string[]): PlanEntry => ({ id, before, after, action: 'update' });
  test('added and removed lists, most frequent first, ties by tag whatever the order met', () => {
    const s = summarizePlan([
      upd('i1', ['r-z', 'r-b'], ['z']),
      upd('i2', ['r-B'], ['b']),
      upd('i3', ['r-a', 'r-z'], ['B', 'z']),
      upd('i4', [], ['a', 'm']),
    ]);
    expect(s.added).toEqual([
      { tag: 'z', count: 2 },
      { tag: 'B', count: 1 },
      { tag: 'a', count: 1 },
      { tag: 'b', count: 1 },
      { tag: 'm', count: 1 },
    ]);
    expect(s.removed).toEqual([
      { tag: 'r-z', count: 2 },
      { tag: 'r-B', count: 1 },
      { tag: 'r-a', count: 1 },
      { tag: 'r-b', count: 1 },
    ]);
  });
});

describe('survivors of the 2026-12-01 mutation run, killed', () => {
  // Tags tied on their count, inserted out of order: the tie-break (code point order) decides.
  const scrambled = ['delta', 'bravo', 'echo', 'alpha', 'hotel', 'charlie', 'golf', 'foxtrot'];

  test('retag tags: ties on the image count are listed in code point order, whatever order they came in', () => {
    const inv = new TagInventory();
    for (const t of scrambled) inv.add([t]);
    inv.add(['zulu']);
    inv.add(['zulu']);
    expect(inv.result().map((c) => c.tag)).toEqual(['zulu', 'alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel']);
  });

  test('plan summary: tags added or removed by as many images are listed in code point order', () => {
    const entries: PlanEntry[] = scrambled.map((t, i) => ({ id: `i${i}`, action: 'update', before: [`old-${t}`], after: [t] }) as PlanEntry);
    const summary = summarizePlan(entries);
    expect(summary.added.map((c) => c.tag)).toEqual([...scrambled].sort());
    expect(summary.removed.map((c) => c.tag)).toEqual([...scrambled].map((t) => `old-${t}`).sort());
  });

  test('a swap after an add that it clashes with, then another add: the swap applies once', () => {
    // From no tags: add x → [x]; swap x↔y → [y]; add z → [y, z] (design.md §2: rules in order).
    const op = compose({ add: ['x'] }, { rename: { x: 'y', y: 'x' } }, { add: ['z'] });
    expect(applyOp([], op)).toEqual(['y', 'z']);
    // From [y]: add x → [y, x]; swap (positions kept) → [x, y]; add z → [x, y, z].
    expect(applyOp(['y'], op)).toEqual(['x', 'y', 'z']);
  });

  test('rules that share a text once joined still get their own operations (["ab"] is not ["a", "b"])', () => {
    const rules = new RuleSet();
    rules.add({ id: 'add-1', add: ['ab'] });
    rules.add({ id: 'add-2', add: ['a', 'b'] });
    rules.add({ id: 'remove-1', remove: ['cd'] });
    rules.add({ id: 'remove-2', remove: ['c', 'd'] });
    rules.add({ id: 'set-1', set: ['ab'] });
    rules.add({ id: 'set-2', set: ['a', 'b'] });
    expect(applyOp([], rules.idOp('add-1')!)).toEqual(['ab']);
    expect(applyOp([], rules.idOp('add-2')!)).toEqual(['a', 'b']);
    expect(applyOp(['c', 'd', 'cd'], rules.idOp('remove-1')!)).toEqual(['c', 'd']);
    expect(applyOp(['c', 'd', 'cd'], rules.idOp('remove-2')!)).toEqual(['cd']);
    expect(applyOp(['x'], rules.idOp('set-1')!)).toEqual(['ab']);
    expect(applyOp(['x'], rules.idOp('set-2')!)).toEqual(['a', 'b']);
  });

  test('the operation recorded for an image (journal, failures.ndjson) gives the tags decided, renames included', () => {
    // An id rule, then a library-wide rename: the image's one operation composes both.
    const rules = new RuleSet();
    rules.add({ id: 'img', add: ['k'] });
    rules.add({ where: { tag: 'old' }, rename: { old: 'new' } });
    rules.add({ where: { tag: 'new' }, add: ['seen-new'], remove: ['k'] });
    const d = decideImage(rules, 'img', ['old', 'keep'])!;
    expect(d.after).toEqual(['new', 'keep', 'seen-new']);
    expect(applyOp(['old', 'keep'], d.op as ComposedOp)).toEqual(d.after);
    // Re-run as rules (failures.ndjson): the same tags again.
    const again = opToRules('img', d.op as ComposedOp).reduce<ComposedOp | undefined>((op, r) => applyRule(op, r), undefined)!;
    expect(applyOp(['old', 'keep'], again)).toEqual(['new', 'keep', 'seen-new']);
  });
});
