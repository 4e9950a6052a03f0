/**
 * NDJSON lines skip the duplicate-key scan only when no repeated key is possible
 * (src/manifest/read-ndjson.ts mayRepeatKeys): every repeated key is still a problem
 * (design.md §2: JSON keeps only the last one, a silently lost list), spelled plainly or escaped,
 * at the top level or inside rename/where; a key's spelling seen again as a value is no problem.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, readRules } from '../src/manifest/index.js';
import type { ManifestProblem } from '../src/plan/types.js';

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retag-dupkeys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function problemsOf(line: string): Promise<{ rules: number; problems: string[] }> {
  const file = join(dir, `m${++counter}.ndjson`);
  await writeFile(file, `${line}\n`);
  let rules = 0;
  const problems: ManifestProblem[] = [];
  for await (const item of readRules(file)) {
    if ('rule' in item) rules++;
    else problems.push(item.problem);
  }
  return { rules, problems: problems.map((p) => formatProblem({ ...p, source: { ...p.source, file: '' } }).replace(/^:/, '').trimStart()) };
}

const DUP = (key: string) => `1: duplicate key "${key}": JSON keeps only the last one`;

describe('duplicate keys in NDJSON lines', () => {
  it.each<[string, string, number, string[]]>([
    ['plain repeat', '{"id":"img-1","add":["a"],"add":["b"]}', 0, [DUP('add')]],
    ['repeat of the id', '{"id":"img-1","add":["a"],"id":"img-2"}', 0, [DUP('id')]],
    ['repeat spelled with an escape', '{"id":"img-1","a\\u0064d":["a"],"add":["b"]}', 0, [DUP('add')]],
    ['escape elsewhere in the line, repeat plain', '{"id":"img-\\u0031","remove":["x"],"remove":["y"]}', 0, [DUP('remove')]],
    ['whitespace around the repeat', '{ "id" : "img-1" , "add" : ["a"] , "add" : ["b"] }', 0, [DUP('add')]],
    ['no repeat, one key spelled again as a tag', '{"id":"img-1","add":["add","id"]}', 1, []],
    ['no repeat, an escape in a tag', '{"id":"img-1","add":["say \\"hi\\""]}', 1, []],
    ['no repeat, a plain line', '{"id":"img-1","set":["a","b"]}', 1, []],
  ])('%s', async (_name, line, rules, problems) => {
    const got = await problemsOf(line);
    expect(got.problems).toEqual(problems);
    expect(got.rules).toBe(rules);
  });

  it('a repeat inside rename is found, with no repeat at the top level', async () => {
    const got = await problemsOf('{"id":"img-1","rename":{"old":"a","old":"b"}}');
    expect(got.rules).toBe(0);
    expect(got.problems).toEqual(['1: rename: duplicate key "old": JSON keeps only the last one']);
  });
});
