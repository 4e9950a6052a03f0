/**
 * The shorthands and the inventory end to end (issue 9; design.md §2 rename maps, §4
 * --max-changes, §7 rename, strip, tags): the BUILT CLI (`npm run build` first) against an
 * in-process simulator of 300 generated images whose tags the tests seed with
 * `sim.library.setTags` so that every case exists. Each image is checked against the
 * independent oracle (test/helpers/oracle.ts), and every write is counted by the simulator.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { changes, expectedTags, oracleTags, type OracleRule } from './helpers/oracle.js';
import { assertBuilt, expectExit, readNdjson, runCli, tempDir } from './safe-harness.js';

type Dump = Record<string, { owner: string; tags: string[] }>;

const FAST = ['--rate', '2000', '--concurrency', '8'];
const SIZE = 300;

let sim: Simulator;
let dir: string;

beforeEach(async () => {
  assertBuilt();
  dir = await tempDir('retag-shorthands-');
  sim = await startSimulator({ generate: SIZE, seed: 5 });
});
afterEach(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

const ids = () => sim.library.ids('alice');
const tagsOf = (id: string) => sim.library.get(id)!.tags;
/** Give the n-th image (1-based, every `step`-th from `from`) extra tags, by `place`. */
function seed(from: number, step: number, make: (tags: string[], n: number) => string[]): string[] {
  const touched: string[] = [];
  const all = ids();
  for (let n = from; n <= all.length; n += step) {
    const id = all[n - 1]!;
    sim.library.setTags(id, make(tagsOf(id), n));
    touched.push(id);
  }
  return touched;
}

/** Give every image of `target` new tags. */
function seedOn(target: Simulator, make: (tags: string[]) => string[]): void {
  for (const id of target.library.ids('alice')) target.library.setTags(id, make(target.library.get(id)!.tags));
}

/** Ids the rules change, by the oracle, over a dump. */
function changedIds(before: Dump, rules: readonly OracleRule[]): string[] {
  return Object.entries(before)
    .filter(([id, v]) => v.owner === 'alice' && changes(id, v.tags, rules))
    .map(([id]) => id)
    .sort();
}

/** Ids whose tags are not what the oracle says (changed: exactly its list; others: untouched, to the letter). */
function wrongIds(before: Dump, rules: readonly OracleRule[]): string[] {
  const now = sim.library.dump();
  return Object.entries(before)
    .filter(([id, v]) => {
      const want = changes(id, v.tags, rules) ? expectedTags(id, v.tags, rules) : v.tags;
      return JSON.stringify(now[id]!.tags) !== JSON.stringify(want);
    })
    .map(([id]) => id);
}

/** Exactly one POST per changed id, none for any other. */
function expectOneWriteEach(changed: readonly string[]): void {
  const stats = sim.stats();
  expect(Object.keys(stats.appliedById).sort()).toEqual([...changed].sort());
  expect(Object.values(stats.appliedById).every((n) => n === 1)).toBe(true);
  expect(stats.byEndpoint['POST /update/'] ?? 0).toBe(changed.length);
}

describe('retag rename <from> <to>', () => {
  const RULES: OracleRule[] = [{ where: { tag: 'summer' }, rename: { summer: 'summer-2026' } }];

  beforeEach(() => {
    seed(1, 7, (tags) => ['summer', ...tags]); // first
    seed(3, 11, (tags) => [...tags, 'summer']); // last
    seed(5, 13, (tags) => ['x', 'summer', 'y', ...tags]); // in the middle
    seed(6, 29, () => ['summer-2026', 'a', 'summer']); // the new name already there: summer goes
    seed(8, 31, () => [' summer ', 'b']); // untrimmed as stored: still summer once normalised
    seed(9, 37, () => ['Summer', 'summer 2026']); // other spellings: not touched
  });

  test('--dry-run sends no POST and leaves the library alone; plan.ndjson lists exactly the changes', async () => {
    const before = sim.library.dump();
    const changed = changedIds(before, RULES);
    expect(changed.length).toBeGreaterThan(50);
    sim.resetStats();
    const out = path.join(dir, 'dry');
    const res = await runCli(['rename', 'summer', 'summer-2026', '--dry-run', '--out', out, ...FAST], sim);
    expectExit(res, 0);
    expect(sim.stats().byEndpoint['POST /update/'] ?? 0).toBe(0);
    expect(sim.stats().byMethod['POST'] ?? 0).toBe(0);
    expect(sim.library.dump()).toEqual(before);
    const [header, ...plan] = readNdjson<{ id: string; after: string[]; action: string; retag_plan?: number }>(path.join(out, 'plan.ndjson'));
    expect(header!.retag_plan).toBe(1);
    const updates = plan.filter((p) => p.action === 'update');
    expect(updates.map((p) => p.id).sort()).toEqual(changed);
    for (const p of updates) expect(p.after).toEqual(expectedTags(p.id, before[p.id]!.tags, RULES));
  });

  test('changes exactly the images tagged summer, in place, one POST each', async () => {
    const before = sim.library.dump();
    const changed = changedIds(before, RULES);
    // Cross-check the oracle's selection with a plain reading of "carries summer".
    expect(changed).toEqual(Object.keys(before).filter((id) => oracleTags(before[id]!.tags).includes('summer')).sort());
    sim.resetStats();
    const res = await runCli(['rename', 'summer', 'summer-2026', '--out', path.join(dir, 'run'), ...FAST], sim);
    expectExit(res, 0);
    expect(wrongIds(before, RULES)).toEqual([]);
    expectOneWriteEach(changed);
    // Position kept, for instance: x, summer, y → x, summer-2026, y.
    const middle = ids()[4]!;
    expect(tagsOf(middle).slice(0, 3)).toEqual(['x', 'summer-2026', 'y']);
  });
});

describe('retag strip <tag>...', () => {
  const RULES: OracleRule[] = [{ where: { any: ['draft', 'spring sale'] }, remove: ['draft', 'spring sale'] }];

  test('removes the tags from exactly the images carrying any of them, one POST each; --dry-run sends none', async () => {
    seed(2, 9, (tags) => [...tags, 'spring sale']);
    seed(4, 23, (tags) => ['  spring sale', ...tags]); // untrimmed: still the tag
    seed(7, 41, (tags) => [...tags, 'Spring Sale', 'spring-sale']); // other spellings: kept
    seed(10, 43, () => ['draft', 'spring sale']); // both: left untagged
    const before = sim.library.dump();
    const changed = changedIds(before, RULES);
    expect(changed).toEqual(
      Object.keys(before)
        .filter((id) => oracleTags(before[id]!.tags).some((t) => t === 'draft' || t === 'spring sale'))
        .sort(),
    );
    expect(changed.length).toBeGreaterThan(40);

    sim.resetStats();
    const dry = await runCli(['strip', 'draft', 'spring sale', '--dry-run', '--out', path.join(dir, 'dry'), ...FAST], sim);
    expectExit(dry, 0);
    expect(sim.stats().byEndpoint['POST /update/'] ?? 0).toBe(0);
    expect(sim.library.dump()).toEqual(before);

    sim.resetStats();
    const res = await runCli(['strip', 'draft', 'spring sale', '--out', path.join(dir, 'run'), ...FAST], sim);
    expectExit(res, 0);
    expect(wrongIds(before, RULES)).toEqual([]);
    expectOneWriteEach(changed);
    for (const id of ids()) expect(oracleTags(tagsOf(id)).filter((t) => t === 'draft' || t === 'spring sale')).toEqual([]);
  });
});

describe('retag tags', () => {
  test('--format json equals the count computed from the library (normalised), most used first', async () => {
    seed(1, 17, (tags) => [...tags, 'caf\u00e9']); // NFC
    seed(2, 19, (tags) => [...tags, 'cafe\u0301']); // NFD: the same tag
    seed(3, 53, () => ['caf\u00e9', 'cafe\u0301 ', ' caf\u00e9']); // three spellings on one image: counted once
    seed(4, 61, () => ['  ', '']); // blank only: no tag
    const counts = new Map<string, number>();
    for (const image of Object.values(sim.library.dump())) {
      for (const t of new Set(oracleTags(image.tags))) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    sim.resetStats();
    const res = await runCli(['tags', '--format', 'json', '--page-size', '50', ...FAST], sim);
    expectExit(res, 0);
    const got = JSON.parse(res.stdout) as Array<{ tag: string; images: number }>;
    const byTag = (a: { tag: string }, b: { tag: string }) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
    expect([...got].sort(byTag)).toEqual([...counts].map(([tag, images]) => ({ tag, images })).sort(byTag));
    for (let i = 1; i < got.length; i++) expect(got[i]!.images).toBeLessThanOrEqual(got[i - 1]!.images);
    expect(got.find((t) => t.tag === 'caf\u00e9')!.images).toBe(counts.get('caf\u00e9'));
    expect(sim.stats().byEndpoint['POST /update/'] ?? 0).toBe(0);
    expect(sim.stats().byEndpoint['GET /get/']).toBe(Math.ceil(SIZE / 50));
  });

  test('--suggest groups case/space/-/_ variants onto the most used spelling; the file validates and renames across the library', async () => {
    const all = ids();
    const put = (tag: string, from: number, count: number) => {
      for (let n = 0; n < count; n++) {
        const id = all[from + n * 3]!;
        sim.library.setTags(id, [...tagsOf(id), tag]);
      }
    };
    put('Sale', 0, 4);
    put('SALE', 30, 2);
    put('sale ', 60, 3); // the same tag as sale once trimmed
    put('hero_banner', 90, 6);
    put('hero-banner', 120, 3);
    put('Hero Banner', 150, 2);
    const before = sim.library.dump();
    const count = (tag: string) => Object.values(before).filter((i) => oracleTags(i.tags).includes(tag)).length;
    // The generated library uses "sale" more than any other spelling of it.
    expect(count('sale')).toBeGreaterThan(count('Sale'));

    const file = path.join(dir, 'merge.csv');
    const res = await runCli(['tags', '--format', 'json', '--suggest', file, ...FAST], sim);
    expectExit(res, 0);
    const [header, ...rows] = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    expect(header).toBe('from,to');
    expect(rows.sort()).toEqual(['Hero Banner,hero_banner', 'SALE,sale', 'Sale,sale', 'hero-banner,hero_banner'].sort());

    const validate = await runCli(['validate', file], sim);
    expectExit(validate, 0);

    // The map, run as a manifest: each row is {where: {tag: from}, rename: {from: to}}, in file order.
    const rules: OracleRule[] = rows.map((r) => {
      const [from, to] = r.split(',') as [string, string];
      return { where: { tag: from }, rename: { [from]: to } };
    });
    const changed = changedIds(before, rules);
    expect(changed.length).toBe(4 + 2 + 3 + 2);
    sim.resetStats();
    const run = await runCli(['run', file, '--out', path.join(dir, 'merge-run'), ...FAST], sim);
    expectExit(run, 0);
    expect(wrongIds(before, rules)).toEqual([]);
    expectOneWriteEach(changed);
    const after = JSON.parse((await runCli(['tags', '--format', 'json', ...FAST], sim)).stdout) as Array<{ tag: string; images: number }>;
    const spellings = after.map((t) => t.tag).filter((t) => /^sale$|^hero.banner$/i.test(t));
    expect(spellings.sort()).toEqual(['hero_banner', 'sale']);
    expect(after.find((t) => t.tag === 'hero_banner')!.images).toBe(6 + 3 + 2);
  });
});

describe('CSV rename maps (from,to)', () => {
  test('a from,to CSV renames across the library, each row in place', async () => {
    seed(1, 5, (tags) => ['summer', ...tags]);
    seed(2, 8, (tags) => [...tags, 'old name', 'keep']);
    const file = path.join(dir, 'map.csv');
    await writeFile(file, 'from,to\nsummer,summer-2026\nold name,new-name\nlegacy,archive\n');
    const rules: OracleRule[] = [
      { where: { tag: 'summer' }, rename: { summer: 'summer-2026' } },
      { where: { tag: 'old name' }, rename: { 'old name': 'new-name' } },
      { where: { tag: 'legacy' }, rename: { legacy: 'archive' } },
    ];
    const before = sim.library.dump();
    const changed = changedIds(before, rules);
    sim.resetStats();
    const res = await runCli(['run', file, '--out', path.join(dir, 'run'), ...FAST], sim);
    expectExit(res, 0);
    expect(wrongIds(before, rules)).toEqual([]);
    expectOneWriteEach(changed);
  });

  test('an empty to cell is exit 2, naming the line, with no request sent', async () => {
    const file = path.join(dir, 'bad-map.csv');
    await writeFile(file, 'from,to\nsummer,summer-2026\ndraft,\n');
    const before = sim.library.dump();
    sim.resetStats();
    const res = await runCli(['run', file, '--out', path.join(dir, 'run'), ...FAST], sim);
    expectExit(res, 2);
    expect(res.stderr).toContain(`${file}:3: to is empty`);
    expect(sim.stats().requests).toBe(0);
    expect(sim.library.dump()).toEqual(before);
  });
});

describe('--max-changes (design.md §4)', () => {
  // One simulator for both steps: the resume continues the budgeted run.
  let budgetSim: Simulator;
  let runDir: string;
  let before: Dump;
  const RULES: OracleRule[] = [{ where: { tag: 'summer' }, rename: { summer: 'summer-2026' } }];
  let budgetDir: string;
  beforeAll(async () => {
    budgetSim = await startSimulator({ generate: SIZE, seed: 5 });
    budgetDir = await tempDir('retag-shorthands-budget-');
  });
  afterAll(async () => {
    await budgetSim?.close();
    await rm(budgetDir, { recursive: true, force: true });
  });

  test('over 300 selected images: exactly 25 writes are sent, exit 3', async () => {
    seedOn(budgetSim, (tags) => [...tags, 'summer']);
    before = budgetSim.library.dump();
    expect(changedIds(before, RULES)).toHaveLength(SIZE);
    runDir = path.join(budgetDir, 'run');
    budgetSim.resetStats();
    const first = await runCli(['rename', 'summer', 'summer-2026', '--max-changes', '25', '--out', runDir, ...FAST], budgetSim);
    expectExit(first, 3);
    expect(budgetSim.stats().byEndpoint['POST /update/'] ?? 0).toBe(25);
    expect(Object.keys(budgetSim.stats().appliedById)).toHaveLength(25);
  });

  test('a --resume with a larger budget completes: every image right, each written once over both runs', async () => {
    const resumed = await runCli(['rename', 'summer', 'summer-2026', '--resume', runDir, '--max-changes', '1000', ...FAST], budgetSim);
    expectExit(resumed, 0);
    const now = budgetSim.library.dump();
    expect(Object.keys(before).filter((id) => JSON.stringify(now[id]!.tags) !== JSON.stringify(expectedTags(id, before[id]!.tags, RULES)))).toEqual([]);
    const stats = budgetSim.stats();
    expect(Object.keys(stats.appliedById).sort()).toEqual(changedIds(before, RULES));
    expect(stats.writtenMoreThanOnce).toEqual([]);
    expect(stats.byEndpoint['POST /update/']).toBe(SIZE);
  });
});
