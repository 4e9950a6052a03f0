/**
 * Listings that move or misbehave (design.md §3 "A listing that moves", issue 9's last "done
 * when"): the BUILT CLI (`npm run build` first) against a simulator of 600 generated images,
 * asked for pages of 50. Sorted by last change, every write moves an image: ascending, a written
 * image jumps behind the scan's cursor and shifts the unread ones forward, so page-number paging
 * skips some; descending, it jumps to the front among images already read. Every run must end
 * with every image exactly as the independent oracle (test/helpers/oracle.ts) says, each changed
 * image written once, `failures.ndjson` listing exactly the ids that are not in the library, and
 * the summary reporting the passes and GET requests the scan cost.
 */
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startSimulator, type SimOptions, type Simulator } from '../src/sim/index.js';
import { changes, expectedTags, type OracleRule } from './helpers/oracle.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli, tempDir, type Finished } from './safe-harness.js';

type Dump = Record<string, { owner: string; tags: string[] }>;

const SIZE = 600;
const PAGE = 50;
const FAST = ['--rate', '2000', '--concurrency', '8', '--page-size', String(PAGE)];
const GHOSTS = ['ghost-1', 'img-999999', 'img-000600x'];

interface Summary {
  counts: { updated: number; unchanged: number; failed: number; total: number };
  scan: { passes: number; listRequests: number };
  scanned?: number;
  exitCode: number;
}

let sim: Simulator | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/**
 * A simulator whose every other image carries `summer`, seeded image by image in id order so
 * that the order by last change starts as the id order (ascending) or its reverse (descending),
 * with the tagged images spread through the whole listing.
 */
async function library(options: SimOptions): Promise<Simulator> {
  assertBuilt();
  const s = await startSimulator({ generate: SIZE, seed: 9, latencyMs: 2, ...options });
  s.library.ids('alice').forEach((id, i) => {
    const tags = s.library.get(id)!.tags;
    s.library.setTags(id, i % 2 === 0 ? [...tags, 'summer'] : tags);
  });
  sim = s;
  return s;
}

const RENAME: OracleRule = { where: { tag: 'summer' }, rename: { summer: 'summer-2026' } };

/** Id rules on every third image, the ids not in the library, and (libraryWide) the rename in the middle. */
function manifestRules(s: Simulator, libraryWide: boolean): OracleRule[] {
  const rules: OracleRule[] = s.library
    .ids('alice')
    .filter((_, i) => i % 3 === 0)
    .map((id) => ({ id, add: ['by-id'] }));
  rules.splice(40, 0, { id: GHOSTS[0]!, add: ['x'] });
  rules.push(...GHOSTS.slice(1).map((id): OracleRule => ({ id, set: ['x'] })));
  if (libraryWide) rules.splice(100, 0, RENAME);
  return rules;
}

interface Outcome {
  res: Finished;
  before: Dump;
  runDir: string;
  summary: Summary;
  stats: ReturnType<Simulator['stats']>;
  /** The structured log lines of the run (stderr is not a terminal: JSON lines). */
  logs: Array<Record<string, unknown> & { msg?: string }>;
}

async function runRules(s: Simulator, args: (manifest: string) => string[], rules: readonly OracleRule[] | undefined): Promise<Outcome> {
  const dir = await tempDir('retag-moving-');
  dirs.push(dir);
  const manifest = path.join(dir, 'rules.ndjson');
  if (rules) await writeFile(manifest, rules.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const runDir = path.join(dir, 'run');
  const before = s.library.dump();
  s.resetStats();
  const res = await runCli([...args(manifest), '--out', runDir, ...FAST], s);
  const logs = res.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { res, before, runDir, summary: readJson<Summary>(path.join(runDir, 'summary.json')), stats: s.stats(), logs };
}

/** Every image exactly as the oracle says (written ones: its list; others: untouched to the letter). */
function wrongIds(s: Simulator, before: Dump, rules: readonly OracleRule[]): string[] {
  const now = s.library.dump();
  return Object.entries(before)
    .filter(([id, v]) => {
      const want = changes(id, v.tags, rules) ? expectedTags(id, v.tags, rules) : v.tags;
      return JSON.stringify(now[id]!.tags) !== JSON.stringify(want);
    })
    .map(([id]) => id);
}

function changedIds(before: Dump, rules: readonly OracleRule[]): string[] {
  return Object.entries(before)
    .filter(([id, v]) => changes(id, v.tags, rules))
    .map(([id]) => id)
    .sort();
}

/** Exact checks every run shares: the oracle, one write per changed image, the GETs the summary reports. */
function expectRight(s: Simulator, o: Outcome, rules: readonly OracleRule[]): void {
  expect(wrongIds(s, o.before, rules)).toEqual([]);
  expect(Object.keys(o.stats.appliedById).sort()).toEqual(changedIds(o.before, rules));
  expect(o.stats.writtenMoreThanOnce).toEqual([]);
  expect(o.stats.byEndpoint['POST /update/'] ?? 0).toBe(changedIds(o.before, rules).length);
  const gets = (o.stats.byEndpoint['GET /get/'] ?? 0) + (o.stats.byEndpoint['GET /user/'] ?? 0);
  expect(o.summary.scan.listRequests).toBe(gets);
}

/** Exit 1, and failures.ndjson lists exactly the ids that are not in the library. */
function expectGhostsFailed(o: Outcome): void {
  expectExit(o.res, 1);
  expect(o.summary.exitCode).toBe(1);
  const failures = readNdjson<{ id: string; _error: string }>(path.join(o.runDir, 'failures.ndjson'));
  expect(failures.map((f) => f.id).sort()).toEqual([...GHOSTS].sort());
  for (const f of failures) expect(f._error).toMatch(/^not_found/);
}

describe('a library-wide rename over a listing sorted by last change', () => {
  test('ascending: the first pass misses images, a confirming pass catches every one', async () => {
    const s = await library({ listOrder: 'modified-asc' });
    const rules = [RENAME];
    const o = await runRules(s, () => ['rename', 'summer', 'summer-2026'], undefined);
    expectExit(o.res, 0);
    expect(changedIds(o.before, rules)).toHaveLength(SIZE / 2);
    expectRight(s, o, rules);
    // The first pass saw fewer images than the library holds (written ones moved behind it)…
    const confirming = o.logs.filter((l) => typeof l.seen === 'number' && l.pass === 2);
    expect(confirming).toHaveLength(1);
    expect(confirming[0]!.seen as number).toBeLessThan(SIZE);
    // …so a second pass read the whole listing (12 pages each, ending where the metadata says).
    expect(o.summary.scan).toEqual({ passes: 2, listRequests: 2 * (SIZE / PAGE) });
    expect(o.summary.scanned).toBe(SIZE);
    expect(o.summary.counts).toMatchObject({ updated: SIZE / 2, unchanged: 0, failed: 0, total: SIZE / 2 });
  });

  test('descending: written images jump to the front, among those already read: one pass suffices', async () => {
    const s = await library({ listOrder: 'modified-desc' });
    const rules = [RENAME];
    const o = await runRules(s, () => ['rename', 'summer', 'summer-2026'], undefined);
    expectExit(o.res, 0);
    expectRight(s, o, rules);
    expect(o.summary.scan).toEqual({ passes: 1, listRequests: SIZE / PAGE });
    expect(o.summary.scanned).toBe(SIZE);
    expect(o.summary.counts).toMatchObject({ updated: SIZE / 2, unchanged: 0, failed: 0, total: SIZE / 2 });
  });

  test('descending, id rules and the rename mixed with absent ids: exit 1 for exactly those', async () => {
    const s = await library({ listOrder: 'modified-desc' });
    const rules = manifestRules(s, true);
    const o = await runRules(s, (m) => ['run', m], rules);
    expectGhostsFailed(o);
    expectRight(s, o, rules);
    expect(o.summary.scanned).toBe(SIZE);
  });
});

describe('id rules over a listing sorted by last change, ascending', () => {
  test('the first pass misses named images; the confirming pass finds them; exit 1 (not 3) for exactly the absent ids', async () => {
    const s = await library({ listOrder: 'modified-asc' });
    const rules = manifestRules(s, false);
    const o = await runRules(s, (m) => ['run', m], rules);
    expectGhostsFailed(o);
    expectRight(s, o, rules);
    // More ids than the absent ones were missing after the first pass: the listing moved.
    const missing = o.logs.filter((l) => typeof l.missing === 'number');
    expect(missing.length).toBeGreaterThanOrEqual(1);
    expect(missing[0]!.missing as number).toBeGreaterThan(GHOSTS.length);
    expect(o.summary.scan.passes).toBe(1 + missing.length);
  });

  test('with the rename too (library-wide): every image right, exit 1 for exactly the absent ids', async () => {
    const s = await library({ listOrder: 'modified-asc' });
    const rules = manifestRules(s, true);
    const o = await runRules(s, (m) => ['run', m], rules);
    expectGhostsFailed(o);
    expectRight(s, o, rules);
    expect(o.summary.scanned).toBe(SIZE);
    expect(o.summary.scan.passes).toBe(2);
  });
});

describe('listings that misbehave without moving', () => {
  const CASES: Array<[string, SimOptions]> = [
    ['overlapping pages (each page after the first starts 7 records early; the metadata stays true)', { pageOverlap: 7 }],
    ['404 past the last page, and no metadata at all', { pastEnd: '404', listShape: 'items-nometa' }],
    ['a page size capped below the one asked (30 < 50)', { maxPageSize: 30 }],
    ['sorted by last change ascending, 404 past the end, no metadata', { listOrder: 'modified-asc', pastEnd: '404', listShape: 'items-nometa' }],
  ];

  test.each(CASES)('%s: id rules only, exit 1 for exactly the absent ids', async (_name, options) => {
    const s = await library(options);
    const rules = manifestRules(s, false);
    const o = await runRules(s, (m) => ['run', m], rules);
    expectGhostsFailed(o);
    expectRight(s, o, rules);
  });

  test.each(CASES)('%s: id rules and a library-wide rename, exit 1 for exactly the absent ids', async (_name, options) => {
    const s = await library(options);
    const rules = manifestRules(s, true);
    const o = await runRules(s, (m) => ['run', m], rules);
    expectGhostsFailed(o);
    expectRight(s, o, rules);
    expect(o.summary.scanned).toBe(SIZE);
  });
});
