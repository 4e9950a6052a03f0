import { describe, expect, test } from '@jest/globals';
import { ListShapeError } from '../src/reimage/errors.js';
import { endOfListing, isEndOfListing, parseListPage } from '../src/reimage/list-parse.js';
import type { ParsedListPage } from '../src/reimage/list-parse.js';

const recs = [
  { object_id: 'a1', tags: ['x', 'y'] },
  { object_id: 'b2', tags: [] },
];
const parsed = [
  { id: 'a1', tags: ['x', 'y'] },
  { id: 'b2', tags: [] },
];

describe('parseListPage: where the records live', () => {
  test.each([
    ['a top-level array', recs],
    ['data', { data: recs }],
    ['images', { images: recs }],
    ['items', { items: recs }],
    ['results', { results: recs }],
    ['objects', { objects: recs }],
    ['one level nested', { data: { items: recs } }],
  ])('%s', (_name, body) => {
    expect(parseListPage(body).records).toEqual(parsed);
  });

  test('the first record key holding an array wins, in the documented order', () => {
    const body = { results: [{ id: 'r', tags: [] }], data: [{ id: 'd', tags: [] }] };
    expect(parseListPage(body).records.map((r) => r.id)).toEqual(['d']);
  });

  test('an empty array is an empty page', () => {
    expect(parseListPage([])).toEqual({ records: [], meta: {} });
    expect(parseListPage({ data: [], total: 0 })).toEqual({ records: [], meta: { total: 0 } });
  });
});

describe('parseListPage: records', () => {
  test.each<[string, unknown, { id: string; tags: string[] | null; tagsFromString?: true }]>([
    ['object_id + array', { object_id: 'a', tags: ['t1', 't2'] }, { id: 'a', tags: ['t1', 't2'] }],
    ['id instead of object_id', { id: 'a', tags: ['t'] }, { id: 'a', tags: ['t'] }],
    ['object_id preferred over id', { object_id: 'o', id: 'i', tags: [] }, { id: 'o', tags: [] }],
    ['numeric id', { id: 42, tags: [] }, { id: '42', tags: [] }],
    ['comma-joined string', { object_id: 'a', tags: 'product, hero,,sale ' }, { id: 'a', tags: ['product', 'hero', 'sale'], tagsFromString: true }],
    ['empty string → []', { object_id: 'a', tags: '' }, { id: 'a', tags: [], tagsFromString: true }],
    ['empty array', { object_id: 'a', tags: [] }, { id: 'a', tags: [] }],
    ['tags absent → null', { object_id: 'a', folder: 'x' }, { id: 'a', tags: null }],
    ['tags null → null', { object_id: 'a', tags: null }, { id: 'a', tags: null }],
    ['array tags kept verbatim (no trimming, order kept)', { object_id: 'a', tags: ['b', ' a', 'b'] }, { id: 'a', tags: ['b', ' a', 'b'] }],
    [
      'a file URL string',
      'https://files.reimage.dev/bucket1/abc123/original',
      { id: 'abc123', tags: null },
    ],
    ['a file URL with a trailing slash', 'https://files.reimage.dev/bucket1/abc123/', { id: 'abc123', tags: null }],
  ])('%s', (_name, record, expected) => {
    expect(parseListPage([record]).records).toEqual([expected]);
  });

  test('the array given is not the array returned (no aliasing)', () => {
    const tags = ['a'];
    const page = parseListPage([{ id: 'x', tags }]);
    expect(page.records[0]!.tags).not.toBe(tags);
  });
});

describe('parseListPage: metadata', () => {
  test.each<[string, Record<string, unknown>, object]>([
    ['total', { total: 45 }, { total: 45 }],
    ['total_count', { total_count: 45 }, { total: 45 }],
    ['totalCount', { totalCount: 45 }, { total: 45 }],
    ['count larger than the page is a total', { count: 45 }, { total: 45 }],
    ['count equal to the page length is ambiguous: ignored', { count: 2 }, {}],
    ['total wins over count', { total: 45, count: 2 }, { total: 45 }],
    ['numeric string', { total: '45' }, { total: 45 }],
    ['total_pages', { total_pages: 3 }, { totalPages: 3 }],
    ['pages', { pages: 3 }, { totalPages: 3 }],
    ['page_count', { page_count: 3 }, { totalPages: 3 }],
    ['totalPages', { totalPages: 3 }, { totalPages: 3 }],
    ['has_more false', { has_more: false }, { hasMore: false }],
    ['hasMore true', { hasMore: true }, { hasMore: true }],
    ['has_next', { has_next: false }, { hasMore: false }],
    ['next null → false', { next: null }, { hasMore: false }],
    ['next URL → true', { next: '/get/?page=2' }, { hasMore: true }],
    ['next page number → true', { next: 2 }, { hasMore: true }],
    ['page', { page: 2 }, { page: 2 }],
    ['in a meta object', { meta: { total: 45, page: 1 } }, { total: 45, page: 1 }],
    ['in a pagination object', { pagination: { total_pages: 4, has_more: true } }, { totalPages: 4, hasMore: true }],
    ['negative and fractional numbers ignored', { total: -1, total_pages: 2.5 }, {}],
  ])('%s', (_name, extra, meta) => {
    expect(parseListPage({ data: recs, ...extra }).meta).toEqual(meta);
  });
});

describe('parseListPage: garbage → ListShapeError with an excerpt', () => {
  test.each<[string, unknown, RegExp]>([
    ['null', null, /body is null/],
    ['a number', 42, /body is number/],
    ['a string', 'hello', /body is string/],
    ['an object without records', { status: 'ok', foo: 1 }, /no array of records.*status, foo/],
    ['an empty object', {}, /no array of records found \(keys: none\)/],
    ['a record without an id', [{ tags: [] }], /record 0 has no object_id or id/],
    ['an empty id', [{ id: '', tags: [] }], /record 0 has no object_id or id/],
    ['a record that is a number', [{ id: 'a', tags: [] }, 7], /record 1 is not an object/],
    ['a non-URL string record', ['abc'], /record 0 is a string/],
    ['a non-string tag', [{ id: 'a', tags: ['x', 3] }], /record 0 has a tag that is not a string/],
    ['tags as an object', [{ id: 'a', tags: { a: 1 } }], /record 0 has tags of type object/],
  ])('%s', (_name, body, message) => {
    let caught: unknown;
    try {
      parseListPage(body);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ListShapeError);
    const err = caught as ListShapeError;
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/unrecognised \/get\/ response/);
    expect(typeof err.excerpt).toBe('string');
    expect(Object.keys(err)).not.toContain('excerpt');
  });

  test('the excerpt is the first 2 KB of the body', () => {
    const big = { nothing: 'x'.repeat(10_000) };
    expect(() => parseListPage(big)).toThrow(ListShapeError);
    let caught: unknown;
    try {
      parseListPage(big);
    } catch (err) {
      caught = err;
    }
    // Checked outside the catch, so a parse that does not throw fails here.
    expect(caught).toBeInstanceOf(ListShapeError);
    const e = caught as ListShapeError;
    expect(e.excerpt.length).toBe(2048);
    expect(e.excerpt.startsWith('{"nothing":"xxx')).toBe(true);
    expect(JSON.stringify(e)).not.toContain('xxxxxxxxxx');
  });
});

function page(ids: string[], meta: ParsedListPage['meta'] = {}): ParsedListPage {
  return { records: ids.map((id) => ({ id, tags: [] })), meta };
}

describe('endOfListing', () => {
  test.each<[string, Parameters<typeof endOfListing>[0], ReturnType<typeof endOfListing>]>([
    ['an empty page ends', { current: page([]), page: 3, pageSize: 10, seen: 20 }, 'empty'],
    ['empty ends even if has_more says true', { current: page([], { hasMore: true }), page: 3, seen: 20 }, 'empty'],
    ['a page repeating the previous ends', { previousIds: ['a', 'b'], current: page(['a', 'b']), page: 2, seen: 2 }, 'repeated'],
    ['repeat in another order ends', { previousIds: ['a', 'b'], current: page(['b', 'a']), page: 2, seen: 2 }, 'repeated'],
    ['a different page goes on', { previousIds: ['a', 'b'], current: page(['c', 'd']), page: 2, seen: 4 }, null],
    ['overlapping but not equal goes on', { previousIds: ['a', 'b'], current: page(['b', 'c']), page: 2, seen: 3 }, null],
    [
      'a short page is NOT the end by itself',
      { current: page(['a', 'b']), page: 1, pageSize: 100, seen: 2 },
      null,
    ],
    ['has_more false ends', { current: page(['a'], { hasMore: false }), page: 1, seen: 1 }, 'has_more_false'],
    ['has_more true goes on despite a total', { current: page(['a'], { hasMore: true, total: 1 }), page: 1, seen: 1 }, null],
    ['page = totalPages ends', { current: page(['a'], { totalPages: 3 }), page: 3, seen: 30 }, 'last_page'],
    ['page < totalPages goes on', { current: page(['a'], { totalPages: 3 }), page: 2, seen: 20 }, null],
    ['seen = total ends', { current: page(['a'], { total: 45 }), page: 5, pageSize: 10, seen: 45 }, 'total_reached'],
    [
      'server-capped page size: page*pageSize ≥ total but seen < total goes on',
      { current: page(['a'], { total: 45 }), page: 1, pageSize: 100, seen: 20 },
      null,
    ],
  ])('%s', (_name, check, expected) => {
    expect(endOfListing(check)).toBe(expected);
    expect(isEndOfListing(check)).toBe(expected !== null);
  });
});
