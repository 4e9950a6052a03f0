/**
 * IdMarks: the set of ids a scan has seen or settled, a bitmap over the source's own numbering
 * (no copy of the ids), with a Set for ids the source does not number.
 */
import { describe, expect, it } from '@jest/globals';
import { IdMarks } from '../src/runner/id-marks.js';

const numbered = (ids: string[]) => {
  const index = new Map(ids.map((id, k) => [id, k]));
  return { idCount: ids.length, indexOf: (id: string) => index.get(id) };
};

describe('IdMarks', () => {
  it('marks numbered ids once each, and counts them', () => {
    const marks = new IdMarks(numbered(['a', 'b', 'c']));
    expect(marks.has('b')).toBe(false);
    expect(marks.add('b')).toBe(true);
    expect(marks.add('b')).toBe(false);
    expect(marks.has('b')).toBe(true);
    expect(marks.has('a')).toBe(false);
    expect(marks.has('c')).toBe(false);
    expect(marks.size).toBe(1);
  });

  it('keeps ids the index does not number in a set, beside the numbered ones', () => {
    const marks = new IdMarks(numbered(['a']));
    expect(marks.add('zz')).toBe(true);
    expect(marks.add('zz')).toBe(false);
    expect(marks.add('a')).toBe(true);
    expect(marks.has('zz')).toBe(true);
    expect(marks.has('a')).toBe(true);
    expect(marks.has('yy')).toBe(false);
    expect(marks.size).toBe(2);
  });

  it('works as a plain set without an index (apply, undo)', () => {
    const marks = new IdMarks({ idCount: 2 });
    expect(marks.add('x')).toBe(true);
    expect(marks.add('x')).toBe(false);
    expect(marks.has('x')).toBe(true);
    expect(marks.size).toBe(1);
  });

  it('tells apart ids that share their first characters (the index, not a prefix, decides)', () => {
    const marks = new IdMarks(numbered(['img-1', 'img-10', 'img-100']));
    marks.add('img-10');
    expect([marks.has('img-1'), marks.has('img-10'), marks.has('img-100')]).toEqual([false, true, false]);
  });
});
