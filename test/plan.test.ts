import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { applyRule, needsRead, opToRule } from '../src/plan/compose.js';
import { RuleSet } from '../src/plan/rule-set.js';
import { normalizeTags, sameTags } from '../src/plan/normalize.js';
import { applyOp, resolveTarget } from '../src/plan/resolve.js';
import type { ComposedOp, Rule } from '../src/plan/types.js';

type Ops = Omit<Rule, 'id' | 'source'>;
const compose = (...rules: Ops[]): ComposedOp =>
  rules.reduce<ComposedOp | undefined>((op, r) => applyRule(op, r), undefined)!;

/** The reference semantics: one rule applied directly to a tag list (design.md §2). */
function applyRuleDirectly(tags: readonly string[], rule: Ops): string[] {
  let out = [...tags];
  if (rule.clear) out = [];
  if (rule.set) out = normalizeTags(rule.set);
  if (rule.add) out = normalizeTags([...out, ...rule.add]);
  if (rule.remove) {
    const removing = new Set(normalizeTags(rule.remove));
    out = out.filter((t) => !removing.has(t));
  }
  return out;
}

describe('normalizeTags / sameTags', () => {
  test.each([
    [[], []],
    [['a', 'b'], ['a', 'b']],
    [[' a ', 'b', '', '  ', 'a'], ['a', 'b']],
    [['B', 'b', 'B'], ['B', 'b']], // case-sensitive
    [['x,y', ' x '], ['x,y', 'x']], // never split on commas
    [['c', 'a', 'b', 'a'], ['c', 'a', 'b']], // first occurrence keeps its place
  ])('normalizeTags(%j) = %j', (input, expected) => {
    expect(normalizeTags(input)).toEqual(expected);
  });

  test.each([
    [[], [], true],
    [['a', 'b'], ['b', 'a'], true],
    [['a'], ['a', 'b'], false],
    [['a', 'b'], ['a', 'c'], false],
    [['a'], ['A'], false],
  ])('sameTags(%j, %j) = %s', (a, b, expected) => {
    expect(sameTags(a, b)).toBe(expected);
    expect(sameTags(b, a)).toBe(expected);
  });

  // sameTags must be symmetric when either list repeats a tag (demo.ts compares a server's
  // array, which may repeat one).
  test('sameTags with duplicates in the first list', () => {
    expect(sameTags(['a', 'a'], ['a', 'b'])).toBe(false);
  });
  test('sameTags is symmetric with duplicates in the second list', () => {
    expect(sameTags(['a', 'b'], ['a', 'a'])).toBe(false);
  });
});

describe('applyRule: composition', () => {
  const cases: Array<[string, Ops[], ComposedOp]> = [
    ['add', [{ add: ['a'] }], { kind: 'merge', add: ['a'], remove: [] }],
    ['remove', [{ remove: ['a'] }], { kind: 'merge', add: [], remove: ['a'] }],
    ['set', [{ set: ['b', 'a'] }], { kind: 'set', tags: ['b', 'a'] }],
    ['clear', [{ clear: true }], { kind: 'set', tags: [] }],
    ['set [] = clear', [{ set: [] }], { kind: 'set', tags: [] }],
    ['tags are normalised', [{ add: [' a', 'a', '', 'b '] }], { kind: 'merge', add: ['a', 'b'], remove: [] }],
    // Within one rule: clear, set, add, remove.
    ['clear then set', [{ clear: true, set: ['a'] }], { kind: 'set', tags: ['a'] }],
    ['set then add', [{ set: ['a'], add: ['b'] }], { kind: 'set', tags: ['a', 'b'] }],
    ['set then remove', [{ set: ['a', 'b'], remove: ['a'] }], { kind: 'set', tags: ['b'] }],
    ['add then remove: remove wins', [{ add: ['a', 'b'], remove: ['a'] }], { kind: 'merge', add: ['b'], remove: ['a'] }],
    ['clear, set, add, remove', [{ clear: true, set: ['a', 'b'], add: ['c', 'a'], remove: ['b'] }], { kind: 'set', tags: ['a', 'c'] }],
    ['clear and add', [{ clear: true, add: ['x'] }], { kind: 'set', tags: ['x'] }],
    // Across rules, in file order.
    ['add, then remove the same', [{ add: ['a'] }, { remove: ['a'] }], { kind: 'merge', add: [], remove: ['a'] }],
    ['remove, then add the same', [{ remove: ['a'] }, { add: ['a'] }], { kind: 'merge', add: ['a'], remove: [] }],
    ['adds accumulate', [{ add: ['a'] }, { add: ['b', 'a'] }], { kind: 'merge', add: ['a', 'b'], remove: [] }],
    ['a later set replaces earlier merges', [{ add: ['a'] }, { remove: ['b'] }, { set: ['c'] }], { kind: 'set', tags: ['c'] }],
    ['merge after set stays a set', [{ set: ['a', 'b'] }, { add: ['c'] }, { remove: ['a'] }], { kind: 'set', tags: ['b', 'c'] }],
    ['clear after anything', [{ add: ['a'] }, { clear: true }], { kind: 'set', tags: [] }],
    ['add after clear', [{ clear: true }, { add: ['a'] }], { kind: 'set', tags: ['a'] }],
    ['set [] in a later rule clears', [{ set: ['a'] }, { set: [] }], { kind: 'set', tags: [] }],
  ];
  test.each(cases)('%s', (_name, rules, expected) => {
    expect(compose(...rules)).toEqual(expected);
  });

  test('RuleSet composes id rules per id in first-seen order', () => {
    const rules = new RuleSet();
    rules.add({ id: 'b', add: ['x'] });
    rules.add({ id: 'a', set: ['y'] });
    rules.add({ id: 'b', remove: ['z'] });
    expect(rules.idCount).toBe(2);
    expect([...rules.ids()]).toEqual(['b', 'a']);
    expect(rules.idOp('b')).toEqual({ kind: 'merge', add: ['x'], remove: ['z'] });
    expect(rules.idOp('a')).toEqual({ kind: 'set', tags: ['y'] });
  });

  test('needsRead: only merges need the current tags', () => {
    expect(needsRead({ kind: 'merge', add: ['a'], remove: [] })).toBe(true);
    expect(needsRead({ kind: 'set', tags: [] })).toBe(false);
  });
});

describe('applyOp', () => {
  test.each<[string, string[], ComposedOp, string[]]>([
    ['set replaces', ['a', 'b'], { kind: 'set', tags: ['c'] }, ['c']],
    ['clear', ['a'], { kind: 'set', tags: [] }, []],
    ['add appends', ['b', 'a'], { kind: 'merge', add: ['c'], remove: [] }, ['b', 'a', 'c']],
    ['add of a present tag keeps its place', ['b', 'a'], { kind: 'merge', add: ['b'], remove: [] }, ['b', 'a']],
    ['remove keeps the others in order', ['c', 'b', 'a'], { kind: 'merge', add: [], remove: ['b'] }, ['c', 'a']],
    ['remove of an absent tag', ['a'], { kind: 'merge', add: [], remove: ['z'] }, ['a']],
    ['add and remove', ['x', 'old', 'y'], { kind: 'merge', add: ['new'], remove: ['old'] }, ['x', 'y', 'new']],
    ['duplicates in before are dropped', ['a', 'b', 'a'], { kind: 'merge', add: [], remove: [] }, ['a', 'b']],
    ['from nothing', [], { kind: 'merge', add: ['a', 'b'], remove: ['c'] }, ['a', 'b']],
  ])('%s', (_name, before, op, after) => {
    expect(applyOp(before, op)).toEqual(after);
  });

  test('does not mutate its inputs', () => {
    const before = ['a', 'b'];
    const op: ComposedOp = { kind: 'set', tags: ['c'] };
    const after = applyOp(before, op);
    after.push('d');
    expect(before).toEqual(['a', 'b']);
    expect(op).toEqual({ kind: 'set', tags: ['c'] });
  });
});

describe('resolveTarget', () => {
  test('update', () => {
    expect(resolveTarget({ id: 'i', op: { kind: 'merge', add: ['c'], remove: ['b'] } }, ['a', 'b'])).toEqual({
      id: 'i',
      before: ['a', 'b'],
      after: ['a', 'c'],
      action: 'update',
    });
  });

  test('unchanged when the result has the same members in another order', () => {
    expect(resolveTarget({ id: 'i', op: { kind: 'set', tags: ['b', 'a'] } }, ['a', 'b'])).toMatchObject({
      action: 'unchanged',
      before: ['a', 'b'],
    });
    expect(resolveTarget({ id: 'i', op: { kind: 'merge', add: ['a'], remove: ['z'] } }, ['a'])).toMatchObject({
      action: 'unchanged',
    });
    expect(resolveTarget({ id: 'i', op: { kind: 'set', tags: [] } }, [])).toMatchObject({ action: 'unchanged' });
  });

  test('not_found when the scan never saw the id', () => {
    expect(resolveTarget({ id: 'i', op: { kind: 'set', tags: ['a'] } }, undefined)).toEqual({
      id: 'i',
      before: null,
      after: null,
      action: 'not_found',
    });
  });

  test('--no-read: before null, always an update, set only', () => {
    expect(resolveTarget({ id: 'i', op: { kind: 'set', tags: ['a'] } }, null)).toEqual({
      id: 'i',
      before: null,
      after: ['a'],
      action: 'update',
    });
    expect(resolveTarget({ id: 'i', op: { kind: 'set', tags: [] } }, null)).toMatchObject({ after: [], action: 'update' });
    expect(() => resolveTarget({ id: 'i', op: { kind: 'merge', add: ['a'], remove: [] } }, null)).toThrow(/current tags/);
  });

  test('the entry does not share arrays with its inputs', () => {
    const before = ['a'];
    const entry = resolveTarget({ id: 'i', op: { kind: 'merge', add: ['b'], remove: [] } }, before);
    entry.before!.push('z');
    expect(before).toEqual(['a']);
  });

  // The list parser passes array tags through untrimmed: a current tag " b" must still be
  // matched by `remove: ["b"]` (design.md §2: current tags are normalised before rules apply).
  test('current tags are normalised before the op applies', () => {
    expect(resolveTarget({ id: 'i', op: { kind: 'merge', add: [], remove: ['b'] } }, ['a', ' b'])).toMatchObject({
      after: ['a'],
      action: 'update',
    });
  });
});

describe('opToRule', () => {
  test.each<[ComposedOp, Rule]>([
    [{ kind: 'set', tags: ['a', 'b'] }, { id: 'i', set: ['a', 'b'] }],
    [{ kind: 'set', tags: [] }, { id: 'i', clear: true }],
    [{ kind: 'merge', add: ['a'], remove: ['b'] }, { id: 'i', add: ['a'], remove: ['b'] }],
    [{ kind: 'merge', add: ['a'], remove: [] }, { id: 'i', add: ['a'] }],
    [{ kind: 'merge', add: [], remove: ['b'] }, { id: 'i', remove: ['b'] }],
    [{ kind: 'merge', add: [], remove: [] }, { id: 'i', add: [] }],
  ])('%j → %j', (op, rule) => {
    expect(opToRule('i', op)).toEqual(rule);
    expect(applyRule(undefined, opToRule('i', op))).toEqual(op);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

// A small alphabet so rules collide with each other and with `before`; untrimmed and empty
// variants exercise normalisation.
const tagArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'A', 'x y');
const ruleTagArb = fc.oneof({ weight: 6, arbitrary: tagArb }, { weight: 1, arbitrary: fc.constantFrom(' a', 'b ', '', '  ') });
const tagListArb = fc.array(ruleTagArb, { maxLength: 5 });
const beforeArb = fc.uniqueArray(tagArb, { maxLength: 7 });

const mergeRuleArb: fc.Arbitrary<Ops> = fc
  .record({ add: tagListArb, remove: tagListArb }, { requiredKeys: [] })
  .filter((r) => r.add !== undefined || r.remove !== undefined);
const anyRuleArb: fc.Arbitrary<Ops> = fc
  .record({ clear: fc.constant(true as const), set: tagListArb, add: tagListArb, remove: tagListArb }, { requiredKeys: [] })
  .filter((r) => Object.keys(r).length > 0);
const rulesArb = fc.array(anyRuleArb, { minLength: 1, maxLength: 6 });
const mergeRulesArb = fc.array(mergeRuleArb, { minLength: 1, maxLength: 6 });
const opArb: fc.Arbitrary<ComposedOp> = rulesArb.map((rules) => compose(...rules));

const named = (rules: Ops[], key: 'add' | 'remove' | 'set'): Set<string> =>
  new Set(rules.flatMap((r) => normalizeTags(r[key] ?? [])));

describe('properties', () => {
  test('the composed op is in normal form: normalised lists, add and remove disjoint', () => {
    fc.assert(
      fc.property(opArb, (op) => {
        if (op.kind === 'seq') throw new Error('rules without rename never need a seq');
        const lists = op.kind === 'set' ? [op.tags] : [op.add, op.remove];
        for (const l of lists) expect(normalizeTags(l)).toEqual(l);
        if (op.kind === 'merge') expect(op.add.filter((t) => op.remove.includes(t))).toEqual([]);
      }),
    );
  });

  test('idempotent: applying the composed op twice = once', () => {
    fc.assert(
      fc.property(beforeArb, opArb, (before, op) => {
        const once = applyOp(before, op);
        expect(applyOp(once, op)).toEqual(once);
        // …and so a second run of the same manifest plans nothing.
        expect(resolveTarget({ id: 'i', op }, once).action).toBe('unchanged');
      }),
    );
  });

  test('order-preserving: tags of before that survive keep their relative order (add/remove rules)', () => {
    fc.assert(
      fc.property(beforeArb, mergeRulesArb, (before, rules) => {
        const after = applyOp(before, compose(...rules));
        const survivors = before.filter((t) => after.includes(t));
        expect(after.slice(0, survivors.length)).toEqual(survivors);
      }),
    );
  });

  test('nothing outside the rules is lost: a before tag never removed and never set over stays', () => {
    fc.assert(
      fc.property(beforeArb, rulesArb, (before, rules) => {
        const after = applyOp(before, compose(...rules));
        if (rules.some((r) => r.clear || r.set)) return;
        const removed = named(rules, 'remove');
        for (const t of before) if (!removed.has(t)) expect(after).toContain(t);
      }),
    );
  });

  test('nothing is invented: every after tag was there before or is named by an add/set', () => {
    fc.assert(
      fc.property(beforeArb, rulesArb, (before, rules) => {
        const after = applyOp(before, compose(...rules));
        const allowed = new Set([...before, ...named(rules, 'add'), ...named(rules, 'set')]);
        for (const t of after) expect(allowed.has(t)).toBe(true);
        expect(normalizeTags(after)).toEqual(after);
      }),
    );
  });

  test('composing the rules then applying = applying the rules one by one (same members)', () => {
    fc.assert(
      fc.property(beforeArb, rulesArb, (before, rules) => {
        const composed = applyOp(before, compose(...rules));
        const stepwise = rules.reduce<string[]>((tags, r) => applyRuleDirectly(tags, r), before);
        expect(sameTags(composed, stepwise)).toBe(true);
      }),
    );
  });

  test('composition is associative with resolution: composing a prefix, applying it, then the rest', () => {
    fc.assert(
      fc.property(beforeArb, rulesArb, fc.nat(), (before, rules, cut) => {
        const k = cut % (rules.length + 1);
        const head = rules.slice(0, k);
        const tail = rules.slice(k);
        const mid = head.length > 0 ? applyOp(before, compose(...head)) : before;
        const end = tail.length > 0 ? applyOp(mid, compose(...tail)) : mid;
        expect(sameTags(end, applyOp(before, compose(...rules)))).toBe(true);
      }),
    );
  });

  test('opToRule(op) re-composed gives the same op and the same effect', () => {
    fc.assert(
      fc.property(beforeArb, opArb, (before, op) => {
        const rule = opToRule('i', op);
        expect(['clear', 'set', 'add', 'remove'].some((k) => k in rule)).toBe(true);
        const again = applyRule(undefined, rule);
        expect(again).toEqual(op);
        expect(applyOp(before, again)).toEqual(applyOp(before, op));
      }),
    );
  });

  test('resolveTarget: unchanged exactly when after has the same members as before', () => {
    fc.assert(
      fc.property(beforeArb, opArb, (before, op) => {
        const entry = resolveTarget({ id: 'i', op }, before);
        expect(entry.action === 'unchanged').toBe(sameTags(before, entry.after!));
        expect(entry.after).toEqual(applyOp(before, op));
      }),
    );
  });
});
