/**
 * Library-wide rules (`where`) and `rename` (design.md §2): validation, the JSON and NDJSON
 * readers, --no-read, and what loadManifest hands over.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  formatProblem,
  loadManifest,
  readRules,
  validateManifest,
  validateRuleObject,
  type ManifestOptions,
  type ManifestProblem,
  type Rule,
} from '../src/manifest/index.js';

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-where-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
async function write(ext: string, content: string): Promise<string> {
  const file = join(dir, `w${++counter}${ext}`);
  await writeFile(file, content);
  return file;
}

async function readAll(file: string, opts?: ManifestOptions): Promise<{ rules: Rule[]; problems: string[] }> {
  const rules: Rule[] = [];
  const problems: string[] = [];
  for await (const item of readRules(file, opts)) {
    if ('rule' in item) rules.push(item.rule);
    else problems.push(formatProblem({ ...item.problem, source: { ...item.problem.source, file: '' } }).replace(/^:/, ''));
  }
  return { rules, problems };
}

const loc = { file: 'm.ndjson', line: 4 };

function messages(result: Rule | ManifestProblem[]): string[] {
  if (!Array.isArray(result)) throw new Error(`expected problems, got ${JSON.stringify(result)}`);
  return result.map(formatProblem);
}

describe('where: accepted', () => {
  it.each<[string, unknown, Omit<Rule, 'source'>]>([
    ['the design example (rename)', { where: { tag: 'summer' }, rename: { summer: 'summer-2026' } }, {
      where: { tag: 'summer' },
      rename: { summer: 'summer-2026' },
    }],
    ['the design example (any → remove)', { where: { any: ['draft', 'wip'] }, remove: ['draft', 'wip'] }, {
      where: { any: ['draft', 'wip'] },
      remove: ['draft', 'wip'],
    }],
    ['{} selects every image', { where: {}, add: ['reviewed'] }, { where: {}, add: ['reviewed'] }],
    ['every key at once, tags normalised', {
      where: { tag: ' a ', all: ['b', ' b', 'c'], any: ['d'], none: ['e'], id_prefix: 'img-', untagged: false },
      set: ['x'],
    }, {
      where: { tag: 'a', all: ['b', 'c'], any: ['d'], none: ['e'], id_prefix: 'img-', untagged: false },
      set: ['x'],
    }],
    ['untagged: true', { where: { untagged: true }, add: ['needs-tags'] }, { where: { untagged: true }, add: ['needs-tags'] }],
    ['with clear and every operation', { where: { tag: 'x' }, clear: true, set: ['a'], rename: { a: 'b' }, add: ['c'], remove: ['d'] }, {
      where: { tag: 'x' },
      clear: true,
      set: ['a'],
      rename: { a: 'b' },
      add: ['c'],
      remove: ['d'],
    }],
    ['annotations beside where', { where: { tag: 'x' }, remove: ['x'], _why: 'retired' }, { where: { tag: 'x' }, remove: ['x'] }],
  ])('%s', (_name, obj, expected) => {
    expect(validateRuleObject(obj, loc)).toEqual({ ...expected, source: loc });
  });
});

describe('where: rejected', () => {
  it.each<[string, unknown, string[], ManifestOptions?]>([
    ['both id and where', { id: 'img-1', where: { tag: 'a' }, add: ['x'] }, [
      'm.ndjson:4: a rule names its image with id or selects images with where, not both',
    ]],
    ['neither id nor where', { add: ['x'] }, ['m.ndjson:4: id is missing']],
    ['where null', { where: null, add: ['x'] }, [
      'm.ndjson:4: where: where must be an object such as {"tag": "summer"} ({} selects every image), got null',
    ]],
    ['where a string', { where: 'summer', add: ['x'] }, [
      'm.ndjson:4: where: where must be an object such as {"tag": "summer"} ({} selects every image), got a string ("summer")',
    ]],
    ['unknown where keys, with did-you-mean', { where: { tags: 'a', 'id-prefix': 'x', colour: 'red' }, add: ['x'] }, [
      'm.ndjson:4: where: unknown where key "tags" (did you mean "tag"?); where takes tag, all, any, none, id_prefix, untagged',
      'm.ndjson:4: where: unknown where key "id-prefix" (did you mean "id_prefix"?); where takes tag, all, any, none, id_prefix, untagged',
      'm.ndjson:4: where: unknown where key "colour"; where takes tag, all, any, none, id_prefix, untagged',
    ]],
    ['an annotation key inside where is unknown too', { where: { _note: 'x' }, add: ['x'] }, [
      'm.ndjson:4: where: unknown where key "_note"; where takes tag, all, any, none, id_prefix, untagged',
    ]],
    ['wrong types', { where: { tag: ['a'], all: 'b', any: [1], none: null, id_prefix: 7, untagged: 'yes' }, add: ['x'] }, [
      'm.ndjson:4: where.tag: where.tag must be a tag (a string), got an array',
      'm.ndjson:4: where.all: where.all must be an array of strings, got a string ("b") (write "all": ["b"])',
      'm.ndjson:4: where.any[0]: tag is not a string (got a number (1))',
      'm.ndjson:4: where.none: where.none must be an array of strings, got null',
      'm.ndjson:4: where.id_prefix: where.id_prefix must be a string, got a number (7)',
      'm.ndjson:4: where.untagged: where.untagged must be true or false, got a string ("yes")',
    ]],
    ['untagged must be a boolean, not 1', { where: { untagged: 1 }, add: ['x'] }, [
      'm.ndjson:4: where.untagged: where.untagged must be true or false, got a number (1)',
    ]],
    ['empty selectors never mean "everything"', { where: { tag: ' ', all: [], any: ['', ' '], id_prefix: '' }, add: ['x'] }, [
      'm.ndjson:4: where.tag: where.tag is empty: give a tag (to select every image write "where": {})',
      'm.ndjson:4: where.all: where.all holds no tag: give at least one (to select every image write "where": {})',
      'm.ndjson:4: where.any: where.any holds no tag: give at least one',
      'm.ndjson:4: where.id_prefix: where.id_prefix is empty (to select every image write "where": {})',
    ]],
    ['bad characters in where', { where: { tag: 'a\u0000', none: ['ok', 'b\u200b'], id_prefix: 'img/' }, add: ['x'] }, [
      'm.ndjson:4: where.tag: tag "a\\u0000" contains U+0000 (a control character)',
      'm.ndjson:4: where.none[1]: tag "b\\u200b" contains U+200B (a format character)',
      'm.ndjson:4: where.id_prefix: id_prefix "img/" contains "/" (not allowed: / ? # %)',
    ]],
    ['an id_prefix with a format character', { where: { id_prefix: 'img\u2060' }, add: ['x'] }, [
      'm.ndjson:4: where.id_prefix: id_prefix "img\\u2060" contains U+2060 (a format character)',
    ]],
    ['a where tag longer than --max-tag-length', { where: { tag: 'abcdef' }, add: ['x'] }, [
      'm.ndjson:4: where.tag: tag "abcdef" is longer than 5 characters (6); see --max-tag-length',
    ], { maxTagLength: 5 }],
    ['where without an operation', { where: { tag: 'a' } }, [
      'm.ndjson:4: rule has no operation: give at least one of clear, set, rename, add, remove',
    ]],
    ['a where key written at the top level', { tag: 'summer', rename: { summer: 'x' } }, [
      'm.ndjson:4: id is missing',
      'm.ndjson:4: unknown key "tag" (did you mean "where": {"tag": …}?); keys starting with "_" are annotations',
    ]],
    ['"were" suggests where', { were: { tag: 'a' }, add: ['x'] }, [
      'm.ndjson:4: id is missing',
      'm.ndjson:4: unknown key "were" (did you mean "where"?); keys starting with "_" are annotations',
    ]],
  ])('%s', (...[, obj, expected, opts]) => {
    expect(messages(validateRuleObject(obj, loc, opts))).toEqual(expected);
  });
});

describe('rename', () => {
  it.each<[string, unknown, Record<string, string>]>([
    ['one pair', { id: 'a', rename: { old: 'new' } }, { old: 'new' }],
    ['a swap (pairs apply at once)', { id: 'a', rename: { a: 'b', b: 'a' } }, { a: 'b', b: 'a' }],
    ['both sides trimmed', { id: 'a', rename: { ' old ': ' new ' } }, { old: 'new' }],
    ['a chain in one rule', { id: 'a', rename: { a: 'b', b: 'c' } }, { a: 'b', b: 'c' }],
    ['an empty map (a no-op, like add: [])', { id: 'a', rename: {} }, {}],
    ['unicode tags, NFC on both sides', { id: 'a', rename: { 'cafe\u0301': 'caf\u00e9-2026' } }, { 'caf\u00e9': 'caf\u00e9-2026' }],
  ])('accepts %s', (_name, obj, rename) => {
    const result = validateRuleObject(obj, loc);
    expect(result).toEqual({ id: 'a', rename, source: loc });
  });

  it('keeps the pairs in the order written', () => {
    const result = validateRuleObject({ id: 'a', rename: { z: 'y', m: 'n', a: 'b' } }, loc) as Rule;
    expect(Object.keys(result.rename!)).toEqual(['z', 'm', 'a']);
  });

  it('a tag named like an Object.prototype member is an own pair, not the prototype', () => {
    const result = validateRuleObject(JSON.parse('{"id":"a","rename":{"__proto__":"p","constructor":"c"}}'), loc) as Rule;
    expect(Object.entries(result.rename!)).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
    ]);
    expect(Object.getPrototypeOf(result.rename)).toBe(Object.prototype);
    expect(Object.hasOwn(result.rename!, 'toString')).toBe(false);
  });

  it.each<[string, unknown, string[], ManifestOptions?]>([
    ['not an object', { id: 'a', rename: [['a', 'b']] }, [
      'm.ndjson:4: rename: rename must be an object mapping old tags to new ones, such as {"old": "new"}, got an array',
    ]],
    ['a string', { id: 'a', rename: 'a=b' }, [
      'm.ndjson:4: rename: rename must be an object mapping old tags to new ones, such as {"old": "new"}, got a string ("a=b")',
    ]],
    ['an empty new name never deletes', { id: 'a', rename: { old: '', other: '  ' } }, [
      'm.ndjson:4: rename.old: the new name of "old" is empty: a rename never deletes a tag (to drop it, use remove)',
      'm.ndjson:4: rename.other: the new name of "other" is empty: a rename never deletes a tag (to drop it, use remove)',
    ]],
    ['a new name that is not a string', { id: 'a', rename: { old: null, x: ['y'] } }, [
      'm.ndjson:4: rename.old: the new name of "old" must be a tag (a string), got null',
      'm.ndjson:4: rename.x: the new name of "x" must be a tag (a string), got an array',
    ]],
    ['renamed to itself (also once trimmed)', { id: 'a', rename: { a: 'a', b: ' b ' } }, [
      'm.ndjson:4: rename.a: "a" is renamed to itself: the new name must differ from the old one',
      'm.ndjson:4: rename.b: "b" is renamed to itself: the new name must differ from the old one',
    ]],
    ['the same old tag twice once normalised', { id: 'a', rename: { a: 'b', ' a': 'c' } }, [
      'm.ndjson:4: rename[" a"]: "a" is renamed twice in this rule (keys equal once trimmed and NFC-normalised)',
    ]],
    ['an empty old tag', { id: 'a', rename: { '': 'x' } }, ['m.ndjson:4: rename[""]: the tag to rename is empty']],
    ['bad characters on either side', { id: 'a', rename: { 'a\u202eb': 'c', d: 'e\u0007', f: 'g\udc00' } }, [
      'm.ndjson:4: rename["a\\u202eb"]: tag "a\\u202eb" contains U+202E (a format character)',
      'm.ndjson:4: rename.d: tag "e\\u0007" contains U+0007 (a control character)',
      'm.ndjson:4: rename.f: tag "g\\udc00" contains U+DC00 (a lone surrogate, which is not valid Unicode)',
    ]],
    ['a new name longer than --max-tag-length', { id: 'a', rename: { a: 'abcdef' } }, [
      'm.ndjson:4: rename.a: tag "abcdef" is longer than 5 characters (6); see --max-tag-length',
    ], { maxTagLength: 5 }],
  ])('rejects %s', (...[, obj, expected, opts]) => {
    expect(messages(validateRuleObject(obj, loc, opts))).toEqual(expected);
  });
});

describe('--no-read (requireSetOnly)', () => {
  const noRead = { requireSetOnly: true };
  it.each<[string, unknown, string[]]>([
    ['a where rule, whatever its operation', { where: { tag: 'a' }, set: ['b'] }, [
      'm.ndjson:4: a library-wide rule (where) selects images by their current tags, which --no-read does not read; drop --no-read',
    ]],
    ['where {} with clear', { where: {}, clear: true }, [
      'm.ndjson:4: a library-wide rule (where) selects images by their current tags, which --no-read does not read; drop --no-read',
    ]],
    ['rename in an id rule', { id: 'a', rename: { a: 'b' } }, ['m.ndjson:4: rename needs the current tags; drop --no-read']],
    ['rename and add in a where rule: every reason', { where: { tag: 'a' }, rename: { a: 'b' }, add: ['c'] }, [
      'm.ndjson:4: add/remove need the current tags; drop --no-read',
      'm.ndjson:4: rename needs the current tags; drop --no-read',
      'm.ndjson:4: a library-wide rule (where) selects images by their current tags, which --no-read does not read; drop --no-read',
    ]],
  ])('rejects %s', (_name, obj, expected) => {
    expect(messages(validateRuleObject(obj, loc, noRead))).toEqual(expected);
  });

  it('still accepts id rules with set and clear', () => {
    expect(validateRuleObject({ id: 'a', set: ['x'] }, loc, noRead)).toEqual({ id: 'a', set: ['x'], source: loc });
    expect(validateRuleObject({ id: 'a', clear: true }, loc, noRead)).toEqual({ id: 'a', clear: true, source: loc });
  });
});

describe('readers', () => {
  it('NDJSON: where and rename rules with their lines, in file order among id rules', async () => {
    const file = await write(
      '.ndjson',
      [
        '{"where":{"tag":"summer"},"rename":{"summer":"summer-2026"}}',
        '{"id":"img-5","add":["summer"]}',
        '',
        '{"where":{"any":["draft","wip"]},"remove":["draft","wip"]}',
      ].join('\n'),
    );
    const { rules, problems } = await readAll(file);
    expect(problems).toEqual([]);
    expect(rules).toEqual([
      { where: { tag: 'summer' }, rename: { summer: 'summer-2026' }, source: { file, line: 1 } },
      { id: 'img-5', add: ['summer'], source: { file, line: 2 } },
      { where: { any: ['draft', 'wip'] }, remove: ['draft', 'wip'], source: { file, line: 4 } },
    ]);
  });

  it('JSON array: where and rename rules with their paths', async () => {
    const file = await write('.json', JSON.stringify([{ where: {}, add: ['x'] }, { id: 'img-1', rename: { a: 'b' } }]));
    const { rules, problems } = await readAll(file);
    expect(problems).toEqual([]);
    expect(rules).toEqual([
      { where: {}, add: ['x'], source: { file, path: '$[0]' } },
      { id: 'img-1', rename: { a: 'b' }, source: { file, path: '$[1]' } },
    ]);
  });

  it('a duplicate key inside rename or where is a problem, not a silently lost pair', async () => {
    const nd = await readAll(await write('.ndjson', '{"id":"a","rename":{"x":"y","x":"z"}}\n{"where":{"tag":"a","tag":"b"},"add":["x"]}\n'));
    expect(nd.rules).toEqual([]);
    expect(nd.problems).toEqual([
      '1: rename: duplicate key "x": JSON keeps only the last one',
      '2: where: duplicate key "tag": JSON keeps only the last one',
    ]);
    const js = await readAll(await write('.json', '[{"id":"a","rename":{"x":"y","x":"z"}},{"where":{"tag":"a","tag":"b"},"add":["x"]}]'));
    expect(js.rules).toEqual([]);
    expect(js.problems).toEqual([
      '$[0].rename: duplicate key "x": JSON keeps only the last one',
      '$[1].where: duplicate key "tag": JSON keeps only the last one',
    ]);
    // In the object map form too.
    const map = await readAll(await write('.json', '{"img-1": {"rename": {"x": "y", "x": "z"}}}'));
    expect(map.problems).toEqual(['$["img-1"].rename: duplicate key "x": JSON keeps only the last one']);
  });

  it('the JSON object map form stays id-only (rename is fine there, where is not)', async () => {
    const { rules, problems } = await readAll(
      await write('.json', '{"img-1": {"where": {"tag": "a"}, "add": ["x"]}, "img-2": {"rename": {"a": "b"}}}'),
    );
    expect(problems).toEqual([
      '$["img-1"].where: the object map form names each image by its key: a library-wide rule (where) goes in an array of rules',
    ]);
    expect(rules.map(({ source: _s, ...r }) => r)).toEqual([{ id: 'img-2', rename: { a: 'b' } }]);
  });

  it('a lone where rule in a .json file is recognised as a single rule', async () => {
    const { problems } = await readAll(await write('.json', '{"where": {"tag": "a"}, "rename": {"a": "b"}}'));
    expect(problems).toEqual([
      '$: this looks like a single rule: a JSON manifest is an array of rules (wrap it in [ ]) or an object mapping ids to rules',
    ]);
  });

  it('--no-read rejects where and rename rules in every format', async () => {
    const nd = await readAll(await write('.ndjson', '{"where":{},"clear":true}\n{"id":"a","rename":{"x":"y"}}\n{"id":"b","set":["s"]}\n'), {
      requireSetOnly: true,
    });
    expect(nd.problems.map((p) => p.replace(/:.*/, ''))).toEqual(['1', '2']);
    expect(nd.rules.map((r) => r.id)).toEqual(['b']);
    const js = await readAll(await write('.json', '[{"where":{"tag":"a"},"set":["b"]}]'), { requireSetOnly: true });
    expect(js.problems).toEqual([
      '$[0]: a library-wide rule (where) selects images by their current tags, which --no-read does not read; drop --no-read',
    ]);
    const csv = await readAll(await write('.csv', 'from,to\na,b\n'), { requireSetOnly: true });
    expect(csv.problems).toEqual([
      '1: a rename map is made of library-wide rules, and those select images by their current tags, which --no-read does not read; drop --no-read',
    ]);
    expect(csv.rules).toEqual([]);
  });
});

describe('loadManifest and validateManifest', () => {
  it('hands the library-wide rules over in file order; targets compose the id rules; ruleCount counts both', async () => {
    const file = await write(
      '.ndjson',
      [
        '{"where":{"tag":"summer"},"rename":{"summer":"summer-2026"}}',
        '{"id":"img-5","add":["summer"]}',
        '{"where":{"untagged":true},"add":["needs-tags"]}',
        '{"id":"img-5","remove":["old"]}',
      ].join('\n'),
    );
    const loaded = await loadManifest(file);
    expect(loaded.problems).toEqual([]);
    expect(loaded.ruleCount).toBe(4);
    expect(loaded.libraryRules).toEqual([
      { where: { tag: 'summer' }, rename: { summer: 'summer-2026' }, source: { file, line: 1 } },
      { where: { untagged: true }, add: ['needs-tags'], source: { file, line: 3 } },
    ]);
    expect(loaded.targets).toEqual([{ id: 'img-5', op: { kind: 'merge', add: ['summer'], remove: ['old'] } }]);
    expect(loaded.warnings).toEqual([]);
  });

  it('a manifest of library-wide rules only has no targets, and is not empty', async () => {
    const file = await write('.csv', 'from,to\nsummer-2023,summer-2026\n');
    const loaded = await loadManifest(file);
    expect(loaded.problems).toEqual([]);
    expect(loaded.targets).toEqual([]);
    expect(loaded.ruleCount).toBe(1);
    expect(loaded.libraryRules).toHaveLength(1);
    const report = await validateManifest(file);
    expect(report).toMatchObject({ ruleCount: 1, problemCount: 0, problems: [], warnings: [] });
  });
});

describe('properties', () => {
  const tag = fc.stringMatching(/^[a-z0-9 _.:-]{1,10}$/).filter((t) => t.trim() !== '');
  const tags = fc.array(tag, { minLength: 1, maxLength: 3 });
  const where = fc.record(
    {
      tag,
      all: tags,
      any: tags,
      none: tags,
      id_prefix: fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/),
      untagged: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  const rename = fc
    .uniqueArray(fc.tuple(tag, tag), { selector: ([from]) => from.trim(), maxLength: 3 })
    .map((pairs) => Object.fromEntries(pairs.filter(([a, b]) => a.trim() !== b.trim())));
  const rule = fc
    .record({ where, rename, add: tags, remove: tags, set: tags }, { requiredKeys: ['where'] })
    .filter((r) => r.rename !== undefined || r.add !== undefined || r.remove !== undefined || r.set !== undefined);
  const trimList = (l: string[]) => [...new Set(l.map((t) => t.trim()))];

  it('any valid library-wide rule survives NDJSON and JSON, normalised', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rule, { minLength: 1, maxLength: 5 }), async (rules) => {
        const expected = rules.map((r) => {
          const w: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(r.where)) w[k] = Array.isArray(v) ? trimList(v) : typeof v === 'string' && k === 'tag' ? v.trim() : v;
          const out: Record<string, unknown> = { where: w };
          if (r.set) out.set = trimList(r.set);
          if (r.rename) out.rename = Object.fromEntries(Object.entries(r.rename).map(([a, b]) => [a.trim(), b.trim()]));
          if (r.add) out.add = trimList(r.add);
          if (r.remove) out.remove = trimList(r.remove);
          return out;
        });
        for (const file of [
          await write('.ndjson', rules.map((r) => JSON.stringify(r)).join('\n')),
          await write('.json', JSON.stringify(rules)),
        ]) {
          const { rules: got, problems } = await readAll(file);
          expect(problems).toEqual([]);
          expect(got.map(({ source: _s, ...r }) => r)).toEqual(expected);
        }
      }),
      { numRuns: 40 },
    );
  });
});
