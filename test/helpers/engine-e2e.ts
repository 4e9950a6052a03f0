/**
 * Shared by the test/engine-*.test.ts files (issue 7, "done when"): manifests over the
 * simulator's generated images, what the library must hold after them (from the one oracle,
 * test/helpers/oracle.ts: nothing here imports from src/plan or src/manifest), and readers of
 * what a run leaves in its journal. The manifests below only use tags that need no
 * normalisation, and never remove and re-add one tag, so the order the oracle gives is the only
 * one a correct engine can write: the comparisons here are exact, order included.
 */
import { writeFile } from 'node:fs/promises';
import { journalLines, pollUntil, tempDir, type JournalLine } from './cli.js';
import { heldAfterRun, expectedTags as oracleExpectedTags, type OracleRule } from './oracle.js';

export { journalLines, pollUntil, type JournalLine };

/** An id rule (the oracle's rule, with the id required). */
export interface TestRule extends OracleRule {
  id: string;
  clear?: true;
  set?: string[];
  rename?: Record<string, string>;
  add?: string[];
  remove?: string[];
}

/** What an image holding `before` holds after `rules` (those of other ids are ignored): the oracle's result. */
export function expectedTags(id: string, before: readonly string[], rules: readonly TestRule[]): string[] {
  return oracleExpectedTags(id, before, rules);
}

/** id → what every image of `dump` holds after a correct run of `rules` (untouched when they change nothing). */
export function expectedLibrary(dump: Record<string, { tags: string[] }>, rules: readonly TestRule[]): Record<string, string[]> {
  const byId = new Map<string, TestRule[]>();
  for (const r of rules) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  const out: Record<string, string[]> = {};
  for (const [id, image] of Object.entries(dump)) out[id] = heldAfterRun(id, image.tags, byId.get(id) ?? []);
  return out;
}

/** id → tags of a library dump. */
export function tagsOf(dump: Record<string, { tags: string[] }>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [id, image] of Object.entries(dump)) out[id] = image.tags;
  return out;
}

/** Ids whose tags are not exactly (same tags, same order) what `expected` says, with both. */
export function mismatches(actual: Record<string, { tags: string[] }>, expected: Record<string, string[]>): Array<{ id: string; expected: string[]; actual: string[] | undefined }> {
  const wrong: Array<{ id: string; expected: string[]; actual: string[] | undefined }> = [];
  for (const [id, tags] of Object.entries(expected)) {
    const now = actual[id]?.tags;
    if (JSON.stringify(now) !== JSON.stringify(tags)) wrong.push({ id, expected: tags, actual: now });
  }
  return wrong;
}

/**
 * Rules that change every image of the generated library (each adds a tag outside the
 * simulator's vocabulary), five shapes in turn: a set; an add with a remove; a clear then an
 * add; a rename with an add; and two rules for one id (an add, then a remove with an add).
 */
export function migrationRules(ids: readonly string[], tag = 'wave-1'): TestRule[] {
  const rules: TestRule[] = [];
  ids.forEach((id, i) => {
    switch (i % 5) {
      case 0:
        rules.push({ id, set: [`set-${i % 2}`, 'archive'] });
        break;
      case 1:
        rules.push({ id, add: [tag], remove: ['draft', 'legacy'] });
        break;
      case 2:
        rules.push({ id, clear: true, add: ['cleared'] });
        break;
      case 3:
        rules.push({ id, rename: { product: 'product-v2' }, add: [tag] });
        break;
      default:
        rules.push({ id, add: ['two-a'] }, { id, remove: ['hero'], add: ['two-b'] });
    }
  });
  return rules;
}

export async function writeRules(file: string, rules: readonly unknown[]): Promise<string> {
  await writeFile(file, rules.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

/** What the journal says so far: ids with an outcome line, and ids with a pending line and no outcome after it. */
export function journalState(runDir: string): { finished: Set<string>; pendingOnly: Set<string>; lines: number } {
  const finished = new Set<string>();
  const open = new Set<string>();
  const lines = journalLines(runDir);
  for (const e of lines) {
    if (e.outcome === 'pending') open.add(e.id);
    else {
      finished.add(e.id);
      open.delete(e.id);
    }
  }
  return { finished, pendingOnly: open, lines: lines.length };
}

/** A temporary directory and its removal. */
export async function scratch(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const { dir, cleanup } = tempDir(prefix);
  return { dir, cleanup: async () => cleanup() };
}

/** Writes (POST /update/) the simulator received since its stats were last reset. */
export function postCount(stats: { byEndpoint: Record<string, number> }): number {
  return stats.byEndpoint['POST /update/'] ?? 0;
}
