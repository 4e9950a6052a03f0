/**
 * Rule validation (design.md §2 "Validation"), for the cases the mutation run (`npm run
 * mutate`) found unpinned: limits counted in characters (code points) at their exact boundary,
 * U+FFFD, long values cut short in messages, "did you mean" for every operation, and a set that
 * mixes blanks with tags. Messages are written out literally: what a user reads.
 */
import { describe, expect, test } from '@jest/globals';
import { formatProblem, validateRuleObject, type ManifestProblem, type Rule } from '../src/manifest/index.js';
import { ID_AND_WHERE, MAX_ID_LENGTH, quote } from '../src/manifest/validate-rule.js';

const loc = { file: 'm.ndjson', line: 3 };
const messages = (result: Rule | ManifestProblem[]): string[] => {
  if (!Array.isArray(result)) throw new Error(`expected problems, got the rule ${JSON.stringify(result)}`);
  return result.map((p) => formatProblem(p));
};
const accepted = (result: Rule | ManifestProblem[]): Rule => {
  if (Array.isArray(result)) throw new Error(`expected a rule, got ${result.map((p) => p.message).join('; ')}`);
  return result;
};

const EMOJI = '\u{1F600}'; // one character, two UTF-16 units

describe('length limits count characters (code points), at the exact boundary', () => {
  test('the id limit is 256', () => {
    expect(MAX_ID_LENGTH).toBe(256);
  });

  test('an id of exactly 256 characters is fine; 257 is not, and the message gives the count', () => {
    expect(accepted(validateRuleObject({ id: 'i'.repeat(256), add: ['x'] }, loc)).id).toHaveLength(256);
    const id = 'i'.repeat(257);
    expect(messages(validateRuleObject({ id, add: ['x'] }, loc))).toEqual([
      `m.ndjson:3: id "${'i'.repeat(60)}…" is longer than 256 characters (257)`,
    ]);
  });

  test('an id of 200 astral characters (400 UTF-16 units) is fine; 257 of them is not', () => {
    expect(accepted(validateRuleObject({ id: EMOJI.repeat(200), add: ['x'] }, loc)).id).toBe(EMOJI.repeat(200));
    expect(accepted(validateRuleObject({ id: EMOJI.repeat(256), add: ['x'] }, loc)).id).toBe(EMOJI.repeat(256));
    const [message] = messages(validateRuleObject({ id: EMOJI.repeat(257), add: ['x'] }, loc));
    expect(message).toMatch(/is longer than 256 characters \(257\)$/);
  });

  test('a tag of exactly --max-tag-length characters is fine, one more is not; astral characters count once', () => {
    const opts = { maxTagLength: 5 };
    expect(accepted(validateRuleObject({ id: 'a', add: ['abcde'] }, loc, opts)).add).toEqual(['abcde']);
    expect(accepted(validateRuleObject({ id: 'a', add: [EMOJI.repeat(5)] }, loc, opts)).add).toEqual([EMOJI.repeat(5)]);
    expect(accepted(validateRuleObject({ id: 'a', add: [EMOJI.repeat(3)] }, loc, opts)).add).toEqual([EMOJI.repeat(3)]);
    expect(messages(validateRuleObject({ id: 'a', add: ['abcdef'] }, loc, opts))).toEqual([
      'm.ndjson:3: add[0]: tag "abcdef" is longer than 5 characters (6); see --max-tag-length',
    ]);
    expect(messages(validateRuleObject({ id: 'a', add: [EMOJI.repeat(6)] }, loc, opts))).toEqual([
      `m.ndjson:3: add[0]: tag "${EMOJI.repeat(6)}" is longer than 5 characters (6); see --max-tag-length`,
    ]);
  });
});

describe('U+FFFD (text that was not UTF-8) is rejected in ids, id prefixes and tags', () => {
  test.each<[string, unknown, string]>([
    ['an id', { id: 'img-\uFFFD', add: ['x'] }, 'm.ndjson:3: id "img-\uFFFD" contains U+FFFD (a replacement character): is the file UTF-8?'],
    ['a tag', { id: 'a', add: ['caf\uFFFD'] }, 'm.ndjson:3: add[0]: tag "caf\uFFFD" contains U+FFFD (a replacement character): is the file UTF-8?'],
    [
      'an id prefix',
      { where: { id_prefix: 'x\uFFFD' }, add: ['t'] },
      'm.ndjson:3: where.id_prefix: id_prefix "x\uFFFD" contains U+FFFD (a replacement character): is the file UTF-8?',
    ],
  ])('%s', (_name, obj, message) => {
    expect(messages(validateRuleObject(obj, loc))).toEqual([message]);
  });
});

describe('quote: values in messages are cut at 60 characters', () => {
  test('exactly 60: whole; 61: the first 60 and …', () => {
    expect(quote('x'.repeat(60))).toBe(`"${'x'.repeat(60)}"`);
    expect(quote('x'.repeat(61))).toBe(`"${'x'.repeat(60)}…"`);
    expect(quote('abcdef', 3)).toBe('"abc…"');
    expect(quote('abc', 3)).toBe('"abc"');
  });
});

describe('did you mean: each operation and key has its hint', () => {
  test.each<[string, string]>([
    ['sett', 'set'],
    ['clea', 'clear'],
    ['renam', 'rename'],
    ['removee', 'remove'],
    ['ix', 'id'],
    ['wher', 'where'],
    ['tags', 'set'], // the CSV column's name, in JSON
    ['Tags', 'set'],
  ])('%s → %s', (key, hint) => {
    expect(messages(validateRuleObject({ id: 'a', add: ['x'], [key]: ['y'] }, loc))).toEqual([
      `m.ndjson:3: unknown key "${key}" (did you mean "${hint}"?); keys starting with "_" are annotations`,
    ]);
  });
});

describe('values described in messages', () => {
  test('an object where a string belongs', () => {
    expect(messages(validateRuleObject({ id: { x: 1 }, add: ['x'] }, loc))).toEqual(['m.ndjson:3: id must be a string, got an object']);
  });
});

describe('set: blanks beside real tags are dropped, not an error', () => {
  test('["a", " ", ""] is the set [a]', () => {
    expect(accepted(validateRuleObject({ id: 'a', set: ['a', ' ', ''] }, loc)).set).toEqual(['a']);
  });
  test('only blanks is an error (a blank cell must never wipe an image)', () => {
    expect(messages(validateRuleObject({ id: 'a', set: [' '] }, loc))).toEqual([
      'm.ndjson:3: set: set holds only empty tags; to clear every tag write "set": [] or "clear": true',
    ]);
  });
});

describe('--no-read', () => {
  test('a rule with both id and where: that one problem, not also the --no-read one', () => {
    expect(validateRuleObject({ id: 'a', where: {}, set: ['x'] }, loc, { requireSetOnly: true })).toEqual([
      { source: loc, message: ID_AND_WHERE, raw: { id: 'a', where: {}, set: ['x'] } },
    ]);
  });
  test('a library-wide set rule is refused (it selects by current tags)', () => {
    expect(messages(validateRuleObject({ where: { tag: 'x' }, set: ['y'] }, loc, { requireSetOnly: true }))).toEqual([
      'm.ndjson:3: a library-wide rule (where) selects images by their current tags, which --no-read does not read; drop --no-read',
    ]);
  });
});
