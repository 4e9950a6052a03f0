/** The bad-manifest corpus: every file in fixtures/bad/ yields the problems its README lists. */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { formatProblem, readRules } from '../src/manifest/index.js';
import type { ManifestProblem, Rule } from '../src/plan/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const badDir = join(here, '..', 'fixtures', 'bad');

interface Expectation {
  file: string;
  where: string;
  fragment: string;
}

function readTable(): Expectation[] {
  const readme = readFileSync(join(badDir, 'README.md'), 'utf8');
  const rows: Expectation[] = [];
  for (const line of readme.split('\n')) {
    const m = /^\| `([^`]+)` \| (`[^`]+`|[^|]+?) \| `([^`]+)` \|$/.exec(line.trim());
    if (m) rows.push({ file: m[1]!, where: m[2]!.replace(/^`|`$/g, ''), fragment: m[3]! });
  }
  return rows;
}

async function readAll(file: string): Promise<{ rules: Rule[]; problems: ManifestProblem[] }> {
  const rules: Rule[] = [];
  const problems: ManifestProblem[] = [];
  for await (const item of readRules(file)) {
    if ('rule' in item) rules.push(item.rule);
    else problems.push(item.problem);
  }
  return { rules, problems };
}

function whereOf(p: ManifestProblem): string {
  if (p.source.line !== undefined) return String(p.source.line);
  return p.source.path ?? '-';
}

const table = readTable();

describe('fixtures/bad corpus', () => {
  it('lists every file of the directory, and only those', () => {
    const files = readdirSync(badDir).filter((f) => f !== 'README.md').sort();
    expect([...new Set(table.map((r) => r.file))].sort()).toEqual(files);
    expect(table.length).toBeGreaterThanOrEqual(40);
  });

  it.each(table.map((r) => [r.file, r.where, r.fragment] as const))(
    '%s → %s: %s',
    async (file, where, fragment) => {
      const path = join(badDir, file);
      const { problems } = await readAll(path);
      const matching = problems.filter((p) => whereOf(p) === where && p.message.includes(fragment));
      if (matching.length === 0) {
        throw new Error(`no problem at ${where} with "${fragment}"; got:\n${problems.map(formatProblem).join('\n')}`);
      }
      // Every problem names the file as given and a place (or is about the whole file).
      for (const p of problems) expect(p.source.file).toBe(path);
    },
  );

  it('yields no problem the README does not list', async () => {
    const byFile = new Map<string, Expectation[]>();
    for (const row of table) byFile.set(row.file, [...(byFile.get(row.file) ?? []), row]);
    const misplaced: string[] = [];
    for (const [file, rows] of byFile) {
      const { problems } = await readAll(join(badDir, file));
      // A file may hold a secondary consequence of its one mistake (e.g. "ad" also leaves no
      // operation), but never a problem at a place the README does not list.
      for (const p of problems) {
        if (!rows.some((r) => r.where === whereOf(p))) misplaced.push(formatProblem(p));
      }
    }
    expect(misplaced).toEqual([]);
  });
});
