/** Rule validation, formats, problem reporting, loadManifest/validateManifest, and properties. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { UsageError } from '../src/errors.js';
import {
  assertNoProblems,
  detectFormat,
  formatProblem,
  idProblem,
  loadManifest,
  readRules,
  tagProblem,
  validateManifest,
  validateRuleObject,
  type ManifestOptions,
} from '../src/manifest/index.js';
import { findDuplicateKeys, jsonErrorOffset } from '../src/manifest/json-scan.js';
import { applyRule, opToRule } from '../src/plan/compose.js';
import type { ComposedOp, ManifestProblem, Rule } from '../src/plan/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures', 'manifests');

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-validate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
async function write(ext: string, content: string): Promise<string> {
  const file = join(dir, `v${++counter}${ext}`);
  await writeFile(file, content);
  return file;
}

const loc = { file: 'm.ndjson', line: 7 };

function messages(result: Rule | ManifestProblem[]): string[] {
  if (!Array.isArray(result)) throw new Error(`expected problems, got ${JSON.stringify(result)}`);
  return result.map(formatProblem);
}

describe('validateRuleObject', () => {
  it.each<[string, unknown, Omit<Rule, 'source'>]>([
    ['set', { id: 'a', set: ['x', 'y'] }, { id: 'a', set: ['x', 'y'] }],
    ['add and remove', { id: 'a', add: ['x'], remove: ['y'] }, { id: 'a', add: ['x'], remove: ['y'] }],
    ['clear', { id: 'a', clear: true }, { id: 'a', clear: true }],
    ['set [] (means clear)', { id: 'a', set: [] }, { id: 'a', set: [] }],
    ['add [] (a merge with nothing left, as opToRule writes it)', { id: 'a', add: [] }, { id: 'a', add: [] }],
    ['all four', { id: 'a', clear: true, set: ['s'], add: ['t'], remove: ['u'] }, { id: 'a', clear: true, set: ['s'], add: ['t'], remove: ['u'] }],
    ['annotations ignored', { id: 'a', add: ['x'], _error: 'boom', _: 1 }, { id: 'a', add: ['x'] }],
    ['tags normalised', { id: 'a', add: [' x', 'x ', '', 'y'] }, { id: 'a', add: ['x', 'y'] }],
    ['unicode and long-but-allowed values', { id: 'ü'.repeat(256), set: ['t'.repeat(256), '日本'] }, { id: 'ü'.repeat(256), set: ['t'.repeat(256), '日本'] }],
  ])('accepts %s', (_name, obj, expected) => {
    expect(validateRuleObject(obj, loc)).toEqual({ ...expected, source: loc });
  });

  it.each<[string, unknown, string[], ManifestOptions?]>([
    ['not an object', 'img-1', ['m.ndjson:7: a rule must be a JSON object, got a string ("img-1")']],
    ['null', null, ['m.ndjson:7: a rule must be a JSON object, got null']],
    ['missing id', { add: ['x'] }, ['m.ndjson:7: id is missing']],
    ['number id', { id: 12, add: ['x'] }, ['m.ndjson:7: id must be a string, got a number (12)']],
    ['null id', { id: null, add: ['x'] }, ['m.ndjson:7: id must be a string, got null']],
    ['empty id', { id: '', add: ['x'] }, ['m.ndjson:7: id is empty']],
    ['unknown key', { id: 'a', add: ['x'], ad: ['y'] }, [
      'm.ndjson:7: unknown key "ad" (did you mean "add"?); keys starting with "_" are annotations',
    ]],
    ['unknown key, no suggestion', { id: 'a', add: ['x'], colour: 'red' }, [
      'm.ndjson:7: unknown key "colour"; keys starting with "_" are annotations',
    ]],
    ['misspelt remove', { id: 'a', remvoe: ['x'] }, [
      'm.ndjson:7: unknown key "remvoe" (did you mean "remove"?); keys starting with "_" are annotations',
      'm.ndjson:7: rule has no operation: give at least one of clear, set, rename, add, remove',
    ]],
    ['no operation', { id: 'a' }, ['m.ndjson:7: rule has no operation: give at least one of clear, set, rename, add, remove']],
    ['clear false', { id: 'a', clear: false }, [
      'm.ndjson:7: clear: clear must be true when present, got a boolean (false) (to keep the tags, leave clear out)',
    ]],
    ['clear "yes"', { id: 'a', clear: 'yes' }, [
      'm.ndjson:7: clear: clear must be true when present, got a string ("yes") (to keep the tags, leave clear out)',
    ]],
    ['set a string', { id: 'a', set: 'x' }, ['m.ndjson:7: set: set must be an array of strings, got a string ("x") (write "set": ["x"])']],
    ['remove null', { id: 'a', remove: null }, ['m.ndjson:7: remove: remove must be an array of strings, got null']],
    ['non-string tags', { id: 'a', add: ['x', 1, true, ['y']] }, [
      'm.ndjson:7: add[1]: tag is not a string (got a number (1))',
      'm.ndjson:7: add[2]: tag is not a string (got a boolean (true))',
      'm.ndjson:7: add[3]: tag is not a string (got an array)',
    ]],
    ['set of blanks', { id: 'a', set: ['', '  '] }, [
      'm.ndjson:7: set: set holds only empty tags; to clear every tag write "set": [] or "clear": true',
    ]],
    ['control character', { id: 'a', add: ['x\u0000y'] }, ['m.ndjson:7: add[0]: tag "x\\u0000y" contains U+0000 (a control character)']],
    ['C1 control character', { id: 'a', add: ['x\u0085y'] }, ['m.ndjson:7: add[0]: tag "x\\u0085y" contains U+0085 (a control character)']],
    ['too long', { id: 'a', set: ['x'.repeat(11)] }, [
      'm.ndjson:7: set[0]: tag "xxxxxxxxxxx" is longer than 10 characters (11); see --max-tag-length',
    ], { maxTagLength: 10 }],
    ['--no-read: add', { id: 'a', set: ['x'], add: ['y'] }, ['m.ndjson:7: add/remove need the current tags; drop --no-read'], { requireSetOnly: true }],
    ['--no-read: remove []', { id: 'a', remove: [] }, ['m.ndjson:7: add/remove need the current tags; drop --no-read'], { requireSetOnly: true }],
    ['every problem at once', { id: 'a/b', ad: [], set: [1], clear: 0 }, [
      'm.ndjson:7: id "a/b" contains "/" (not allowed: / ? # %)',
      'm.ndjson:7: unknown key "ad" (did you mean "add"?); keys starting with "_" are annotations',
      'm.ndjson:7: clear: clear must be true when present, got a number (0) (to keep the tags, leave clear out)',
      'm.ndjson:7: set[0]: tag is not a string (got a number (1))',
    ]],
  ])('rejects %s', (...[, obj, expected, opts]) => {
    expect(messages(validateRuleObject(obj, loc, opts))).toEqual(expected);
  });

  it('sub-paths extend a JSON path', () => {
    const result = validateRuleObject({ id: 'a', add: ['x', 3] }, { file: 'm.json', path: '$[3]' });
    expect(messages(result)).toEqual(['m.json:$[3].add[1]: tag is not a string (got a number (3))']);
  });

  it('keeps the raw record on each problem', () => {
    const obj = { id: '', add: [1] };
    const result = validateRuleObject(obj, loc) as ManifestProblem[];
    expect(result).toHaveLength(2);
    for (const p of result) expect(p.raw).toBe(obj);
  });
});

describe('idProblem and tagProblem', () => {
  it.each<[string, string | undefined]>([
    ['img-0001', undefined],
    ['a.b_c~d+e=f@g', undefined],
    ['x'.repeat(256), undefined],
    ['x'.repeat(257), 'is longer than 256 characters (257)'],
    ['a/b', 'contains "/"'],
    ['a?b', 'contains "?"'],
    ['a#b', 'contains "#"'],
    ['a%2Fb', 'contains "%"'],
    ['a b', 'contains whitespace'],
    ['a\tb', 'contains U+0009 (a control character)'],
    ['a\u00a0b', 'contains whitespace'],
    ['a\u007fb', 'contains U+007F (a control character)'],
    ['..', 'is not a usable image id'],
    ['.', 'is not a usable image id'],
    ['...', undefined],
  ])('id %j', (id, fragment) => {
    const problem = idProblem(id);
    if (fragment === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(fragment);
  });

  it.each<[string, number, string | undefined]>([
    ['summer', 256, undefined],
    ['dark blue', 256, undefined],
    ['5" screen', 256, undefined],
    ['a|b', 256, undefined],
    ['a;b', 256, undefined],
    ['ü'.repeat(4), 4, undefined],
    ['😀😀', 2, undefined],
    ['😀😀😀', 2, 'is longer than 2 characters (3)'],
    ['a,b', 256, undefined], // never split on commas, and not rejected either (design §2)
    ['a\nb', 256, 'contains U+000A (a control character)'],
    ['a\u001bb', 256, 'contains U+001B (a control character)'],
  ])('tag %j (max %d)', (tag, maxTagLength, fragment) => {
    const problem = tagProblem(tag, { maxTagLength });
    if (fragment === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(fragment);
  });
});

describe('detectFormat', () => {
  it.each<[string, string]>([
    ['m.csv', 'csv'],
    ['M.CSV', 'csv'],
    ['dir.d/m.json', 'json'],
    ['m.ndjson', 'ndjson'],
    ['failures.jsonl', 'ndjson'],
  ])('%s → %s', (file, format) => {
    expect(detectFormat(file)).toBe(format);
  });

  it('--format wins over the extension', () => {
    expect(detectFormat('export.txt', 'ndjson')).toBe('ndjson');
    expect(detectFormat('m.csv', 'json')).toBe('json');
  });

  it.each(['m.txt', 'manifest', 'm.csv.bak', '.csv/x'])('%s is a usage error naming the file and --format', (file) => {
    expect(() => detectFormat(file)).toThrow(UsageError);
    expect(() => detectFormat(file)).toThrow(file);
    expect(() => detectFormat(file)).toThrow('--format');
  });

  it('an unknown --format value is a usage error', () => {
    expect(() => detectFormat('m.csv', 'yaml' as never)).toThrow(/--format must be one of csv, json, ndjson/);
  });
});

describe('formatProblem and assertNoProblems', () => {
  it.each<[ManifestProblem, string]>([
    [{ source: { file: 'manifest.csv', line: 17 }, message: 'id is empty' }, 'manifest.csv:17: id is empty'],
    [{ source: { file: 'm.json', path: '$[3].add[1]' }, message: 'tag is not a string' }, 'm.json:$[3].add[1]: tag is not a string'],
    [{ source: { file: 'm.ndjson', line: 5, path: 'add[1]' }, message: 'tag is not a string' }, 'm.ndjson:5: add[1]: tag is not a string'],
    [{ source: { file: '../rel/m.ndjson' }, message: 'manifest is empty' }, '../rel/m.ndjson: manifest is empty'],
  ])('%j', (problem, expected) => {
    expect(formatProblem(problem)).toBe(expected);
  });

  const problem = (line: number): ManifestProblem => ({ source: { file: 'm.csv', line }, message: 'id is empty' });

  it('does nothing without problems', () => {
    expect(() => assertNoProblems('m.csv', [])).not.toThrow();
  });

  it('throws a UsageError (exit 2) listing every problem', () => {
    let error: unknown;
    try {
      assertNoProblems('m.csv', [problem(2), problem(9)]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as UsageError).message).toBe('m.csv: 2 problems in the manifest:\n  m.csv:2: id is empty\n  m.csv:9: id is empty');
  });

  it('caps the message at 50 problems and counts the rest, including those not kept', () => {
    const many = Array.from({ length: 1000 }, (_, i) => problem(i + 2));
    expect(() => assertNoProblems('m.csv', many, 5000)).toThrow(/^m\.csv: 5000 problems in the manifest:\n/);
    // The assertions sit after the catch, not in it: in it, the test would pass when nothing throws.
    let error: unknown;
    try {
      assertNoProblems('m.csv', many, 5000);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    const lines = (error as Error).message.split('\n');
    expect(lines).toHaveLength(52);
    expect(lines[50]).toBe('  m.csv:51: id is empty');
    expect(lines[51]).toBe('  ... and 4950 more problems');
    expect(() => assertNoProblems('m.csv', [problem(2)])).toThrow(/^m\.csv: 1 problem in the manifest:\n {2}m\.csv:2: id is empty$/);
  });
});

describe('loadManifest', () => {
  it('composes rules per id in file order', async () => {
    const file = await write(
      '.ndjson',
      [
        { id: 'a', add: ['x', 'y'] },
        { id: 'b', set: ['p'] },
        { id: 'a', remove: ['x'] },
        { id: 'c', clear: true },
        { id: 'b', add: ['q'] },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const { rules, ...loaded } = await loadManifest(file);
    expect(rules.idCount).toBe(3);
    expect(loaded).toEqual({
      file,
      name: file,
      ruleCount: 5,
      libraryRules: [],
      problems: [],
      warnings: [],
      targets: [
        { id: 'a', op: { kind: 'merge', add: ['y'], remove: ['x'] } },
        { id: 'b', op: { kind: 'set', tags: ['p', 'q'] } },
        { id: 'c', op: { kind: 'set', tags: [] } },
      ],
    });
  });

  it('collects every problem and composes the valid rules', async () => {
    const file = await write('.csv', 'id,tags,op\nimg-1,a,add\n,b,add\nimg-2,,set\nimg-1,a,remove\n');
    const loaded = await loadManifest(file);
    expect(loaded.ruleCount).toBe(2);
    expect(loaded.targets).toEqual([{ id: 'img-1', op: { kind: 'merge', add: [], remove: ['a'] } }]);
    expect(loaded.problems.map(formatProblem)).toEqual([
      `${file}:3: id is empty`,
      `${file}:4: the tags cell is empty, and a blank cell never clears an image's tags: to clear them use op=clear`,
    ]);
  });

  it('an empty manifest has one problem', async () => {
    for (const [ext, text] of [['.ndjson', '\n\n'], ['.csv', 'id,tags\n'], ['.json', '[]'], ['.json', '{}'], ['.csv', '']]) {
      const file = await write(ext!, text!);
      const loaded = await loadManifest(file);
      expect(loaded.problems).toEqual([{ source: { file }, message: 'manifest is empty' }]);
      expect(loaded.targets).toEqual([]);
    }
  });

  it('loads every good sample without problems', async () => {
    for (const name of ['sample.csv', 'columns.csv', 'excel.csv', 'sample.json', 'map.json', 'sample.ndjson']) {
      const loaded = await loadManifest(join(fixtures, name));
      expect({ name, problems: loaded.problems.map(formatProblem) }).toEqual({ name, problems: [] });
      expect(loaded.targets.length).toBeGreaterThan(0);
      for (const t of loaded.targets) expect(t.id).toMatch(/^img-0\d{3}$/);
    }
  });

  it('--no-read (requireSetOnly) rejects add/remove in every format', async () => {
    for (const name of ['sample.csv', 'sample.json', 'sample.ndjson']) {
      const loaded = await loadManifest(join(fixtures, name), { requireSetOnly: true });
      expect(loaded.problems.map((p) => p.message)).toContain('add/remove need the current tags; drop --no-read');
    }
  });
});

describe('validateManifest', () => {
  it('counts rules and problems, keeping the first 1000 problems', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 1500; i++) lines.push(JSON.stringify({ id: `img-${i}`, ad: ['x'] }), JSON.stringify({ id: `ok-${i}`, add: ['x'] }));
    const file = await write('.ndjson', lines.join('\n'));
    const report = await validateManifest(file);
    expect(report.file).toBe(file);
    expect(report.ruleCount).toBe(1500);
    expect(report.problemCount).toBe(3000); // unknown key + no operation, for each bad line
    expect(report.problems).toHaveLength(1000);
    expect(report.problems[0]!.source).toEqual({ file, line: 1 });
  });

  it('reports an empty manifest', async () => {
    const file = await write('.ndjson', '');
    expect(await validateManifest(file)).toEqual({
      file,
      name: file,
      ruleCount: 0,
      problemCount: 1,
      problems: [{ source: { file }, message: 'manifest is empty' }],
      warnings: [],
    });
  });
});

describe('JSON helpers', () => {
  it.each<[string, number | undefined]>([
    ['[1, 2]', undefined],
    ['{"a": [true, false, null, -1.5e3, "x\\u00e9\\n"]}', undefined],
    ['[1,]', 3],
    ['{"a" 1}', 5],
    ['nul', 0],
    ['[1] x', 4],
    ['"abc', 4],
    ['{"a":1,}', 7],
    ['', 0],
  ])('jsonErrorOffset(%j) = %p', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
  });

  it('findDuplicateKeys sees keys however escaped, and only as deep as asked', () => {
    const text = '{"a":{"x":1,"x":2},"b":[{"y":1,"y":2}],"\\u0061":3,"s":"\\"a\\":"}';
    expect(findDuplicateKeys(text, 1)).toEqual([{ path: '$', key: 'a' }]);
    expect(findDuplicateKeys(text, 3)).toEqual([
      { path: '$["a"]', key: 'x' },
      { path: '$["b"][0]', key: 'y' },
      { path: '$', key: 'a' },
    ]);
  });
});

describe('properties', () => {
  const tag = fc.stringMatching(/^[a-z0-9 _.:-]{1,12}$/).filter((t) => t.trim() !== '');
  const id = fc.stringMatching(/^[A-Za-z0-9_.~-]{1,20}$/).filter((s) => s !== '.' && s !== '..');
  const tags = fc.array(tag, { maxLength: 4 });
  const rule = fc
    .record(
      { id, clear: fc.constant(true as const), set: tags, add: tags, remove: tags },
      { requiredKeys: ['id'] },
    )
    .filter((r) => r.clear !== undefined || r.set !== undefined || r.add !== undefined || r.remove !== undefined);
  const norm = (list: string[] | undefined) => (list === undefined ? undefined : [...new Set(list.map((t) => t.trim()))]);
  const expected = (r: Rule) => {
    const out: Rule = { id: r.id };
    if (r.clear) out.clear = true;
    for (const k of ['set', 'add', 'remove'] as const) if (r[k] !== undefined) out[k] = norm(r[k]);
    return out;
  };
  const strip = (r: Rule) => {
    const { source: _source, ...rest } = r;
    return rest;
  };

  it('any valid rule survives NDJSON and JSON, normalised, with its line or path', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rule, { minLength: 1, maxLength: 8 }), fc.boolean(), async (rules, crlf) => {
        const nd = await write('.ndjson', rules.map((r) => JSON.stringify(r)).join(crlf ? '\r\n\r\n' : '\n\n'));
        const js = await write('.json', JSON.stringify(rules, null, crlf ? 2 : 0));
        for (const [file, where] of [
          [nd, (i: number) => ({ file: nd, line: 2 * i + 1 })],
          [js, (i: number) => ({ file: js, path: `$[${i}]` })],
        ] as const) {
          const got: Rule[] = [];
          for await (const item of readRules(file)) {
            if (!('rule' in item)) throw new Error(formatProblem(item.problem));
            got.push(item.rule);
          }
          expect(got.map(strip)).toEqual(rules.map(expected));
          expect(got.map((r) => r.source)).toEqual(rules.map((_, i) => where(i)));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('CSV records get the line they start on, whatever the line ends, blank lines and multi-line cells', async () => {
    const cell = fc.oneof(
      tag,
      fc.array(tag, { minLength: 1, maxLength: 3 }).map((ts) => ts.join('|')),
      fc.constant('a|b'),
    );
    const row = fc.record({ id, tags: cell, note: fc.constantFrom('', 'n', 'x\ny', 'p\r\nq', 'r,"s"\n\nt') , blanks: fc.nat(2) });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 10 }), fc.constantFrom('\n', '\r\n', '\r'), fc.boolean(), async (rows, eol, bom) => {
        const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
        let text = `${bom ? '\uFEFF' : ''}id,tags,_note${eol}`;
        let line = 2;
        const lines: number[] = [];
        for (const r of rows) {
          text += eol.repeat(r.blanks);
          line += r.blanks;
          lines.push(line);
          // A lone CR ends a line too, so a note's inner line ends are written with the file's own.
          const note = r.note.replace(/\r?\n/g, eol);
          text += `${quote(r.id)},${quote(r.tags)},${quote(note)}${eol}`;
          line += 1 + (note.match(/\r\n|\r|\n/g)?.length ?? 0);
        }
        const file = await write('.csv', text);
        const got: Rule[] = [];
        for await (const item of readRules(file)) {
          if (!('rule' in item)) throw new Error(formatProblem(item.problem));
          got.push(item.rule);
        }
        expect(got.map((r) => r.source!.line)).toEqual(lines);
        expect(got.map((r) => r.id)).toEqual(rows.map((r) => r.id));
      }),
      { numRuns: 60 },
    );
  });

  it('a composed operation written back by opToRule (failures.ndjson) is always a valid rule', () => {
    fc.assert(
      fc.property(fc.array(rule, { minLength: 1, maxLength: 6 }), (rules) => {
        let op: ComposedOp | undefined;
        for (const r of rules) op = applyRule(op, r);
        const written = { ...opToRule('img-1', op!), _error: 'retries exhausted' };
        const result = validateRuleObject(JSON.parse(JSON.stringify(written)), loc);
        expect(Array.isArray(result)).toBe(false);
        expect(applyRule(undefined, result as Rule)).toEqual(op);
      }),
      { numRuns: 200 },
    );
  });
});
