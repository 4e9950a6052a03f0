/** The three readers, on real files in a temp dir and on fixtures/manifests. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { UsageError } from '../src/errors.js';
import { formatProblem, readRules, type ManifestOptions } from '../src/manifest/index.js';
import type { ManifestProblem, Rule } from '../src/plan/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures', 'manifests');

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-manifest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(ext: string, content: string | Buffer): Promise<string> {
  const file = join(dir, `m${++counter}${ext}`);
  await writeFile(file, content);
  return file;
}

async function readAll(file: string, opts?: ManifestOptions): Promise<{ rules: Rule[]; problems: ManifestProblem[] }> {
  const rules: Rule[] = [];
  const problems: ManifestProblem[] = [];
  for await (const item of readRules(file, opts)) {
    if ('rule' in item) rules.push(item.rule);
    else problems.push(item.problem);
  }
  return { rules, problems };
}

/** Rules as `{line or path, ...ops}` for compact tables. */
function compact(rules: Rule[]): Array<Record<string, unknown>> {
  return rules.map(({ source, ...rest }) => ({ at: source?.line ?? source?.path, ...rest }));
}

/** Problems as `"<line or path>: <message>"`, without the file. */
function brief(problems: ManifestProblem[]): string[] {
  return problems.map((p) => formatProblem({ ...p, source: { ...p.source, file: '' } }).replace(/^:/, '').trimStart());
}

async function csv(text: string | Buffer, opts?: ManifestOptions) {
  return readAll(await write('.csv', text), opts);
}
async function ndjson(text: string, opts?: ManifestOptions) {
  return readAll(await write('.ndjson', text), opts);
}
async function json(text: string, opts?: ManifestOptions) {
  return readAll(await write('.json', text), opts);
}

describe('CSV reader: accepted input', () => {
  it.each<[string, string, Array<Record<string, unknown>>]>([
    ['tags column without op means set', 'id,tags\nimg-1,a|b\n', [{ at: 2, id: 'img-1', set: ['a', 'b'] }]],
    [
      'op column: set, add, remove, clear (any case, trimmed)',
      'id,tags,op\nimg-1,a,set\nimg-2,b, ADD \nimg-3,c,Remove\nimg-4,,clear\n',
      [
        { at: 2, id: 'img-1', set: ['a'] },
        { at: 3, id: 'img-2', add: ['b'] },
        { at: 4, id: 'img-3', remove: ['c'] },
        { at: 5, id: 'img-4', clear: true },
      ],
    ],
    [
      'op=clear with a blank (whitespace) tags cell',
      'id,tags,op\nimg-1,  ,clear\n',
      [{ at: 2, id: 'img-1', clear: true }],
    ],
    [
      'tags are trimmed, empties dropped, duplicates removed, order kept',
      'id,tags\nimg-1, b | a || b |a \n',
      [{ at: 2, id: 'img-1', set: ['b', 'a'] }],
    ],
    [
      'tags are case-sensitive and may hold spaces and quotes',
      'id,tags\nimg-1,"Red|red|dark blue|5"" screen"\n',
      [{ at: 2, id: 'img-1', set: ['Red', 'red', 'dark blue', '5" screen'] }],
    ],
    [
      'header names are trimmed and case-insensitive; _ columns are annotations',
      ' ID ,_note, Tags ,_\nimg-1,hello,a,\n',
      [{ at: 2, id: 'img-1', set: ['a'] }],
    ],
    [
      'set/add/remove columns: each non-empty cell applies',
      'id,set,add,remove\nimg-1,a|b,c,d\nimg-2,,x,\nimg-3,,,y\nimg-4,z,,\n',
      [
        { at: 2, id: 'img-1', set: ['a', 'b'], add: ['c'], remove: ['d'] },
        { at: 3, id: 'img-2', add: ['x'] },
        { at: 4, id: 'img-3', remove: ['y'] },
        { at: 5, id: 'img-4', set: ['z'] },
      ],
    ],
    ['any subset of set/add/remove columns', 'remove,id\nold,img-1\n', [{ at: 2, id: 'img-1', remove: ['old'] }]],
    [
      'missing trailing cells count as empty',
      'id,add,remove\nimg-1,x\n',
      [{ at: 2, id: 'img-1', add: ['x'] }],
    ],
    [
      'blank lines and all-empty rows are skipped, lines still counted',
      '\nid,tags\n\nimg-1,a\n,\n  \nimg-2,b\n\n',
      [
        { at: 4, id: 'img-1', set: ['a'] },
        { at: 7, id: 'img-2', set: ['b'] },
      ],
    ],
    [
      'quoted multi-line cells: the record line is its first line',
      'id,tags,_note\nimg-1,a,"one\ntwo\nthree"\nimg-2,"b|\nc",x\nimg-3,d,\n',
      [
        { at: 2, id: 'img-1', set: ['a'] },
        { at: 5, id: 'img-2', set: ['b', 'c'] },
        { at: 7, id: 'img-3', set: ['d'] },
      ],
    ],
    [
      'CRLF line ends with a quoted CRLF inside a cell',
      'id,tags,_note\r\nimg-1,a,"x\r\ny"\r\n\r\nimg-2,b,\r\n',
      [
        { at: 2, id: 'img-1', set: ['a'] },
        { at: 5, id: 'img-2', set: ['b'] },
      ],
    ],
    ['CR-only line ends', 'id,tags\rimg-1,a\rimg-2,b', [
      { at: 2, id: 'img-1', set: ['a'] },
      { at: 3, id: 'img-2', set: ['b'] },
    ]],
    ['no final line end', 'id,tags\nimg-1,a', [{ at: 2, id: 'img-1', set: ['a'] }]],
    [
      'several rules for one id stay separate (composed later)',
      'id,tags,op\nimg-1,a,add\nimg-1,a,remove\n',
      [
        { at: 2, id: 'img-1', add: ['a'] },
        { at: 3, id: 'img-1', remove: ['a'] },
      ],
    ],
  ])('%s', async (_name, text, expected) => {
    const { rules, problems } = await csv(text);
    expect(brief(problems)).toEqual([]);
    expect(compact(rules)).toEqual(expected);
  });

  it('accepts a UTF-8 BOM', async () => {
    const { rules, problems } = await csv(Buffer.from('\uFEFFid,tags\r\nimg-1,é|ü\r\n', 'utf8'));
    expect(problems).toEqual([]);
    expect(compact(rules)).toEqual([{ at: 2, id: 'img-1', set: ['é', 'ü'] }]);
  });

  it('--tag-separator changes the separator; "|" is then part of a tag', async () => {
    const { rules } = await csv('id,tags\nimg-1,a;b|c\n', { tagSeparator: ';' });
    expect(compact(rules)).toEqual([{ at: 2, id: 'img-1', set: ['a', 'b|c'] }]);
    const multi = await csv('id,tags\nimg-1,a :: b\n', { tagSeparator: '::' });
    expect(compact(multi.rules)).toEqual([{ at: 2, id: 'img-1', set: ['a', 'b'] }]);
  });

  it('the rule source names the file as given', async () => {
    const file = await write('.csv', 'id,tags\nimg-1,a\n');
    const { rules } = await readAll(file);
    expect(rules[0]!.source).toEqual({ file, line: 2 });
  });

  it('reads the good samples', async () => {
    const sample = await readAll(join(fixtures, 'sample.csv'));
    expect(sample.problems).toEqual([]);
    expect(compact(sample.rules)).toEqual([
      { at: 2, id: 'img-0001', add: ['summer', 'beach'] },
      { at: 3, id: 'img-0002', remove: ['archived'] },
      { at: 4, id: 'img-0003', clear: true },
      { at: 5, id: 'img-0004', set: ['product', 'hero'] },
      { at: 6, id: 'img-0001', remove: ['beach'] },
    ]);
    const columns = await readAll(join(fixtures, 'columns.csv'));
    expect(columns.problems).toEqual([]);
    expect(compact(columns.rules)).toEqual([
      { at: 2, id: 'img-0005', add: ['new', 'featured'], remove: ['old'] },
      { at: 3, id: 'img-0006', set: ['red', 'green'] },
      { at: 4, id: 'img-0007', remove: ['draft'] },
      { at: 5, id: 'img-0008', set: ['base'], add: ['extra'], remove: ['base'] },
    ]);
    const excel = await readAll(join(fixtures, 'excel.csv'));
    expect(excel.problems).toEqual([]);
    expect(compact(excel.rules)).toEqual([
      { at: 2, id: 'img-0009', add: ['spring', 'sale'] },
      { at: 5, id: 'img-0010', set: ['quoted "name"'] },
    ]);
  });
});

describe('CSV reader: problems', () => {
  it.each<[string, string, string[], ManifestOptions?]>([
    ['empty id', 'id,tags\n,a\n  ,b\n', ['2: id is empty', '3: id is empty']],
    ['empty tags cell (no op column) says op=clear', 'id,tags\nimg-1,\n', [
      "2: the tags cell is empty, and a blank cell never clears an image's tags: to clear them use op=clear",
    ]],
    ['blank tags cell for op=set', 'id,tags,op\nimg-1, | ,set\n', [
      "2: the tags cell is empty, and a blank cell never clears an image's tags: to clear them use op=clear",
    ]],
    ['empty tags cell for add', 'id,tags,op\nimg-1,,add\n', ['2: the tags cell is empty: nothing to add']],
    ['op=clear with tags', 'id,tags,op\nimg-1,a,clear\n', [
      '2: op=clear takes no tags, but the tags cell holds "a": leave it empty, or use op=set',
    ]],
    ['unknown op', 'id,tags,op\nimg-1,a,append\n', ['2: unknown op "append": expected set, add, remove or clear']],
    ['empty op', 'id,tags,op\nimg-1,a,\n', ['2: op is empty: write set, add, remove or clear']],
    ['row with no operation', 'id,set,add\nimg-1,,\n', [
      "2: the row has no operation: its set, add cells are all empty (a blank cell never clears an image's tags: to clear them use op=clear in a tags column)",
    ]],
    ['set cell of separators only', 'id,set\nimg-1,|\n', [
      "2: the set cell holds no tags (only separators and spaces); a blank cell never clears an image's tags: to clear them use op=clear in a tags column",
    ]],
    ['a bad tag in a list column names the column', 'id,add\nimg-1,"ok|x\ty"\n', [
      '2: add cell: tag "x\\ty" contains U+0009 (a control character)',
    ]],
    ['tag longer than --max-tag-length', 'id,tags\nimg-1,abcdef|abc\n', [
      '2: tag "abcdef" is longer than 5 characters (6); see --max-tag-length',
    ], { maxTagLength: 5 }],
    ['--no-read rejects add/remove', 'id,tags,op\nimg-1,a,add\nimg-2,b,set\nimg-3,,clear\nimg-4,c,remove\n', [
      '2: add/remove need the current tags; drop --no-read',
      '5: add/remove need the current tags; drop --no-read',
    ], { requireSetOnly: true }],
    ['--no-read rejects add/remove columns', 'id,set,add\nimg-1,a,\nimg-2,,b\n', [
      '3: add/remove need the current tags; drop --no-read',
    ], { requireSetOnly: true }],
    ['several problems in one row are all reported', 'id,tags\nimg/1,"a|b\u0002|c\u0001"\n', [
      '2: id "img/1" contains "/" (not allowed: / ? # %)',
      '2: tag "b\\u0002" contains U+0002 (a control character)',
      '2: tag "c\\u0001" contains U+0001 (a control character)',
    ]],
    ['an unquoted comma makes extra cells', 'id,tags\nimg-1,red,green\nimg-2,blue,\n', [
      '2: the row has 3 cells but the header has 2 (a cell holding a comma must be quoted; tags are separated by "|")',
    ]],
    ['id with whitespace is not trimmed into a valid id', 'id,tags\n img-1,a\n', ['2: id " img-1" contains whitespace']],
    ['no header', 'img-1,a\n', [
      '1: the header has no "id" column (first row: "img-1", "a"); the first row must be a header naming the columns, e.g. id,tags or id,set,add,remove (or from,to for a rename map)',
    ]],
    ['no operation column', 'id\nimg-1\n', [
      '1: the header has no operation column: give "tags" (with an optional "op") or any of "set", "add", "remove"',
    ]],
    ['unknown column, with a suggestion', 'id,tags,opp\nimg-1,a,add\n', [
      '1: unknown column "opp" (did you mean "op"?); columns starting with "_" are annotations',
    ]],
    ['the header line is counted after blank lines', '\n\nid,tags,bogus\nimg-1,a,\n', [
      '3: unknown column "bogus"; columns starting with "_" are annotations',
    ]],
    ['duplicate column', 'id,add,add\nimg-1,a,b\n', ['1: column "add" appears twice in the header']],
    ['tags with set/add/remove', 'id,tags,remove\nimg-1,a,b\n', [
      '1: use either a "tags" column (with an optional "op") or "set"/"add"/"remove" columns, not both',
    ]],
    ['op without tags', 'id,op,add\nimg-1,add,a\n', ['1: an "op" column needs a "tags" column']],
    ['value under a nameless column', 'id,tags,\nimg-1,a,\nimg-2,b,x\n', [
      '3: cell 3 holds "x" but its column has no name in the header',
    ]],
    ['header only', 'id,tags\n', ['manifest is empty']],
    ['empty file', '', ['manifest is empty']],
    ['unclosed quote: reported at the record start, the rest is not read', 'id,tags\nimg-1,a\n\nimg-2,"b\nimg-3,c\n', [
      '4: malformed CSV: a quoted cell starting in this record is never closed; the rest of the file was not read',
    ]],
    ['quote inside an unquoted cell', 'id,tags,_n\nimg-1,a,"x\ny"\nimg-2,5"\nimg-3,c\n', [
      '4: malformed CSV: a quote in the middle of an unquoted cell (quote the whole cell and write the quote as ""); the rest of the file was not read',
    ]],
    ['text after a closing quote', 'id,tags\nimg-1,"a"b\n', [
      '2: malformed CSV: a closing quote is followed by more text in the same cell (write a quote inside a quoted cell as ""); the rest of the file was not read',
    ]],
    ['invalid UTF-8', Buffer.from([...Buffer.from('id,tags\nimg-1,caf'), 0xe9, 0x0a]).toString('latin1'), [
      '2: the text is not valid UTF-8: is the file UTF-8? If it is in another encoding, pass --encoding (e.g. --encoding windows-1252)',
    ]],
    // Rest parameters: a 4th named parameter would make Jest wait for a `done` callback.
  ])('%s', async (...[name, text, expected, opts]) => {
    const content = name === 'invalid UTF-8' ? Buffer.from(text, 'latin1') : text;
    const { problems } = await csv(content, opts);
    expect(brief(problems)).toEqual(expected);
  });

  it('yields the valid rows around a bad one', async () => {
    const { rules, problems } = await csv('id,tags\nimg-1,a\n,b\nimg-3,c\n');
    expect(compact(rules).map((r) => r.id)).toEqual(['img-1', 'img-3']);
    expect(brief(problems)).toEqual(['3: id is empty']);
  });

  it('keeps the rows before a syntax error', async () => {
    const { rules } = await csv('id,tags\nimg-1,a\nimg-2,"b\n');
    expect(compact(rules)).toEqual([{ at: 2, id: 'img-1', set: ['a'] }]);
  });

  it('an unclosed quote in a huge file stops at a bounded record size', async () => {
    const { rules, problems } = await csv(`id,tags\nimg-1,a\nimg-2,"${'x|'.repeat(2_200_000)}\n`);
    expect(compact(rules)).toEqual([{ at: 2, id: 'img-1', set: ['a'] }]);
    expect(brief(problems)).toEqual([
      '3: malformed CSV: a record is longer than 4194304 characters (an unclosed quote?); the rest of the file was not read',
    ]);
  });

  it('after a header problem, rows are still checked but none becomes a rule', async () => {
    const { rules, problems } = await csv('id,tags,opp\nimg-1,a,add\n,b,\n');
    expect(rules).toEqual([]);
    expect(brief(problems)).toEqual([
      '1: unknown column "opp" (did you mean "op"?); columns starting with "_" are annotations',
      '3: id is empty',
    ]);
  });

  it('a problem carries the row by column name (for rejects.ndjson)', async () => {
    const { problems } = await csv('id,tags,_note\nimg-1,,hi\n');
    expect(problems[0]!.raw).toEqual({ id: 'img-1', tags: '', _note: 'hi' });
  });
});

describe('JSON reader', () => {
  it('reads an array of rules; annotations dropped, tags normalised, paths as sources', async () => {
    const { rules, problems } = await json(
      JSON.stringify([
        { id: 'img-1', add: [' a ', 'a', 'b'], _note: 'x' },
        { id: 'img-2', clear: true, set: ['s'], add: ['t'], remove: ['s'] },
        { id: 'img-3', set: [] },
      ]),
    );
    expect(problems).toEqual([]);
    expect(compact(rules)).toEqual([
      { at: '$[0]', id: 'img-1', add: ['a', 'b'] },
      { at: '$[1]', id: 'img-2', clear: true, set: ['s'], add: ['t'], remove: ['s'] },
      { at: '$[2]', id: 'img-3', set: [] },
    ]);
  });

  it('reads an object map: a list is a set, an object a rule', async () => {
    const { rules, problems } = await json(
      '{"img-1": ["a", "b"], "img-2": {"add": ["c"]}, "img-3": [], "img-4": {"id": "img-4", "clear": true}}',
    );
    expect(problems).toEqual([]);
    expect(compact(rules)).toEqual([
      { at: '$["img-1"]', id: 'img-1', set: ['a', 'b'] },
      { at: '$["img-2"]', id: 'img-2', add: ['c'] },
      { at: '$["img-3"]', id: 'img-3', set: [] },
      { at: '$["img-4"]', id: 'img-4', clear: true },
    ]);
  });

  it('accepts a BOM and CRLF', async () => {
    const { rules } = await json('\uFEFF[\r\n{"id":"img-1","add":["a"]}\r\n]\r\n');
    expect(compact(rules)).toEqual([{ at: '$[0]', id: 'img-1', add: ['a'] }]);
  });

  it.each<[string, string, string[], ManifestOptions?]>([
    ['malformed JSON names the line', '[\n  {"id": "img-1", "add": ["a"]},\n  {"id": "img-2" "add": []}\n]', [
      "3: malformed JSON: Expected ',' or '}' after property value",
    ]],
    ['a trailing comma, with CRLF', '[\r\n{"id": "img-1"},\r\n]', ["3: malformed JSON: Unexpected token ']'"]],
    ['truncated JSON', '[{"id": "img-1"', ["1: malformed JSON: Expected ',' or '}' after property value"]],
    ['JSON cut short at the end', '[\n{"id": "img-1", "add": []}\n\n', ["2: malformed JSON: Expected ',' or ']' after array element"]],
    ['a bad escape', '[\n{"id": "img-\\q"}]', ['2: malformed JSON: Bad escaped character']],
    ['tag not a string, by path', '[{"id":"img-1","add":["a",null,{"x":1}]}]', [
      '$[0].add[1]: tag is not a string (got null)',
      '$[0].add[2]: tag is not a string (got an object)',
    ]],
    ['tag path in the map form points at the list', '{"img-1": ["ok", 3]}', ['$["img-1"][1]: tag is not a string (got a number (3))']],
    ['unknown key with suggestion', '[{"id":"img-1","ad":["x"],"set":["y"]}]', [
      '$[0]: unknown key "ad" (did you mean "add"?); keys starting with "_" are annotations',
    ]],
    ['"tags" suggests set', '[{"id":"img-1","tags":["x"]}]', [
      '$[0]: unknown key "tags" (did you mean "set"?); keys starting with "_" are annotations',
      '$[0]: rule has no operation: give at least one of clear, set, rename, add, remove',
    ]],
    ['a number id', '[{"id":7,"add":["x"]}]', ['$[0]: id must be a string, got a number (7)']],
    ['an empty id', '[{"id":"","add":["x"]}]', ['$[0]: id is empty']],
    ['a bad id as a map key', '{"a b": ["x"]}', ['$["a b"]: id "a b" contains whitespace']],
    ['an empty map key', '{"": ["x"]}', ['$[""]: id is empty']],
    ['a rule that is not an object', '[["img-1"]]', ['$[0]: a rule must be a JSON object, got an array']],
    ['duplicate key, also when escaped', '[{"id":"img-1","a\\u0064d":["x"],"add":["y"]}]', [
      '$[0]: duplicate key "add": JSON keeps only the last one',
    ]],
    ['duplicate key in a map value', '{"img-1": {"add":["x"],"add":["y"]}}', [
      '$["img-1"]: duplicate key "add": JSON keeps only the last one',
    ]],
    ['duplicate keys deeper (inside annotations) are not problems', '[{"id":"img-1","add":["x"],"_m":{"k":1,"k":2}}]', []],
    ['--no-read rejects add/remove', '[{"id":"img-1","set":["a"]},{"id":"img-2","remove":["a"]}]', [
      '$[1]: add/remove need the current tags; drop --no-read',
    ], { requireSetOnly: true }],
    ['empty object', '{}', ['manifest is empty']],
    ['whitespace only', '  \n', ['manifest is empty']],
  ])('%s', async (...[, text, expected, opts]) => {
    const { problems } = await json(text, opts);
    expect(brief(problems)).toEqual(expected);
  });

  it('reads the good samples', async () => {
    const sample = await readAll(join(fixtures, 'sample.json'));
    expect(sample.problems).toEqual([]);
    expect(sample.rules).toHaveLength(5);
    const map = await readAll(join(fixtures, 'map.json'));
    expect(map.problems).toEqual([]);
    expect(compact(map.rules)).toEqual([
      { at: '$["img-0015"]', id: 'img-0015', set: ['red', 'green'] },
      { at: '$["img-0016"]', id: 'img-0016', add: ['sale'], remove: ['full-price'] },
      { at: '$["img-0017"]', id: 'img-0017', clear: true },
      { at: '$["img-0018"]', id: 'img-0018', set: [] },
    ]);
  });
});

describe('NDJSON reader', () => {
  it('one rule per line; blank lines ignored; CRLF, lone CR and a BOM accepted', async () => {
    const { rules, problems } = await ndjson(
      '\uFEFF{"id":"img-1","add":["a"]}\r\n\r\n   \n{"id":"img-2","set":["b"]}\r{"id":"img-3","clear":true}\n',
    );
    expect(problems).toEqual([]);
    expect(compact(rules)).toEqual([
      { at: 1, id: 'img-1', add: ['a'] },
      { at: 4, id: 'img-2', set: ['b'] },
      { at: 5, id: 'img-3', clear: true },
    ]);
  });

  it('a bad line is a problem with its line number; the rest is still validated', async () => {
    const { rules, problems } = await ndjson(
      '{"id":"img-1","add":["a"]}\n{"id":"img-2",\n{"id":"img-3","add":["b"]}\n{"id":"img 4","add":["c"]}\nnull\n',
    );
    expect(compact(rules).map((r) => r.at)).toEqual([1, 3]);
    expect(brief(problems)).toEqual([
      "2: malformed JSON: Expected double-quoted property name",
      '4: id "img 4" contains whitespace',
      '5: a rule must be a JSON object, got null',
    ]);
  });

  it('problems inside a rule carry the line and the path within it', async () => {
    const { problems } = await ndjson('\n{"id":"img-1","set":["ok",1],"clear":false}\n');
    expect(brief(problems)).toEqual([
      '2: clear: clear must be true when present, got a boolean (false) (to keep the tags, leave clear out)',
      '2: set[1]: tag is not a string (got a number (1))',
    ]);
  });

  it('accepts failures.ndjson lines as written by the runner (_error, empty add)', async () => {
    const { rules, problems } = await ndjson(
      '{"id":"img-1","add":[],"_error":"503 after 6 attempts"}\n{"id":"img-2","clear":true,"_error":"not_found"}\n',
    );
    expect(problems).toEqual([]);
    expect(compact(rules)).toEqual([
      { at: 1, id: 'img-1', add: [] },
      { at: 2, id: 'img-2', clear: true },
    ]);
  });

  it('a duplicate key is a problem, not a silently lost list', async () => {
    const { rules, problems } = await ndjson('{"id":"img-1","remove":["a"],"remove":["b"]}\n');
    expect(rules).toEqual([]);
    expect(brief(problems)).toEqual(['1: duplicate key "remove": JSON keeps only the last one']);
  });

  it('.jsonl is NDJSON', async () => {
    const { rules } = await readAll(await write('.jsonl', '{"id":"img-1","add":["a"]}\n'));
    expect(compact(rules)).toEqual([{ at: 1, id: 'img-1', add: ['a'] }]);
  });

  it('reads the good sample', async () => {
    const { rules, problems } = await readAll(join(fixtures, 'sample.ndjson'));
    expect(problems).toEqual([]);
    expect(compact(rules).map((r) => [r.at, r.id])).toEqual([
      [1, 'img-0019'],
      [2, 'img-0020'],
      [4, 'img-0021'],
      [5, 'img-0022'],
      [6, 'img-0023'],
    ]);
  });
});

describe('format and file errors', () => {
  it('--format overrides the extension', async () => {
    const file = await write('.txt', 'id,tags\nimg-1,a\n');
    const { rules } = await readAll(file, { format: 'csv' });
    expect(compact(rules)).toEqual([{ at: 2, id: 'img-1', set: ['a'] }]);
  });

  it('an unknown extension is a usage error naming the file and --format', async () => {
    const file = await write('.txt', 'id,tags\n');
    await expect(readAll(file)).rejects.toThrow(UsageError);
    await expect(readAll(file)).rejects.toThrow(/m\d+\.txt.*--format/);
  });

  it('a missing file or a directory is a usage error', async () => {
    await expect(readAll(join(dir, 'nope.csv'))).rejects.toThrow(/cannot read manifest .*nope\.csv: no such file/);
    const sub = join(dir, 'a-dir.ndjson');
    await mkdir(sub);
    await expect(readAll(sub)).rejects.toThrow(/a-dir\.ndjson: it is a directory/);
    await expect(readAll(join(dir, 'nope.json'))).rejects.toThrow(UsageError);
  });

  it('bad options are usage errors', async () => {
    const file = await write('.csv', 'id,tags\nimg-1,a\n');
    await expect(readAll(file, { tagSeparator: ',' })).rejects.toThrow(/--tag-separator cannot contain a comma/);
    await expect(readAll(file, { tagSeparator: '' })).rejects.toThrow(/--tag-separator must be a non-empty string/);
    await expect(readAll(file, { maxTagLength: 0 })).rejects.toThrow(/--max-tag-length must be a whole number/);
  });
});

it('tags are never split on commas: a quoted CSV cell "a,b|c" holds the tags "a,b" and "c"', async () => {
  const csv = await readAll(await write('.csv', 'id,tags\nimg-1,"a,b|c"\n'));
  expect(csv.problems).toEqual([]);
  expect(csv.rules.map((r) => r.set)).toEqual([['a,b', 'c']]);
  const json = await readAll(await write('.json', '[{"id":"img-1","add":["red,green"]}]'));
  expect(json.problems).toEqual([]);
  expect(json.rules.map((r) => r.add)).toEqual([['red,green']]);
});
