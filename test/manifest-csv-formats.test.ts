/**
 * The manifest formats design.md §2 added: CSV delimiters (detected, --delimiter, .tsv),
 * `object_id`, rename maps (`from,to`), --encoding and text invalid in its encoding, `-` for
 * standard input, the tag-separator warning, and NDJSON lines capped at 4 MiB. Also the decoder
 * under them (decode.ts), whatever the chunking of the byte stream.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { UsageError } from '../src/errors.js';
import {
  assertNoProblems,
  detectDelimiter,
  detectFormat,
  formatProblem,
  loadManifest,
  readManifestItems,
  readRules,
  resolveManifestOptions,
  validateManifest,
  type ManifestOptions,
  type ManifestWarning,
} from '../src/manifest/index.js';
import { countBreaks, decodeManifest, resolveEncoding } from '../src/manifest/decode.js';
import { readNdjsonRules } from '../src/manifest/read-ndjson.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures');

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-formats-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
async function write(ext: string, content: string | Buffer): Promise<string> {
  const file = join(dir, `f${++counter}${ext}`);
  await writeFile(file, content);
  return file;
}

interface Read {
  rules: Array<Record<string, unknown>>;
  problems: string[];
  warnings: string[];
}

/** Every item, compactly: rules as `{at, ...ops}`, problems and warnings as `"<where>: <message>"`. */
async function readAll(file: string, opts?: ManifestOptions): Promise<Read> {
  const out: Read = { rules: [], problems: [], warnings: [] };
  const brief = (p: { source: { file: string; line?: number; path?: string }; message: string }) =>
    formatProblem({ ...p, source: { ...p.source, file: '' } }).replace(/^:/, '').trimStart();
  for await (const item of readManifestItems(file, opts)) {
    if ('rule' in item) {
      const { source, ...rest } = item.rule;
      out.rules.push({ at: source?.line ?? source?.path, ...rest });
    } else if ('problem' in item) out.problems.push(brief(item.problem));
    else out.warnings.push(brief(item.warning));
  }
  return out;
}

const csv = async (text: string | Buffer, opts?: ManifestOptions) => readAll(await write('.csv', text), opts);
const stdin = (...chunks: Array<string | Buffer>) => Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));

describe('CSV delimiter', () => {
  it.each<[string, string]>([
    ['id,tags', ','],
    ['id;tags;op', ';'],
    ['id\ttags', '\t'],
    ['ID;Tags', ';'],
    ['"id";"tags"', ';'],
    ['from;to', ';'],
    ['object_id\tset\tadd', '\t'],
    ['id', ','],
    ['id,tags;op', ','], // makes sense split on commas: commas win
    ['img-1;a', ','], // no header at all: the default, and the no-id-column problem
  ])('detectDelimiter(%j) = %j', (header, delimiter) => {
    expect(detectDelimiter(header)).toBe(delimiter);
  });

  it('a ; CSV (as spreadsheets in many locales save it) is read with commas inside cells', async () => {
    const { rules, problems, warnings } = await csv('ID;Tags;Op\r\nimg-1;a|b;add\r\nimg-2;black friday, 2026|promo;set\r\nimg-3;;clear\r\n');
    expect(problems).toEqual([]);
    expect(warnings).toEqual([]);
    expect(rules).toEqual([
      { at: 2, id: 'img-1', add: ['a', 'b'] },
      { at: 3, id: 'img-2', set: ['black friday, 2026', 'promo'] },
      { at: 4, id: 'img-3', clear: true },
    ]);
  });

  it('a tab-separated file named .csv is detected too', async () => {
    const { rules, problems } = await csv('id\tset\tremove\nimg-1\ta|b\told\n');
    expect(problems).toEqual([]);
    expect(rules).toEqual([{ at: 2, id: 'img-1', set: ['a', 'b'], remove: ['old'] }]);
  });

  it('detection looks at the first line with content, after blank lines', async () => {
    const { rules } = await csv('\n\r\nid;tags\nimg-1;a\n');
    expect(rules).toEqual([{ at: 4, id: 'img-1', set: ['a'] }]);
  });

  it('.tsv files are tab-separated; detectFormat maps .tsv to csv', async () => {
    expect(detectFormat('m.tsv')).toBe('csv');
    expect(detectFormat('M.TSV')).toBe('csv');
    const { rules, problems } = await readAll(await write('.tsv', 'id\ttags\nimg-1\ta,b|c;d\n'));
    expect(problems).toEqual([]);
    expect(rules).toEqual([{ at: 2, id: 'img-1', set: ['a,b', 'c;d'] }]);
    // A .tsv is tab-separated even when its header would make sense split on commas.
    const commas = await readAll(await write('.tsv', 'id,tags\nimg-1,a\n'));
    expect(commas.rules).toEqual([]);
    expect(commas.problems[0]).toMatch(/^1: the header has no "id" column \(first row: "id,tags"\) \(it has one when split on commas: check --delimiter\)/);
  });

  it('the delimiter option wins over detection and over .tsv', async () => {
    const semi = await csv('id;tags\nimg-1;a\n', { delimiter: ',' });
    expect(semi.rules).toEqual([]);
    expect(semi.problems).toEqual([
      '1: the header has no "id" column (first row: "id;tags") (it has one when split on semicolons: check --delimiter); the first row must be a header naming the columns, e.g. id,tags or id,set,add,remove (or from,to for a rename map)',
    ]);
    const tsvAsSemi = await readAll(await write('.tsv', 'id;tags\nimg-1;a\n'), { delimiter: ';' });
    expect(tsvAsSemi.rules).toEqual([{ at: 2, id: 'img-1', set: ['a'] }]);
    for (const tab of ['tab', 'TAB', '\\t', '\t']) {
      const { rules } = await csv('id\ttags\nimg-1\ta\n', { delimiter: tab });
      expect(rules).toEqual([{ at: 2, id: 'img-1', set: ['a'] }]);
    }
  });

  it('names the delimiter when a row has too many cells', async () => {
    const { problems } = await csv('id;tags\nimg-1;a;b\n');
    expect(problems).toEqual([
      '2: the row has 3 cells but the header has 2 (a cell holding a semicolon must be quoted; tags are separated by "|")',
    ]);
  });

  it.each<[unknown, RegExp]>([
    ['', /--delimiter must be one character/],
    [';;', /--delimiter must be one character/],
    ['"', /--delimiter cannot be "\\"": it quotes or ends CSV records/],
    ['\n', /--delimiter cannot be/],
    ['|', /--delimiter "\|" is also the tag separator/],
  ])('a bad delimiter %j is a usage error', (delimiter, message) => {
    expect(() => resolveManifestOptions({ delimiter: delimiter as string })).toThrow(UsageError);
    expect(() => resolveManifestOptions({ delimiter: delimiter as string })).toThrow(message);
  });

  it('"|" is a fine delimiter once the tag separator is another', async () => {
    const { rules } = await csv('id|tags\nimg-1|a;b\n', { delimiter: '|', tagSeparator: ';' });
    expect(rules).toEqual([{ at: 2, id: 'img-1', set: ['a', 'b'] }]);
  });
});

describe('CSV headers', () => {
  it('object_id is the id column (the API\'s own name), in any case', async () => {
    const { rules, problems } = await csv('Object_ID,TAGS,Op\nimg-1,a,ADD\n');
    expect(problems).toEqual([]);
    expect(rules).toEqual([{ at: 2, id: 'img-1', add: ['a'] }]);
  });

  it('id and object_id together are one column too many', async () => {
    const { problems } = await csv('id,object_id,tags\nimg-1,img-1,a\n');
    expect(problems).toEqual(['1: columns "id" and "object_id" both name the image id: keep one']);
  });

  it('unknown columns suggest the new ones too', async () => {
    const { problems } = await csv('object-id,tags\nimg-1,a\n');
    expect(problems[0]).toContain('the header has no "id" column');
    const typo = await csv('from,too\na,b\n');
    expect(typo.problems).toEqual([
      '1: unknown column "too" (did you mean "to"?); columns starting with "_" are annotations',
      '1: a rename map needs both a "from" and a "to" column (the header has only "from")',
    ]);
  });
});

describe('CSV rename maps', () => {
  it('each row is the library-wide rule {where: {tag: from}, rename: {from: to}}', async () => {
    const { rules, problems } = await csv('From,To,_count\nsummer-2023,summer-2026,12\n Black Friday , black-friday ,3\n\ncafe\u0301,café-2026,\n');
    expect(problems).toEqual([]);
    expect(rules).toEqual([
      { at: 2, where: { tag: 'summer-2023' }, rename: { 'summer-2023': 'summer-2026' } },
      { at: 3, where: { tag: 'Black Friday' }, rename: { 'Black Friday': 'black-friday' } },
      { at: 5, where: { tag: 'café' }, rename: { café: 'café-2026' } },
    ]);
  });

  it('the cells are single tags: never split on the tag separator', async () => {
    const { rules } = await csv('from,to\na|b,c\n');
    expect(rules).toEqual([{ at: 2, where: { tag: 'a|b' }, rename: { 'a|b': 'c' } }]);
  });

  it.each<[string, string, string[]]>([
    ['an empty to is an error, never a delete', 'from,to\nsummer,\nwinter,  \n', [
      '2: to is empty: a rename map never deletes a tag; retire a tag with a remove rule or retag strip',
      '3: to is empty: a rename map never deletes a tag; retire a tag with a remove rule or retag strip',
    ]],
    ['an empty from', 'from,to\n,summer\n', ['2: from is empty: name the tag to rename']],
    ['from equal to to (once trimmed)', 'from,to\nsale, sale \n', ['2: from and to are the same tag "sale": nothing to rename']],
    ['bad tags', 'from,to\n"a\u200bb",c\nd,"e\u0001"\n', [
      '2: from: tag "a\\u200bb" contains U+200B (a format character)',
      '3: to: tag "e\\u0001" contains U+0001 (a control character)',
    ]],
    ['an id column with from/to', 'id,from,to\nimg-1,a,b\n', [
      '1: "from"/"to" columns make a rename map, which has no "id" column: use either id rules or a rename map',
    ]],
    ['only from', 'from\na\n', ['1: a rename map needs both a "from" and a "to" column (the header has only "from")']],
    ['only to', 'to,_n\na,\n', ['1: a rename map needs both a "from" and a "to" column (the header has only "to")']],
    ['operation columns beside from/to', 'from,to,tags\na,b,c\n', [
      '1: a rename map has only the columns "from" and "to" (and "_" annotations): for id rules add an "id" column and drop from/to',
    ]],
    ['an unquoted extra cell', 'from,to\na,b,c\n', ['2: the row has 3 cells but the header has 2 (a cell holding a comma must be quoted)']],
  ])('%s', async (_name, text, expected) => {
    const { rules, problems } = await csv(text);
    expect(problems).toEqual(expected);
    expect(rules).toEqual([]);
  });

  it('the fixture rename map reads as library-wide rules', async () => {
    const loaded = await loadManifest(join(fixtures, 'manifests-extra', 'rename-map.csv'));
    expect(loaded.problems).toEqual([]);
    expect(loaded.targets).toEqual([]);
    expect(loaded.libraryRules.map((r) => [r.where, r.rename])).toEqual([
      [{ tag: 'summer-2023' }, { 'summer-2023': 'summer-2026' }],
      [{ tag: 'black friday' }, { 'black friday': 'black-friday' }],
      [{ tag: 'new arrival' }, { 'new arrival': 'new-arrival' }],
    ]);
  });
});

describe('the good CSV fixtures', () => {
  it.each<[string, Array<Record<string, unknown>>]>([
    ['semicolon.csv', [
      { at: 2, id: 'img-0030', add: ['summer-2026', 'sale'] },
      { at: 3, id: 'img-0031', remove: ['clearance'] },
      { at: 4, id: 'img-0032', set: ['black friday, 2026', 'promo'] },
      { at: 5, id: 'img-0033', clear: true },
    ]],
    ['sample.tsv', [
      { at: 2, id: 'img-0040', add: ['summer-2026'], remove: ['draft'] },
      { at: 3, id: 'img-0041', add: ['new arrival', 'featured'] },
      { at: 4, id: 'img-0042', remove: ['homepage'] },
    ]],
    ['object-id.csv', [
      { at: 2, id: 'img-0050', set: ['hero', 'banner'] },
      { at: 3, id: 'img-0051', add: ['archived'] },
      { at: 4, id: 'img-0052', remove: ['product'] },
    ]],
  ])('%s', async (name, expected) => {
    const { rules, problems, warnings } = await readAll(join(fixtures, 'manifests', name));
    expect({ problems, warnings }).toEqual({ problems: [], warnings: [] });
    expect(rules).toEqual(expected);
  });
});

describe('--encoding', () => {
  const w1252 = join(fixtures, 'manifests-extra', 'windows-1252.csv');

  it('reads the windows-1252 fixture (é, €, curly quotes) as its characters', async () => {
    for (const encoding of ['windows-1252', 'Windows-1252', 'cp1252', 'latin1']) {
      const { rules, problems } = await readAll(w1252, { encoding });
      expect({ encoding, problems }).toEqual({ encoding, problems: [] });
      expect(rules).toEqual([
        { at: 2, id: 'img-0060', add: ['café', 'crème brûlée'] },
        { at: 3, id: 'img-0061', add: ['€-sale', '“quoted”'] },
        { at: 4, id: 'img-0062', set: ['naïve'] },
      ]);
    }
  });

  it('windows-1252 bytes 0x80–0x9F are its characters, not C1 controls (whatever Node\'s TextDecoder does)', () => {
    const codec = resolveEncoding('windows-1252');
    const all = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i));
    expect(codec.decode(all)).toBe(
      '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ',
    );
    expect(codec.decode(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe('café');
  });

  it('the same file read as UTF-8: a problem naming each line that is not UTF-8, and no rule from it', async () => {
    const { rules, problems } = await readAll(w1252);
    const message =
      'the text is not valid UTF-8: is the file UTF-8? If it is in another encoding, pass --encoding (e.g. --encoding windows-1252)';
    expect(problems).toEqual([`2: ${message}`, `3: ${message}`, `4: ${message}`]);
    expect(rules).toEqual([]);
  });

  it('an invalid byte in an annotation still rejects the row; the other rows are read', async () => {
    const bytes = Buffer.concat([Buffer.from('id,tags,_note\nimg-1,a,caf'), Buffer.from([0xe9]), Buffer.from('\nimg-2,b,ok\n')]);
    const { rules, problems } = await csv(bytes);
    expect(rules).toEqual([{ at: 3, id: 'img-2', set: ['b'] }]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^2: the text is not valid UTF-8/);
  });

  it('an invalid line inside a multi-line quoted cell is named, and its record is not read', async () => {
    const bytes = Buffer.concat([
      Buffer.from('id,tags,_note\nimg-1,a,"one\ntwo '),
      Buffer.from([0xff]),
      Buffer.from('\nthree"\nimg-2,b,\n'),
    ]);
    const { rules, problems } = await csv(bytes);
    expect(rules).toEqual([{ at: 5, id: 'img-2', set: ['b'] }]);
    expect(problems.map((p) => p.slice(0, 2))).toEqual(['3:']);
  });

  it('NDJSON and JSON name the invalid line too; JSON then yields no rule at all', async () => {
    const bytes = Buffer.concat([Buffer.from('{"id":"a","add":["x"]}\n{"id":"b","add":["caf'), Buffer.from([0xe9]), Buffer.from('"]}\n')]);
    const nd = await readAll(await write('.ndjson', bytes));
    expect(nd.rules).toEqual([{ at: 1, id: 'a', add: ['x'] }]);
    expect(nd.problems.map((p) => p.slice(0, 2))).toEqual(['2:']);
    const js = await readAll(await write('.json', Buffer.concat([Buffer.from('[\n{"id":"a","add":["x"]},\n{"id":"b","add":["caf'), Buffer.from([0xe9]), Buffer.from('"]}\n]')])));
    expect(js.rules).toEqual([]);
    expect(js.problems[0]).toMatch(/^3: the text is not valid UTF-8/);
  });

  it('other encodings: UTF-16 with its BOM; invalid text named for them too', async () => {
    const utf16 = Buffer.from('\ufeffid,tags\r\nimg-1,café|日本\r\n', 'utf16le');
    expect((await csv(utf16, { encoding: 'utf-16le' })).rules).toEqual([{ at: 2, id: 'img-1', set: ['café', '日本'] }]);
    const asUtf8 = await csv(utf16);
    expect(asUtf8.problems[0]).toBe(
      '1: the text is not valid UTF-8: is the file UTF-8? The file starts with a UTF-16 byte order mark: pass --encoding utf-16le',
    );
    const sjis = Buffer.concat([Buffer.from('id,tags\nimg-1,a\nimg-2,'), Buffer.from([0x82]), Buffer.from('\n')]);
    const bad = await csv(sjis, { encoding: 'shift_jis' });
    expect(bad.rules).toEqual([{ at: 2, id: 'img-1', set: ['a'] }]);
    expect(bad.problems).toEqual(['3: the text is not valid shift_jis: is the file in shift_jis (--encoding)?']);
  });

  it('an unknown encoding is a usage error naming it', async () => {
    const file = await write('.csv', 'id,tags\nimg-1,a\n');
    for (const encoding of ['klingon', 'iso-2022-kr', '']) {
      await expect(readAll(file, { encoding })).rejects.toThrow(UsageError);
      await expect(readAll(file, { encoding })).rejects.toThrow(`--encoding ${JSON.stringify(encoding)} is not an encoding retag can read`);
    }
  });
});

describe('standard input (-)', () => {
  it('needs --format', async () => {
    await expect(readAll('-', { stdin: stdin('id,tags\n') })).rejects.toThrow(
      'reading the manifest from standard input needs --format (csv, json or ndjson)',
    );
    expect(() => detectFormat('-')).toThrow(UsageError);
  });

  it.each<[ManifestOptions['format'], string, Array<Record<string, unknown>>, string[]]>([
    ['csv', 'id,tags\nimg-1,a\n,b\n', [{ at: 2, id: 'img-1', set: ['a'] }], ['3: id is empty']],
    ['ndjson', '{"id":"img-1","add":["a"]}\n{"id":"img-2"\n', [{ at: 1, id: 'img-1', add: ['a'] }], [
      "2: malformed JSON: Expected ',' or '}' after property value",
    ]],
    ['json', '[{"id":"img-1","add":["a"]},{"id":"a/b","add":["x"]}]', [{ at: '$[0]', id: 'img-1', add: ['a'] }], [
      '$[1]: id "a/b" contains "/" (not allowed: / ? # %)',
    ]],
  ])('reads %s, located as <stdin>', async (format, text, rules, problems) => {
    // Split in two chunks mid-line, as a pipe would deliver it.
    const input = stdin(text.slice(0, 9), text.slice(9));
    const files = new Set<string>();
    const got: Read = { rules: [], problems: [], warnings: [] };
    for await (const item of readManifestItems('-', { format, stdin: input })) {
      if ('rule' in item) {
        files.add(item.rule.source!.file);
        const { source, ...rest } = item.rule;
        got.rules.push({ at: source?.line ?? source?.path, ...rest });
      } else if ('problem' in item) {
        files.add(item.problem.source.file);
        got.problems.push(formatProblem(item.problem).replace(/^<stdin>:/, ''));
      }
    }
    expect(got.rules).toEqual(rules);
    expect(got.problems.map((p) => p.trimStart())).toEqual(problems);
    expect([...files]).toEqual(['<stdin>']);
  });

  it('an empty standard input is an empty manifest, named <stdin>; loadManifest names it too', async () => {
    const loaded = await loadManifest('-', { format: 'ndjson', stdin: stdin() });
    expect(loaded.file).toBe('-');
    expect(loaded.name).toBe('<stdin>');
    expect(loaded.problems).toEqual([{ source: { file: '<stdin>' }, message: 'manifest is empty' }]);
    expect(() => assertNoProblems('-', loaded.problems)).toThrow(/^<stdin>: 1 problem in the manifest:\n {2}<stdin>: manifest is empty$/);
  });

  it('an empty path is an error, never standard input by accident', async () => {
    await expect(readAll('', { format: 'csv', stdin: stdin('id,tags\nimg-1,a\n') })).rejects.toThrow(
      'the manifest path is empty (to read standard input, pass -)',
    );
  });

  it('a file named "-" in a directory is a file, not standard input', async () => {
    const file = join(dir, '-');
    await writeFile(file, '{"id":"img-1","add":["a"]}\n');
    const { rules } = await readAll(file, { format: 'ndjson' });
    expect(rules).toEqual([{ at: 1, id: 'img-1', add: ['a'] }]);
  });
});

describe('tag-separator warning', () => {
  it.each<[string, string, Array<Record<string, unknown>>]>([
    ['a comma', 'id,tags\nimg-1,"summer, beach"\nimg-2,"a,b"\n', [
      { at: 2, id: 'img-1', set: ['summer, beach'] },
      { at: 3, id: 'img-2', set: ['a,b'] },
    ]],
    ['a semicolon', 'id,tags\nimg-1,Sale;Summer\nimg-2,a;b\n', [
      { at: 2, id: 'img-1', set: ['Sale;Summer'] },
      { at: 3, id: 'img-2', set: ['a;b'] },
    ]],
    ['a list column', 'id,add\nimg-1,"x, y"\n', [{ at: 2, id: 'img-1', add: ['x, y'] }]],
  ])('once per file, with its line, for %s; the cell stays one tag', async (_name, text, expected) => {
    const { rules, problems, warnings } = await csv(text);
    expect(problems).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^2: the cell "[^"]+" is read as one tag: tags in a cell are separated by "\|", not "[,;]"/);
    expect(rules).toEqual(expected);
  });

  it('the semicolon warning suggests --tag-separator ";"', async () => {
    const { warnings } = await csv('id,tags\nimg-1,Sale;Summer\n');
    expect(warnings).toEqual([
      '2: the cell "Sale;Summer" is read as one tag: tags in a cell are separated by "|", not ";" (if the file separates tags with ";", pass --tag-separator ";"); this is said once per file',
    ]);
  });

  it.each<[string, string, ManifestOptions?]>([
    ['a cell that also holds the separator', 'id,tags\nimg-1,"red, dark|blue"\n'],
    ['a trailing separator-like character only', 'id,tags\nimg-1,"5;"\n'],
    ['the id or an annotation column', 'id,tags,_note\nimg-1,a,"x, y"\n'],
    ['a rename map', 'from,to\n"a, b",c\n'],
    ['--tag-separator ";" (then ";" is the separator)', 'id,tags\nimg-1,a;b\n', { tagSeparator: ';' }],
    // Rest parameters: a 3rd named parameter would make Jest wait for a `done` callback.
  ])('not for %s', async (...[, text, opts]) => {
    expect((await csv(text, opts)).warnings).toEqual([]);
  });

  it('readRules hands warnings to onWarning; loadManifest and validateManifest return them', async () => {
    const file = await write('.csv', 'id,tags\nimg-1,"summer, beach"\nimg-2,"x, y"\n');
    const seen: ManifestWarning[] = [];
    const items: unknown[] = [];
    for await (const item of readRules(file, { onWarning: (w) => seen.push(w) })) items.push(item);
    expect(items).toHaveLength(2);
    expect(items.every((i) => 'rule' in (i as object))).toBe(true);
    expect(seen.map((w) => w.source)).toEqual([{ file, line: 2 }]);
    const loaded = await loadManifest(file);
    expect(loaded.warnings).toEqual(seen);
    expect(loaded.problems).toEqual([]);
    const report = await validateManifest(file);
    expect(report.warnings).toEqual(seen);
    expect(report.ruleCount).toBe(2);
  });

  it('a file with only warnings and no rule is still an empty manifest', async () => {
    const { problems } = await csv('id,tags\n');
    expect(problems).toEqual(['manifest is empty']);
  });
});

describe('NDJSON line cap', () => {
  it('a line longer than 4 MiB is one problem naming its line; the lines around it are read', async () => {
    const long = `{"id":"img-2","add":["${'x'.repeat(4 * 1024 * 1024)}"]}`;
    const file = await write('.ndjson', `{"id":"img-1","add":["a"]}\r\n${long}\r\n{"id":"img-3","add":["c"]}\n${long}`);
    const { rules, problems } = await readAll(file);
    expect(rules).toEqual([
      { at: 1, id: 'img-1', add: ['a'] },
      { at: 3, id: 'img-3', add: ['c'] },
    ]);
    const message = 'the line is longer than 4194304 bytes: it was not read (an NDJSON manifest holds one rule per line)';
    expect(problems).toEqual([`2: ${message}`, `4: ${message}`]);
  });

  it('the cap holds whatever the chunking (small cap, one-byte to odd-sized chunks)', async () => {
    const lines = ['{"id":"a","add":["x"]}', `{"id":"b","add":["${'y'.repeat(40)}"]}`, '', '{"id":"c","add":["z"]}', 'x'.repeat(100)];
    const text = lines.join('\r\n') + '\n';
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(Buffer.from(text.slice(i, i + size)));
      const opts = resolveManifestOptions({ stdin: Readable.from(chunks) });
      const got: string[] = [];
      for await (const item of readNdjsonRules('-', opts, 30)) {
        got.push('rule' in item ? `rule ${item.rule.source!.line} ${item.rule.id}` : 'problem' in item ? `problem ${item.problem.source.line}` : 'warning');
      }
      expect({ size, got }).toEqual({ size, got: ['rule 1 a', 'problem 2', 'rule 4 c', 'problem 5'] });
    }
  });
});

describe('the decoder', () => {
  async function decode(chunks: Buffer[], encoding = 'utf-8', maxLineBytes?: number) {
    let text = '';
    const bad: number[] = [];
    const firstLines: Array<[number, number]> = [];
    for await (const item of decodeManifest(chunks, resolveEncoding(encoding), maxLineBytes === undefined ? {} : { maxLineBytes })) {
      if ('text' in item) {
        firstLines.push([item.firstLine, 1 + countBreaks(text)]);
        text += item.text;
      } else bad.push(item.badLine);
    }
    return { text, bad, firstLines };
  }

  function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const out: Buffer[] = [];
    let at = 0;
    for (const p of [...points, bytes.length]) {
      if (p > at) out.push(bytes.subarray(at, p));
      at = Math.max(at, p);
    }
    return out;
  }

  const piece = fc.constantFrom('a', 'é', '日本', '😀', ',', '"', ' ', '\n', '\r\n', '\r', 'id', '|');
  const text = fc.array(piece, { maxLength: 60 }).map((parts) => parts.join(''));

  it('any text, cut anywhere, decodes back to itself with the right line numbers (UTF-8 and UTF-16)', async () => {
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), async (t, cuts, bom) => {
        for (const [encoding, bytes] of [
          ['utf-8', Buffer.from((bom ? '\ufeff' : '') + t, 'utf8')],
          ['utf-16le', Buffer.from((bom ? '\ufeff' : '') + t, 'utf16le')],
        ] as const) {
          const got = await decode(chunked(bytes, cuts), encoding);
          expect(got.text).toBe(t);
          expect(got.bad).toEqual([]);
          for (const [first, counted] of got.firstLines) expect(first).toBe(counted);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('invalid bytes are named by their line, wherever the chunks are cut', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(text, fc.boolean()), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), async (lines, cuts) => {
        const parts: Buffer[] = [];
        const expected: number[] = [];
        let line = 1;
        for (const [t, invalid] of lines) {
          const clean = t.replace(/[\r\n]/g, '');
          if (invalid) expected.push(line);
          parts.push(Buffer.from(clean), invalid ? Buffer.from([0xc3, 0x28]) : Buffer.alloc(0), Buffer.from('\n'));
          line++;
        }
        const got = await decode(chunked(Buffer.concat(parts), cuts));
        expect(got.bad).toEqual(expected);
        expect(countBreaks(got.text)).toBe(lines.length);
      }),
      { numRuns: 200 },
    );
  });

  it('a CR at the end of a chunk followed by an LF is one line break', async () => {
    const got = await decode([Buffer.from('a\r'), Buffer.from('\nb\r'), Buffer.from('c')]);
    expect(got.text).toBe('a\r\nb\rc');
    for (const [first, counted] of got.firstLines) expect(first).toBe(counted);
    expect(countBreaks(got.text)).toBe(2);
  });

  it('an over-long line is dropped (its break kept, so lines still count) without being held', async () => {
    const got = await decode([Buffer.from('ok\nxxxx'), Buffer.from('xxxxxx'), Buffer.from('xx\r'), Buffer.from('\nfine\n')], 'utf-8', 8);
    expect(got.text).toBe('ok\n\r\nfine\n');
    expect(got.bad).toEqual([2]);
  });
});
