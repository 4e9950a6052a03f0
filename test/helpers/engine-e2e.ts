/**
 * Shared by the test/engine-*.test.ts files (issue 7, "done when"): manifests over the
 * simulator's generated images, a small oracle of what an image holds after them, and readers
 * of what a run leaves in its journal.
 *
 * The oracle is written here from design.md §2, the slow and obvious way (nothing imported from
 * src/plan or src/manifest): the rules of an id apply in file order; within one rule clear, set,
 * rename (in place, duplicates dropped keeping the first position), add (appended when absent),
 * remove. The manifests below only use tags that need no normalisation, and never remove and
 * re-add one tag, so the order the oracle gives is the only one a correct engine can write.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface TestRule {
  id: string;
  clear?: true;
  set?: string[];
  rename?: Record<string, string>;
  add?: string[];
  remove?: string[];
}

/** What an image holding `before` holds after `rules` (those of other ids are ignored). */
export function expectedTags(id: string, before: readonly string[], rules: readonly TestRule[]): string[] {
  let tags = [...before];
  for (const r of rules) {
    if (r.id !== id) continue;
    if (r.clear) tags = [];
    if (r.set) tags = [...new Set(r.set)];
    if (r.rename) {
      const out: string[] = [];
      for (const t of tags) {
        const to = Object.prototype.hasOwnProperty.call(r.rename, t) ? r.rename[t]! : t;
        if (!out.includes(to)) out.push(to);
      }
      tags = out;
    }
    for (const t of r.add ?? []) if (!tags.includes(t)) tags.push(t);
    if (r.remove) tags = tags.filter((t) => !r.remove!.includes(t));
  }
  return tags;
}

/** id → expected tags for every image of `dump`, under `rules`. */
export function expectedLibrary(dump: Record<string, { tags: string[] }>, rules: readonly TestRule[]): Record<string, string[]> {
  const byId = new Map<string, TestRule[]>();
  for (const r of rules) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  const out: Record<string, string[]> = {};
  for (const [id, image] of Object.entries(dump)) out[id] = expectedTags(id, image.tags, byId.get(id) ?? []);
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

export interface JournalLine {
  id: string;
  outcome: string;
  before: string[] | null;
  after: string[] | null;
  op?: unknown;
  reason?: string;
  status?: number;
}

/** The complete lines of a run's journal (a torn line, or none at all, is left out). */
export function journalLines(runDir: string): JournalLine[] {
  const file = path.join(runDir, 'journal.ndjson');
  if (!existsSync(file)) return [];
  const out: JournalLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as JournalLine);
    } catch {
      /* the torn last line of a killed run */
    }
  }
  return out;
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

/** Poll `probe` every `everyMs` until it gives a value; throws after `timeoutMs`. */
export async function pollUntil<T>(probe: () => T | undefined | false, what: string, timeoutMs = 20_000, everyMs = 2): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A temporary directory and its removal. */
export async function scratch(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes (POST /update/) the simulator received since its stats were last reset. */
export function postCount(stats: { byEndpoint: Record<string, number> }): number {
  return stats.byEndpoint['POST /update/'] ?? 0;
}
