/**
 * Library-wide rules end to end (issue 9, first "done when"; design.md §2, §3): the BUILT CLI
 * (`npm run build` first) against a simulator seeded with 1,000 generated images of alice's
 * plus an image of bob's that the manifest names by id. A manifest mixing where rules of every
 * selector kind, renames (a swap among them), id rules before and after them, a rule matching
 * nothing and the foreign id must leave every image exactly as the independent oracle
 * (test/helpers/oracle.ts) says, write nothing for an image that does not change, list just the
 * foreign id in failures.ndjson, exit 1, report the zero-match rule, and undo completely.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { changes, expectedTags, matchedCounts, selected, type OracleRule } from './helpers/oracle.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli, tempDir } from './safe-harness.js';

type Dump = Record<string, { owner: string; tags: string[] }>;

const FAST = ['--rate', '2000', '--concurrency', '8'];

interface Summary {
  counts: { updated: number; unchanged: number; failed: number; conflict: number; skipped: number; total: number };
  requests: { total: number; reads: number; writes: number };
  scanned: number;
  scan: { passes: number; listRequests: number };
  rules: Array<{ rule: string; matched: number }>;
  exitCode: number;
}

/** Alice's images before the run, as the oracle takes them. */
function aliceImages(before: Dump): Array<{ id: string; tags: string[] }> {
  return Object.entries(before)
    .filter(([, v]) => v.owner === 'alice')
    .map(([id, v]) => ({ id, tags: v.tags }));
}

/**
 * Ids whose tags on the server are not what the oracle says: a changed image holds exactly
 * the oracle's list (order included: it is what was written); an unchanged one holds exactly
 * what it held (never written).
 */
function wrongIds(sim: Simulator, before: Dump, rules: readonly OracleRule[]): string[] {
  const now = sim.library.dump();
  const wrong: string[] = [];
  for (const { id, tags } of aliceImages(before)) {
    const want = changes(id, tags, rules) ? expectedTags(id, tags, rules) : tags;
    if (JSON.stringify(now[id]?.tags) !== JSON.stringify(want)) wrong.push(id);
  }
  return wrong;
}

const ndjson = (rules: readonly OracleRule[]) => rules.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Line (1-based) of each where rule in an NDJSON manifest written by `ndjson`. */
const whereLines = (rules: readonly OracleRule[]) => rules.flatMap((r, i) => (r.where !== undefined ? [i + 1] : []));

describe('a mixed library-wide manifest over 1,000 images (built CLI, simulator)', () => {
  let sim: Simulator;
  let dir: string;
  beforeAll(async () => {
    assertBuilt();
    dir = await tempDir('retag-library-wide-');
    sim = await startSimulator({ generate: 1000, seed: 11, keys: { sk_test_bob: 'bob' } });
    // Someone else's image, named by an id rule: alice's key never sees it.
    sim.library.add({ id: 'bob-0001', owner: 'bob', tags: ['product'] });
    // Tags as read are normalised before the rules apply (and kept exactly in the journal).
    sim.library.setTags('img-000005', [' draft', 'hero', 'hero ', 'banner']);
    sim.library.setTags('img-000006', ['  ']);
    sim.library.setTags('img-000007', ['summer-2024', 'x', 'winter-2024']);
  });
  afterAll(async () => {
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  });

  // prettier-ignore
  const RULES: OracleRule[] = [
    /*  1 */ { id: 'img-000001', add: ['promo'] },                                   // id rule before: rule 9 must see it
    /*  2 */ { id: 'bob-0001', add: ['x'] },                                         // bob's: not in alice's library
    /*  3 */ { where: { tag: 'draft' }, rename: { draft: 'wip' } },
    /*  4 */ { where: { all: ['hero', 'banner'] }, add: ['hero-banner'] },
    /*  5 */ { where: { any: ['summer-2024', 'winter-2024'] }, rename: { 'summer-2024': 'winter-2024', 'winter-2024': 'summer-2024' } },
    /*  6 */ { where: { untagged: true }, set: ['needs-review'] },
    /*  7 */ { where: { none: ['product', 'hero', 'banner', 'thumbnail', 'needs-review'] }, add: ['misc'] },
    /*  8 */ { where: { id_prefix: 'img-00001' }, add: ['first-batch'] },
    /*  9 */ { where: { tag: 'promo' }, rename: { promo: 'promo-2026' } },
    /* 10 */ { where: { tag: 'no-such-tag' }, remove: ['x'] },                       // matches nothing
    /* 11 */ { id: 'img-000002', set: ['pinned', 'wip'] },                           // id rules after
    /* 12 */ { id: 'img-000003', rename: { product: 'prod' }, add: ['draft'] },
    /* 13 */ { where: { tag: 'wip', untagged: false }, add: ['was-draft'] },         // sees rule 3 and rule 11
    /* 14 */ { where: {}, remove: ['legacy'] },                                      // every image; most unchanged
    /* 15 */ { id: 'img-000004', add: ['last'] },
  ];
  const ZERO_MATCH_LINE = 10;

  let before: Dump;
  let manifest: string;
  let runDir: string;
  let res: Awaited<ReturnType<typeof runCli>>;
  let stats: ReturnType<Simulator['stats']>;

  test('the run: every image ends exactly as the oracle says; exit 1 for the foreign id alone', async () => {
    manifest = path.join(dir, 'mixed.ndjson');
    runDir = path.join(dir, 'run');
    await writeFile(manifest, ndjson(RULES));
    before = sim.library.dump();
    // The oracle's own sanity: every where rule but the zero-match one selects something.
    const counts = matchedCounts(aliceImages(before), RULES);
    expect(counts.filter((n) => n === 0)).toHaveLength(1);
    sim.resetStats();
    const started = Date.now();
    res = await runCli(['run', manifest, '--out', runDir, ...FAST], sim);
    stats = sim.stats();
    expectExit(res, 1);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(sim.library.get('bob-0001')!.tags).toEqual(['product']);
    expect(wrongIds(sim, before, RULES)).toEqual([]);
  });

  test('one POST per image that changes, none for any other', () => {
    const changed = aliceImages(before).filter(({ id, tags }) => changes(id, tags, RULES)).map((i) => i.id).sort();
    expect(changed.length).toBeGreaterThan(500);
    expect(Object.keys(stats.appliedById).sort()).toEqual(changed);
    expect(Object.values(stats.appliedById).every((n) => n === 1)).toBe(true);
    expect(stats.byEndpoint['POST /update/']).toBe(changed.length);
    expect(stats.byMethod['DELETE'] ?? 0).toBe(0);
  });

  test('failures.ndjson lists just the foreign id, as a valid rule', () => {
    const failures = readNdjson<{ id: string; add?: string[]; _error?: string }>(path.join(runDir, 'failures.ndjson'));
    expect(failures.map((f) => f.id)).toEqual(['bob-0001']);
    expect(failures[0]!.add).toEqual(['x']);
    expect(failures[0]!._error).toMatch(/not_found/);
  });

  test('summary.json: counts, scanned = the library size, rules[] with every where rule and its matches', () => {
    const summary = readJson<Summary>(path.join(runDir, 'summary.json'));
    const images = aliceImages(before);
    const items = images.filter(({ id, tags }) => selected(id, tags, RULES));
    const changed = images.filter(({ id, tags }) => changes(id, tags, RULES));
    expect(summary.exitCode).toBe(1);
    expect(summary.scanned).toBe(sim.library.ids('alice').length);
    expect(summary.scanned).toBe(1000);
    expect(summary.counts).toEqual({
      updated: changed.length,
      unchanged: items.length - changed.length,
      failed: 1,
      conflict: 0,
      skipped: 0,
      total: items.length + 1,
    });
    expect(summary.requests.writes).toBe(changed.length);
    expect(summary.scan.listRequests).toBe(stats.byEndpoint['GET /get/']);
    expect(summary.rules).toEqual(
      whereLines(RULES).map((line, i) => ({ rule: `${manifest}:${line}`, matched: matchedCounts(images, RULES)[i] })),
    );
  });

  test('the zero-match rule, and only it, is reported on stderr as `rule <file>:<line> matched no image`', () => {
    const reported = new Set([...res.stderr.matchAll(/rule (\S+) matched no image/g)].map((m) => m[1]));
    expect([...reported]).toEqual([`${manifest}:${ZERO_MATCH_LINE}`]);
    // In the human summary (a line of its own), not only in the JSON log.
    expect(res.stderr.split('\n').map((l) => l.trim())).toContain(`rule ${manifest}:${ZERO_MATCH_LINE} matched no image`);
  });

  test('retag undo of the run restores every image to the letter', async () => {
    sim.resetStats();
    const undo = await runCli(['undo', runDir, '--out', path.join(dir, 'undo'), ...FAST], sim);
    expectExit(undo, 0);
    expect(sim.library.dump()).toEqual(before);
    const changed = aliceImages(before).filter(({ id, tags }) => changes(id, tags, RULES)).length;
    expect(sim.stats().byEndpoint['POST /update/']).toBe(changed);
  });
});

describe('a swap whose write landed but whose reply was lost (design.md §4, §7 resume)', () => {
  let sim: Simulator;
  let dir: string;
  beforeEach(async () => {
    assertBuilt();
    dir = await tempDir('retag-library-wide-swap-');
    // Every third update is applied and then answered 500; with --retries 0 the item fails.
    sim = await startSimulator({ generate: 200, seed: 3, faultAfterApplyRate: 0.3 });
    for (const id of sim.library.ids('alice').slice(0, 100)) sim.library.setTags(id, ['a', 'x']);
  });
  afterEach(async () => {
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('--resume completes the swap without swapping the landed writes back', async () => {
    const rules: OracleRule[] = [{ where: { any: ['a', 'b'] }, rename: { a: 'b', b: 'a' } }];
    const manifest = path.join(dir, 'swap.ndjson');
    await writeFile(manifest, ndjson(rules));
    const before = sim.library.dump();
    const runDir = path.join(dir, 'run');
    const first = await runCli(['run', manifest, '--out', runDir, '--retries', '0', ...FAST], sim);
    expectExit(first, 1);
    // Every write was applied, acknowledged or not: the library is already swapped.
    expect(wrongIds(sim, before, rules)).toEqual([]);
    const failed = readNdjson<{ id: string }>(path.join(runDir, 'failures.ndjson')).length;
    expect(failed).toBeGreaterThan(0);
    const resumed = await runCli(['run', manifest, '--resume', runDir, '--retries', '8', ...FAST], sim);
    expectExit(resumed, 0);
    expect(wrongIds(sim, before, rules)).toEqual([]);
  });
});
