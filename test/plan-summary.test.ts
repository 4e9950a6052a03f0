import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { renderPlan, showTag } from '../src/plan/render.js';
import { PlanStats, summarizePlan, tagsNotIn } from '../src/plan/summary.js';
import type { PlanEntry } from '../src/plan/types.js';

const upd = (id: string, before: string[] | null, after: string[]): PlanEntry => ({ id, before, after, action: 'update' });
const same = (id: string, tags: string[]): PlanEntry => ({ id, before: tags, after: tags, action: 'unchanged' });
const missing = (id: string): PlanEntry => ({ id, before: null, after: null, action: 'not_found' });

describe('PlanStats', () => {
  test('counts actions, per-tag additions and removals (sorted desc, ties by tag) and samples', () => {
    const stats = new PlanStats({ samples: 2 });
    stats.add(upd('i1', ['a', 'b'], ['a', 'c']));
    stats.add(same('i2', ['x']));
    stats.add(upd('i3', ['b'], ['c', 'd']));
    stats.add(missing('i4'));
    stats.add(upd('i5', ['b', 'z'], ['z', 'd', 'c']));
    const s = stats.result();
    expect(s.total).toBe(5);
    expect(s.actions).toEqual({ update: 3, unchanged: 1, not_found: 1, conflict: 0 });
    expect(s.changing).toBe(3);
    expect(s.unread).toBe(0);
    expect(s.added).toEqual([
      { tag: 'c', count: 3 },
      { tag: 'd', count: 2 },
    ]);
    expect(s.removed).toEqual([{ tag: 'b', count: 3 }]);
    expect(s.samples).toEqual([
      { id: 'i1', before: ['a', 'b'], after: ['a', 'c'], added: ['c'], removed: ['b'] },
      { id: 'i3', before: ['b'], after: ['c', 'd'], added: ['c', 'd'], removed: ['b'] },
    ]);
  });

  test('--no-read updates are counted as unread and kept out of tag counts', () => {
    const s = summarizePlan([upd('i1', null, ['a']), upd('i2', ['a'], ['b'])]);
    expect(s.unread).toBe(1);
    expect(s.added).toEqual([{ tag: 'b', count: 1 }]);
    expect(s.samples[0]).toEqual({ id: 'i1', before: null, after: ['a'], added: [], removed: [] });
  });

  test('result() is a snapshot: adding later does not change it, and samples are copies', () => {
    const before = ['a'];
    const stats = new PlanStats();
    stats.add(upd('i1', before, ['b']));
    const first = stats.result();
    stats.add(upd('i2', ['a'], ['b']));
    expect(first.changing).toBe(1);
    before.push('mutated');
    expect(stats.result().samples[0]!.before).toEqual(['a']);
  });

  test('samples: 0 keeps none; default keeps 10', () => {
    const entries = Array.from({ length: 15 }, (_, i) => upd(`i${i}`, [], ['t']));
    expect(summarizePlan(entries, { samples: 0 }).samples).toEqual([]);
    expect(summarizePlan(entries).samples.map((s) => s.id)).toEqual(entries.slice(0, 10).map((e) => e.id));
  });

  test('property: tag counts equal the per-image differences', () => {
    const tag = fc.constantFrom('a', 'b', 'c', 'd');
    const entryArb = fc
      .tuple(fc.uniqueArray(tag), fc.uniqueArray(tag))
      .map(([before, after]): PlanEntry => ({ id: 'i', before, after, action: 'update' }));
    fc.assert(
      fc.property(fc.array(entryArb), (entries) => {
        const s = summarizePlan(entries);
        for (const { tag: t, count } of s.added) {
          expect(count).toBe(entries.filter((e) => e.after!.includes(t) && !e.before!.includes(t)).length);
        }
        const addedTotal = entries.reduce((n, e) => n + tagsNotIn(e.after!, e.before!).length, 0);
        expect(s.added.reduce((n, c) => n + c.count, 0)).toBe(addedTotal);
        for (let i = 1; i < s.removed.length; i++) expect(s.removed[i - 1]!.count).toBeGreaterThanOrEqual(s.removed[i]!.count);
      }),
    );
  });
});

describe('renderPlan', () => {
  const summary = summarizePlan(
    [
      upd('img-1', ['a', 'b'], ['a', 'c']),
      same('img-2', ['x']),
      upd('img-longer-id', ['b'], ['c', 'summer sale', 'x,y']),
      missing('img-4'),
      upd('img-5', ['b', 'z'], ['z', 'c']),
    ],
    { samples: 2 },
  );

  test('headline, aligned tag tables, samples with diffs', () => {
    const text = renderPlan(summary);
    expect(text).toBe(
      [
        '3 images change, 1 unchanged, 1 not found (5 images considered)',
        '',
        'Tags added (images):',
        '  +c            3',
        '  +summer sale  1',
        '  +"x,y"        1',
        '',
        'Tags removed (images):',
        '  −b  3',
        '',
        'Samples:',
        '  img-1:         [a, b] → [a, c]  (+c −b)',
        '  img-longer-id: [b] → [c, summer sale, "x,y"]  (+c +summer sale +"x,y" −b)',
        '  …and 1 more image changing',
        '',
      ].join('\n'),
    );
  });

  test('topTags limits the tables', () => {
    const text = renderPlan(summary, { topTags: 1 });
    expect(text).toContain('  +c  3\n  …and 2 other tags');
  });

  test('nothing to change; singulars; --no-read', () => {
    expect(renderPlan(summarizePlan([same('a', ['x'])]))).toBe('0 images change, 1 unchanged, 0 not found (1 image considered)\n');
    const text = renderPlan(summarizePlan([upd('a', null, ['x'])]));
    expect(text).toContain('1 image changes, 0 unchanged');
    expect(text).toContain('1 image is set without reading current tags (--no-read)');
    expect(text).toContain('  a: (not read) → [x]\n');
  });

  test('a reordering-only sample says so', () => {
    expect(renderPlan(summarizePlan([upd('a', ['x', 'y'], ['y', 'x'])]))).toContain('[x, y] → [y, x]  (order only)');
  });

  test('showTag quotes only ambiguous tags', () => {
    expect(showTag('plain tag')).toBe('plain tag');
    expect(showTag('a,b')).toBe('"a,b"');
    expect(showTag('[x]')).toBe('"[x]"');
    expect(showTag('')).toBe('""');
  });
});
