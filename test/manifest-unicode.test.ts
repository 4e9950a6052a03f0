/**
 * Unicode in manifests (design.md §2): tags are NFC-normalised and trimmed; ids and tags (in
 * every operation, `where` and `rename`, and in every format) reject control characters, format
 * characters (Cf: zero-width spaces, bidi overrides…) and lone surrogates, with messages that
 * name the code point and show the value escaped.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  badCharacter,
  formatProblem,
  idProblem,
  readRules,
  tagProblem,
  validateRuleObject,
  type Rule,
} from '../src/manifest/index.js';
import { quote } from '../src/manifest/validate-rule.js';
import { normalizeTag, normalizeTags, sameTags } from '../src/plan/normalize.js';

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-unicode-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
async function read(ext: string, content: string): Promise<{ rules: Rule[]; problems: string[] }> {
  const file = join(dir, `u${++counter}${ext}`);
  await writeFile(file, content);
  const rules: Rule[] = [];
  const problems: string[] = [];
  for await (const item of readRules(file)) {
    if ('rule' in item) rules.push(item.rule);
    else problems.push(formatProblem({ ...item.problem, source: { ...item.problem.source, file: '' } }).replace(/^:/, '').trimStart());
  }
  return { rules, problems };
}

const loc = { file: 'm.ndjson', line: 1 };
const strip = (r: Rule | unknown) => {
  if (Array.isArray(r)) throw new Error(`expected a rule, got ${(r as Array<{ message: string }>).map((p) => p.message).join('; ')}`);
  const { source: _s, ...rest } = r as Rule;
  return rest;
};
const problemsOf = (r: unknown): string[] => {
  if (!Array.isArray(r)) throw new Error(`expected problems, got ${JSON.stringify(r)}`);
  return (r as Parameters<typeof formatProblem>[0][]).map(formatProblem);
};

describe('NFC normalisation', () => {
  const decomposed = 'cafe\u0301'; // e + combining acute
  const composed = 'caf\u00e9';

  it('normalizeTag: NFC, then trimmed; pure ASCII untouched but trimmed', () => {
    expect(normalizeTag(decomposed)).toBe(composed);
    expect(normalizeTag(`  ${decomposed}\u00a0`)).toBe(composed);
    expect(normalizeTag('  plain ')).toBe('plain');
    expect(normalizeTag('Ångström')).toBe('Ångström'.normalize('NFC'));
    expect(normalizeTag('\u212b')).toBe('\u00c5'); // ANGSTROM SIGN → Å
    expect(normalizeTag('ﬁ')).toBe('ﬁ'); // NFC, not NFKC: the ligature stays
  });

  it('normalizeTags: tags equal once NFC-normalised are one tag, the first position kept', () => {
    expect(normalizeTags([decomposed, 'x', composed, ` ${composed} `])).toEqual([composed, 'x']);
    expect(sameTags(normalizeTags([decomposed]), [composed])).toBe(true);
  });

  it('in every operation, where and rename, and in every format', async () => {
    expect(strip(validateRuleObject({ id: 'a', set: [decomposed, composed], add: [decomposed], remove: [` ${decomposed}`] }, loc))).toEqual({
      id: 'a',
      set: [composed],
      add: [composed],
      remove: [composed],
    });
    expect(strip(validateRuleObject({ where: { tag: decomposed, any: [decomposed, composed] }, rename: { [decomposed]: `${decomposed}-2026` } }, loc))).toEqual({
      where: { tag: composed, any: [composed] },
      rename: { [composed]: `${composed}-2026` },
    });
    const csv = await read('.csv', `id,tags\nimg-1,${decomposed}|${composed}\n`);
    expect(csv.rules.map(strip)).toEqual([{ id: 'img-1', set: [composed] }]);
    const map = await read('.csv', `from,to\n${decomposed},x\n`);
    expect(map.rules.map(strip)).toEqual([{ where: { tag: composed }, rename: { [composed]: 'x' } }]);
  });

  it('a rename from the decomposed to the composed spelling is a rename to itself', () => {
    expect(problemsOf(validateRuleObject({ id: 'a', rename: { [decomposed]: composed } }, loc))).toEqual([
      `m.ndjson:1: rename["${decomposed}"]: "${composed}" is renamed to itself: the new name must differ from the old one`,
    ]);
  });

  it('the length limit counts characters after NFC', () => {
    const long = 'e\u0301'.repeat(10); // 20 code points as written, 10 once composed
    expect(strip(validateRuleObject({ id: 'a', add: [long] }, loc, { maxTagLength: 10 }))).toEqual({ id: 'a', add: ['\u00e9'.repeat(10)] });
    expect(problemsOf(validateRuleObject({ id: 'a', add: [long + 'x'] }, loc, { maxTagLength: 10 }))[0]).toContain('is longer than 10 characters (11)');
  });

  it('ids are not normalised: they are the server\'s, byte for byte', () => {
    expect(strip(validateRuleObject({ id: `img-${decomposed}`, add: ['x'] }, loc))).toEqual({ id: `img-${decomposed}`, add: ['x'] });
  });

  it('property: normalised tags are NFC, trimmed, non-empty, distinct, and normalising again changes nothing', () => {
    const piece = fc.constantFrom('a', 'e', '\u0301', '\u00e9', ' ', '\u00a0', 'Å', '\u212b', 'x', '日');
    const tag = fc.array(piece, { maxLength: 6 }).map((p) => p.join(''));
    fc.assert(
      fc.property(fc.array(tag, { maxLength: 8 }), (tags) => {
        const out = normalizeTags(tags);
        for (const t of out) {
          expect(t).toBe(t.normalize('NFC'));
          expect(t).toBe(t.trim());
          expect(t).not.toBe('');
        }
        expect(new Set(out).size).toBe(out.length);
        expect(normalizeTags(out)).toEqual(out);
      }),
      { numRuns: 300 },
    );
  });
});

describe('characters that are rejected', () => {
  it.each<[string, string | undefined]>([
    ['plain', undefined],
    ['日本語 😀 café', undefined],
    ['a\u0000b', 'U+0000 (a control character)'],
    ['a\u007fb', 'U+007F (a control character)'],
    ['a\u009bb', 'U+009B (a control character)'], // C1 CSI: would drive a terminal
    ['a\u200bb', 'U+200B (a format character)'], // zero-width space
    ['a\u200db', 'U+200D (a format character)'], // zero-width joiner
    ['a\u2060b', 'U+2060 (a format character)'], // word joiner
    ['a\ufeffb', 'U+FEFF (a format character)'], // zero-width no-break space (BOM)
    ['a\u00adb', 'U+00AD (a format character)'], // soft hyphen
    ['a\u202eb', 'U+202E (a format character)'], // right-to-left override
    ['a\u2066b', 'U+2066 (a format character)'], // left-to-right isolate
    ['a\u{e0041}b', 'U+E0041 (a format character)'], // a tag character, astral
    ['a\ud800b', 'U+D800 (a lone surrogate, which is not valid Unicode)'],
    ['a\udfffb', 'U+DFFF (a lone surrogate, which is not valid Unicode)'],
    ['\ud83d', 'U+D83D (a lone surrogate, which is not valid Unicode)'],
  ])('badCharacter(%j)', (value, expected) => {
    expect(badCharacter(value)).toBe(expected);
  });

  it('messages show the value with the invisible character escaped', () => {
    expect(tagProblem('a\u200bb', { maxTagLength: 256 })).toBe('tag "a\\u200bb" contains U+200B (a format character)');
    expect(idProblem('img-\u202e1')).toBe('id "img-\\u202e1" contains U+202E (a format character)');
    expect(idProblem('img\ud800')).toBe('id "img\\ud800" contains U+D800 (a lone surrogate, which is not valid Unicode)');
    expect(quote('x\u0085\u2028\u{e0001}y')).toBe('"x\\u0085\\u2028\\udb40\\udc01y"');
    expect(quote('café 日本 😀')).toBe('"café 日本 😀"');
  });

  it('a format character is rejected even where whitespace would also match (U+FEFF inside an id)', () => {
    expect(idProblem('a\ufeffb')).toBe('id "a\\ufeffb" contains U+FEFF (a format character)');
  });

  it.each<[string, unknown, string]>([
    ['id', { id: 'img\u200b1', add: ['x'] }, 'm.ndjson:1: id "img\\u200b1" contains U+200B (a format character)'],
    ['set', { id: 'a', set: ['x\u202e'] }, 'm.ndjson:1: set[0]: tag "x\\u202e" contains U+202E (a format character)'],
    ['add', { id: 'a', add: ['ok', 'x\ud800'] }, 'm.ndjson:1: add[1]: tag "x\\ud800" contains U+D800 (a lone surrogate, which is not valid Unicode)'],
    ['remove', { id: 'a', remove: ['x\u2060'] }, 'm.ndjson:1: remove[0]: tag "x\\u2060" contains U+2060 (a format character)'],
    ['rename (old)', { id: 'a', rename: { 'x\u200b': 'y' } }, 'm.ndjson:1: rename["x\\u200b"]: tag "x\\u200b" contains U+200B (a format character)'],
    ['rename (new)', { id: 'a', rename: { x: 'y\u200b' } }, 'm.ndjson:1: rename.x: tag "y\\u200b" contains U+200B (a format character)'],
    ['where.tag', { where: { tag: 'x\u200e' }, add: ['y'] }, 'm.ndjson:1: where.tag: tag "x\\u200e" contains U+200E (a format character)'],
    ['where.all', { where: { all: ['x\u200b'] }, add: ['y'] }, 'm.ndjson:1: where.all[0]: tag "x\\u200b" contains U+200B (a format character)'],
    ['where.none', { where: { none: ['x\udc00'] }, add: ['y'] }, 'm.ndjson:1: where.none[0]: tag "x\\udc00" contains U+DC00 (a lone surrogate, which is not valid Unicode)'],
    ['where.id_prefix', { where: { id_prefix: 'img\u200b' }, add: ['y'] }, 'm.ndjson:1: where.id_prefix: id_prefix "img\\u200b" contains U+200B (a format character)'],
  ])('in %s', (_name, obj, expected) => {
    expect(problemsOf(validateRuleObject(obj, loc))).toEqual([expected]);
  });

  it('lone surrogates written as JSON escapes, in NDJSON and JSON', async () => {
    const nd = await read('.ndjson', '{"id":"img-1","add":["a\\ud800"]}\n{"id":"img-\\udfff","add":["b"]}\n{"id":"img-3","add":["\\ud83d\\ude00"]}\n');
    expect(nd.problems).toEqual([
      '1: add[0]: tag "a\\ud800" contains U+D800 (a lone surrogate, which is not valid Unicode)',
      '2: id "img-\\udfff" contains U+DFFF (a lone surrogate, which is not valid Unicode)',
    ]);
    expect(nd.rules.map(strip)).toEqual([{ id: 'img-3', add: ['😀'] }]); // a pair is a character
    const js = await read('.json', '{"img-\\u200b1": ["x"]}');
    // The path shows the id escaped too: a bidi override in a path would reorder the line.
    expect(js.problems).toEqual(['$["img-\\u200b1"]: id "img-\\u200b1" contains U+200B (a format character)']);
  });

  it('in CSV cells: ids, tags of each layout, rename maps', async () => {
    const tags = await read('.csv', 'id,tags\nimg\u200b1,a\nimg-2,"a|b\u202ec"\n');
    expect(tags.problems).toEqual([
      '2: id "img\\u200b1" contains U+200B (a format character)',
      '3: tag "b\\u202ec" contains U+202E (a format character)',
    ]);
    const lists = await read('.csv', 'id,add,remove\nimg-1,ok,x\u00ad\n');
    expect(lists.problems).toEqual(['2: remove cell: tag "x\\u00ad" contains U+00AD (a format character)']);
    const map = await read('.csv', 'from,to\na\u2066,b\n');
    expect(map.problems).toEqual(['2: from: tag "a\\u2066" contains U+2066 (a format character)']);
  });

  it('a leading or trailing zero-width no-break space is trimmed away, as whitespace is (JS trim)', () => {
    expect(strip(validateRuleObject({ id: 'a', add: ['\ufeffx\ufeff'] }, loc))).toEqual({ id: 'a', add: ['x'] });
  });

  it('unknown keys are shown escaped too', () => {
    expect(problemsOf(validateRuleObject({ id: 'a', add: ['x'], 'ad\u200bd': ['y'] }, loc))).toEqual([
      'm.ndjson:1: unknown key "ad\\u200bd" (did you mean "add"?); keys starting with "_" are annotations',
    ]);
  });
});
