/**
 * Boundaries of the tag-safety rules (issue 12), end to end: the built CLI against the
 * in-process simulator, expected tags from the independent oracle (test/helpers/oracle.ts).
 *
 * - The failure budget at exactly N: `--max-failures 3` with 3 failing items is no abort (exit 1,
 *   every other item done); with 4 it is exit 3. The same at `--max-failures 10%`, on 30 items
 *   (10% is exactly 3) and 35 (3.5: a 4th failure is more than the budget).
 * - `--max-changes N` at the boundary: exactly N changing images is exit 0; N + 1 is exit 3 with
 *   exactly N writes sent (unchanged images never count), and a resume with a larger budget
 *   sends only the one left.
 * - Resume of items journaled `unchanged`: skipped unread, with no request, even once the image
 *   has moved so that their rule would now change it; resume of `failed` items (not found, 403,
 *   500): done again, exactly once each, and nothing else is written.
 * - A crash with the key from a job file's `apiKeyFile`: the crash text is shown, the key never.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { tempDir as scratchDir } from './helpers/cli.js';
import { postCount } from './helpers/engine-e2e.js';
import { heldAfterRun, type OracleRule } from './helpers/oracle.js';
import { assertBuilt, expectExit, journalIds, readJson, ROOT, runCli, wrongImages } from './safe-harness.js';

const SEED_FILE = path.join(ROOT, 'fixtures/library.json');
const FAST = ['--rate', '300', '--concurrency', '4', '--log-level', 'warn'];

// Every test's files under one directory, removed at the end.
const scratch = scratchDir('retag-boundaries-');
afterAll(() => scratch.cleanup());
async function tempDir(): Promise<string> {
  return mkdtempSync(path.join(scratch.dir, 't-'));
}

interface Counts {
  updated: number;
  unchanged: number;
  failed: number;
  conflict: number;
  skipped: number;
  total: number;
}

interface Summary {
  exitCode: number;
  aborted?: string;
  unfinished?: number;
  counts: Counts;
  failuresByReason: Record<string, number>;
  wholeRun?: Counts;
}

/** Alice's images in listing order, from `from` on (1-based), `n` of them. */
function aliceIds(sim: Simulator, from: number, n: number): string[] {
  const ids = sim.library.ids('alice').slice(from - 1, from - 1 + n);
  if (ids.length !== n) throw new Error(`the fixture has fewer than ${from - 1 + n} images of alice`);
  return ids;
}

async function writeManifest(dir: string, rules: readonly OracleRule[], name = 'm.ndjson'): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, rules.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

/** Those of `ids` whose tags are not exactly (order included) what the oracle says a correct run leaves. */
function wrongAmong(sim: Simulator, before: Record<string, { tags: string[] }>, rules: readonly OracleRule[], ids: readonly string[]): string[] {
  return ids.filter((id) => JSON.stringify(sim.library.get(id)?.tags) !== JSON.stringify(heldAfterRun(id, before[id]!.tags, rules)));
}

/** Move an image to another owner (as if it were transferred): the listing and the 403 follow. */
function giveTo(sim: Simulator, id: string, owner: string): void {
  const image = sim.library.get(id)!;
  sim.library.remove(id);
  sim.library.add({ id, owner, tags: image.tags });
}

describe('the failure budget at exactly N', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ seedFile: SEED_FILE, latencyMs: 1 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  // Ids the listing never shows: not_found, decided without a request once the scan is done.
  const ghosts = (n: number) => Array.from({ length: n }, (_, i) => `ghost-${i + 1}`);

  test.each<[string, number, number, number, 'within' | 'exceeded']>([
    ['3', 12, 3, 1, 'within'],
    ['3', 12, 4, 3, 'exceeded'],
    ['10%', 27, 3, 1, 'within'], // 30 items: 10% allows exactly 3
    ['10%', 26, 4, 3, 'exceeded'],
    ['10%', 32, 3, 1, 'within'], // 35 items: 10% is 3.5, so 3 is within…
    ['10%', 31, 4, 3, 'exceeded'], // …and a 4th is more than the budget
  ])('--max-failures %s, %i images found and %i not found → exit %i (%s)', async (budget, good, bad, code, verdict) => {
    const dir = await tempDir();
    const tag = `budget-${budget.replace('%', 'pct')}-${good}-${bad}`;
    const found = aliceIds(sim, 1, good);
    // The missing ids are spread through the manifest, not all at its end.
    const ids = [...found];
    ghosts(bad).forEach((g, i) => ids.splice(Math.floor(((i + 1) * ids.length) / (bad + 1)), 0, g));
    const rules: OracleRule[] = ids.map((id) => ({ id, add: [tag] }));
    const manifest = await writeManifest(dir, rules);
    const before = sim.library.dump();
    sim.resetStats();

    const res = await runCli(['run', manifest, '--out', path.join(dir, 'run'), '--max-failures', budget, ...FAST], sim);
    expectExit(res, code);
    const summary = readJson<Summary>(path.join(dir, 'run', 'summary.json'));
    expect(summary.exitCode).toBe(code);
    if (verdict === 'within') {
      expect(summary.aborted).toBeUndefined();
      // Every other item done: written once, holding what the oracle says.
      expect(summary.counts).toMatchObject({ updated: good, failed: bad, unchanged: 0, total: good + bad });
      expect(summary.failuresByReason).toEqual({ not_found: bad });
      expect(summary.unfinished ?? 0).toBe(0);
      expect(wrongAmong(sim, before, rules, found)).toEqual([]);
      expect(postCount(sim.stats())).toBe(good);
    } else {
      expect(summary.aborted).toMatch(new RegExp(`^failure budget exceeded: ${bad} items failed \\(--max-failures allows 3\\)`));
      expect(res.stderr).toContain('failure budget exceeded');
    }
  });

  test.each<[number, number]>([
    [3, 1],
    [4, 3],
  ])("--no-read, --max-failures 3, %i of bob's images among alice's (403 each) → exit %i", async (forbidden, code) => {
    const dir = await tempDir();
    const tag = `refused-${forbidden}`;
    const found = aliceIds(sim, 40, 14);
    const bobs = sim.library.ids('bob').slice(0, forbidden);
    expect(bobs).toHaveLength(forbidden);
    const ids = [...found];
    bobs.forEach((b, i) => ids.splice(2 + 3 * i, 0, b));
    // --no-read writes without reading, so a rule must say the whole list: set.
    const rules: OracleRule[] = ids.map((id) => ({ id, set: [tag, 'no-read'] }));
    const manifest = await writeManifest(dir, rules);
    const before = sim.library.dump();
    sim.resetStats();

    const res = await runCli(['run', manifest, '--no-read', '--concurrency', '1', '--rate', '300', '--log-level', 'warn', '--out', path.join(dir, 'run'), '--max-failures', '3'], sim);
    expectExit(res, code);
    const summary = readJson<Summary>(path.join(dir, 'run', 'summary.json'));
    // Bob's images are refused, never changed.
    for (const b of bobs) expect([b, sim.library.get(b)!.tags]).toEqual([b, before[b]!.tags]);
    expect(sim.stats().byStatus['403']).toBe(forbidden);
    if (code === 1) {
      expect(summary.aborted).toBeUndefined();
      expect(summary.counts).toMatchObject({ updated: found.length, failed: forbidden, total: found.length + forbidden });
      expect(summary.failuresByReason).toEqual({ forbidden });
      expect(wrongAmong(sim, before, rules, found)).toEqual([]);
    } else {
      expect(summary.aborted).toMatch(/^failure budget exceeded: 4 items failed \(--max-failures allows 3\)/);
      // One at a time, in file order: the abort comes at the 4th refusal, before the last item.
      expect(summary.counts.failed).toBe(4);
      expect(summary.unfinished).toBeGreaterThan(0);
    }
  });
});

describe('--max-changes N at the boundary', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ seedFile: SEED_FILE, latencyMs: 1 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  /** `changing` images that change, with 3 images whose rule changes nothing spread among them. */
  function rulesFor(from: number, changing: number, tag: string): { rules: OracleRule[]; changes: string[]; same: string[] } {
    const ids = aliceIds(sim, from, changing + 3);
    const same = [ids[1]!, ids[3]!, ids[changing + 2]!];
    const changes = ids.filter((id) => !same.includes(id));
    const rules = ids.map((id) => (same.includes(id) ? { id, remove: ['no-such-tag-anywhere'] } : { id, add: [tag] }));
    return { rules, changes, same };
  }

  test('exactly N images to change with --max-changes N: all written, exit 0 (unchanged ones do not count)', async () => {
    const dir = await tempDir();
    const { rules, changes, same } = rulesFor(60, 5, 'cap-exact');
    const manifest = await writeManifest(dir, rules);
    const before = sim.library.dump();
    sim.resetStats();
    const res = await runCli(['run', manifest, '--out', path.join(dir, 'run'), '--max-changes', '5', ...FAST], sim);
    expectExit(res, 0);
    const summary = readJson<Summary>(path.join(dir, 'run', 'summary.json'));
    expect(summary.aborted).toBeUndefined();
    expect(summary.counts).toMatchObject({ updated: 5, unchanged: 3, failed: 0, total: 8 });
    expect(postCount(sim.stats())).toBe(5);
    expect(wrongAmong(sim, before, rules, [...changes, ...same])).toEqual([]);
  });

  test('N + 1 images to change with --max-changes N: exactly N writes, exit 3; a resume with a larger budget sends the one left', async () => {
    const dir = await tempDir();
    const runDir = path.join(dir, 'run');
    const { rules, changes, same } = rulesFor(80, 6, 'cap-over');
    const manifest = await writeManifest(dir, rules);
    const before = sim.library.dump();
    sim.resetStats();
    const res = await runCli(['run', manifest, '--out', runDir, '--max-changes', '5', ...FAST], sim);
    expectExit(res, 3);
    const summary = readJson<Summary>(path.join(runDir, 'summary.json'));
    expect(summary.exitCode).toBe(3);
    expect(summary.aborted).toMatch(/^--max-changes 5 reached/);
    expect(postCount(sim.stats())).toBe(5);
    expect(summary.counts.updated).toBe(5);
    const written = Object.keys(sim.stats().appliedById);
    expect(written).toHaveLength(5);
    const left = changes.filter((id) => !written.includes(id));
    expect(left).toHaveLength(1);
    expect(sim.library.get(left[0]!)!.tags).toEqual(before[left[0]!]!.tags); // the next write was not sent
    for (const id of same) expect(sim.stats().appliedById[id]).toBeUndefined();

    sim.resetStats();
    const resumed = await runCli(['run', manifest, '--resume', runDir, '--max-changes', '6', ...FAST], sim);
    expectExit(resumed, 0);
    expect(sim.stats().appliedById).toEqual({ [left[0]!]: 1 });
    expect(wrongAmong(sim, before, rules, [...changes, ...same])).toEqual([]);
  });
});

describe('resume: unchanged items are skipped, failed items are done again', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ seedFile: SEED_FILE, latencyMs: 1 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  test('journaled unchanged: no request on resume, even once the rule would change the image; not found: written once it is visible', async () => {
    const dir = await tempDir();
    const runDir = path.join(dir, 'run');
    const [u1, u2, u3, ...done] = aliceIds(sim, 100, 7);
    const unchanged = [u1!, u2!, u3!];
    // Already holding the tag their rule adds: unchanged, no write.
    for (const id of unchanged) sim.library.setTags(id, [...sim.library.get(id)!.tags, 'keep-me']);
    // Bob's image is not in alice's listing: not found (no request), failed.
    const hidden = 'bob-0005';
    const rules: OracleRule[] = [
      ...unchanged.map((id) => ({ id, add: ['keep-me'] })),
      ...done.map((id) => ({ id, add: ['resume-wave'] })),
      { id: hidden, add: ['resume-wave'] },
    ];
    const manifest = await writeManifest(dir, rules);
    const before = sim.library.dump();

    sim.resetStats();
    const first = await runCli(['run', manifest, '--out', runDir, ...FAST], sim);
    expectExit(first, 1);
    expect(readJson<Summary>(path.join(runDir, 'summary.json')).counts).toMatchObject({ updated: 4, unchanged: 3, failed: 1 });
    expect(Object.keys(sim.stats().appliedById).sort()).toEqual([...done].sort());
    expect(new Set(journalIds(runDir, 'finished'))).toEqual(new Set([...unchanged, ...done, hidden]));

    // Between the runs: someone removes the tag from the unchanged images (their rule would now
    // change them), and bob's image becomes alice's (listed, writable).
    for (const id of unchanged) sim.library.setTags(id, before[id]!.tags.filter((t) => t !== 'keep-me'));
    giveTo(sim, hidden, 'alice');
    const between = sim.library.dump();

    sim.resetStats();
    const resumed = await runCli(['run', manifest, '--resume', runDir, ...FAST], sim);
    expectExit(resumed, 0);
    // Only the failed item is written, once; the unchanged and updated ones get no request.
    expect(sim.stats().appliedById).toEqual({ [hidden]: 1 });
    expect(postCount(sim.stats())).toBe(1);
    for (const id of unchanged) expect([id, sim.library.get(id)!.tags]).toEqual([id, between[id]!.tags]);
    expect(sim.library.get(hidden)!.tags).toEqual(heldAfterRun(hidden, before[hidden]!.tags, rules));
    const summary = readJson<Summary>(path.join(runDir, 'summary.json'));
    expect(summary.counts).toMatchObject({ skipped: 7, updated: 1, failed: 0 });
    expect(summary.wholeRun).toMatchObject({ updated: 5, unchanged: 3, failed: 0, total: 8 });
  });

  test('a 403 (someone else’s image, --no-read) is written on resume once it is writable; nothing else is sent', async () => {
    const dir = await tempDir();
    const runDir = path.join(dir, 'run');
    const mine = aliceIds(sim, 120, 5);
    const refused = 'bob-0004';
    const rules: OracleRule[] = [...mine, refused].map((id) => ({ id, set: ['no-read-wave', id] }));
    const manifest = await writeManifest(dir, rules);
    const before = sim.library.dump();
    const args = ['run', manifest, '--no-read', ...FAST];

    sim.resetStats();
    const first = await runCli([...args, '--out', runDir], sim);
    expectExit(first, 1);
    const s1 = readJson<Summary>(path.join(runDir, 'summary.json'));
    expect(s1.counts).toMatchObject({ updated: 5, failed: 1 });
    expect(s1.failuresByReason).toEqual({ forbidden: 1 });
    expect(sim.library.get(refused)!.tags).toEqual(before[refused]!.tags);

    giveTo(sim, refused, 'alice');
    sim.resetStats();
    const resumed = await runCli([...args, '--resume', runDir], sim);
    expectExit(resumed, 0);
    expect(sim.stats().appliedById).toEqual({ [refused]: 1 });
    expect(sim.library.get(refused)!.tags).toEqual(['no-read-wave', refused]);
    expect(readJson<Summary>(path.join(runDir, 'summary.json')).counts).toMatchObject({ skipped: 5, updated: 1, failed: 0 });
  });

  test('items that failed on 500s (--retries 0) are written on a resume against a healthy server, once each; done ones are not', async () => {
    // The simulator's fault rates are fixed at start: the healthy server is a second simulator
    // from the same seed file, holding what the faulty run left.
    const faulty = await startSimulator({ seedFile: SEED_FILE, error5xxRate: 0.4, seed: 12 });
    const healthy = await startSimulator({ seedFile: SEED_FILE });
    try {
      const dir = await tempDir();
      const runDir = path.join(dir, 'run');
      const ids = faulty.library.ids('alice').slice(140, 170);
      const rules: OracleRule[] = ids.map((id) => ({ id, set: ['after-500', id] }));
      const manifest = await writeManifest(dir, rules);
      const before = faulty.library.dump();
      const args = ['run', manifest, '--no-read', '--retries', '0', ...FAST];

      const first = await runCli([...args, '--out', runDir], faulty);
      expectExit(first, 1);
      const s1 = readJson<Summary>(path.join(runDir, 'summary.json'));
      const failedIds = ids.filter((id) => faulty.stats().appliedById[id] === undefined);
      expect(failedIds.length).toBeGreaterThan(3);
      expect(failedIds.length).toBeLessThan(ids.length - 3);
      expect(s1.counts).toMatchObject({ failed: failedIds.length, updated: ids.length - failedIds.length });
      expect(s1.failuresByReason).toEqual({ retries_exhausted: failedIds.length });

      for (const [id, image] of Object.entries(faulty.library.dump())) healthy.library.setTags(id, image.tags);
      const resumed = await runCli([...args, '--resume', runDir], healthy);
      expectExit(resumed, 0);
      expect(Object.keys(healthy.stats().appliedById).sort()).toEqual([...failedIds].sort());
      expect(Math.max(...Object.values(healthy.stats().appliedById))).toBe(1);
      expect(await wrongImages(healthy, manifest, before)).toEqual([]);
      const s2 = readJson<Summary>(path.join(runDir, 'summary.json'));
      expect(s2.counts).toMatchObject({ skipped: ids.length - failedIds.length, updated: failedIds.length, failed: 0 });
      expect(s2.wholeRun).toMatchObject({ updated: ids.length, failed: 0, total: ids.length });
    } finally {
      await faulty.close();
      await healthy.close();
    }
  });
});

describe('crash output with the key from a job file', () => {
  // A distinctive key, in a key file named only by the job file (not on the command line, not
  // in the environment). It is also a directory name in the path the crash is about, so the
  // crash text would carry it unless scrubbed.
  const KEY = 'sk_jobfile_crash_5e1f0c9a77';
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ seedFile: SEED_FILE, keys: { [KEY]: 'alice' } });
  });
  afterAll(async () => {
    await sim?.close();
  });

  async function jobWithKeyFile(dir: string) {
    writeFileSync(path.join(dir, 'key.txt'), `${KEY}\n`);
    writeFileSync(path.join(dir, 'm.ndjson'), '{"id":"img-0001","add":["crash-job-ran"]}\n');
    writeFileSync(path.join(dir, 'not-a-dir'), 'a file where a directory is expected\n');
    const logFile = path.join(dir, 'log.ndjson');
    const job = path.join(dir, 'job.json');
    writeFileSync(job, JSON.stringify({ name: 'crash-scrub', manifest: 'm.ndjson', options: { apiKeyFile: path.join(dir, 'key.txt'), logFile, logLevel: 'debug' } }));
    return { job, logFile, underAFile: path.join(dir, 'not-a-dir', KEY) };
  }

  function expectNoKey(res: { stdout: string; stderr: string }, logFile: string): void {
    expect(res.stdout).not.toContain(KEY);
    expect(res.stderr).not.toContain(KEY);
    if (existsSync(logFile)) expect(readFileSync(logFile, 'utf8')).not.toContain(KEY);
  }

  test('a lock directory that cannot be made, before the key is used: a usage error (exit 2) whose message is scrubbed', async () => {
    const dir = await tempDir();
    const { job, logFile, underAFile } = await jobWithKeyFile(dir);
    sim.resetStats();
    // No REIMAGE_API_KEY: the only copy of the key is in the file the job names.
    const res = await runCli(['job', job, '--lock-dir', path.join(underAFile, 'locks'), '--out', path.join(dir, 'run')], sim, { env: { REIMAGE_API_KEY: undefined } });
    expectExit(res, 2);
    expect(res.stderr).toContain(`lock directory ${path.join(dir, 'not-a-dir', '[REDACTED]', 'locks')}: a part of the path is not a directory`);
    expectNoKey(res, logFile);
    expect(sim.stats().requests).toBe(0);
  });

  test('a refused run directory under the same path: the message is scrubbed too (exit 2)', async () => {
    const dir = await tempDir();
    const { job, logFile, underAFile } = await jobWithKeyFile(dir);
    const res = await runCli(['job', job, '--lock-dir', path.join(dir, 'locks'), '--out', path.join(underAFile, 'run')], sim, { env: { REIMAGE_API_KEY: undefined } });
    expectExit(res, 2);
    expect(res.stderr).toContain(`run directory ${path.join(dir, 'not-a-dir', '[REDACTED]', 'run')}: a part of the path is not a directory`);
    expectNoKey(res, logFile);
  });

  test.each([
    ['a throw in a callback', 'throw error'],
    ['a stray rejection', 'void Promise.reject(error)'],
  ])("%s (the process's crash handler, outside every try) whose error holds the key: crash text shown, key scrubbed", async (_what, raise) => {
    // Nothing in the CLI throws outside its own try on purpose, so the crash is injected from
    // outside: a module preloaded with --import makes the lock directory's mkdir never settle
    // and raises from a setImmediate callback instead — after the job file is read, before the
    // key is loaded for the API session, so only the job file's registration knows the key.
    // (Without an unhandledRejection listener Node raises a rejection as an uncaught exception,
    // so both cases reach the same handler.)
    const dir = await tempDir();
    const { job, logFile } = await jobWithKeyFile(dir);
    const lockDir = path.join(dir, 'locks');
    const preload = path.join(dir, 'crash-preload.mjs');
    writeFileSync(
      preload,
      [
        "import fs from 'node:fs';",
        "import { syncBuiltinESMExports } from 'node:module';",
        'const key = fs.readFileSync(process.env.CRASH_KEY_FILE, "utf8").trim();',
        'const realMkdir = fs.promises.mkdir;',
        'fs.promises.mkdir = function (p, ...rest) {',
        '  if (String(p) !== process.env.CRASH_AT_MKDIR) return realMkdir.call(this, p, ...rest);',
        '  setImmediate(() => {',
        '    const error = new Error(`injected crash in a callback; the server said: bad key ${key}`);',
        `    ${raise};`,
        '  });',
        '  return new Promise(() => {});',
        '};',
        'syncBuiltinESMExports();',
      ].join('\n'),
    );
    sim.resetStats();
    const res = await runCli(['job', job, '--lock-dir', lockDir, '--out', path.join(dir, 'run')], sim, {
      env: { REIMAGE_API_KEY: undefined, NODE_OPTIONS: `--import ${preload}`, CRASH_KEY_FILE: path.join(dir, 'key.txt'), CRASH_AT_MKDIR: lockDir },
    });
    expectExit(res, 3);
    expect(res.stderr).toContain('retag: unexpected error');
    expect(res.stderr).toContain('injected crash in a callback; the server said: bad key [REDACTED]');
    expectNoKey(res, logFile);
    expect(sim.stats().requests).toBe(0);
  });

  test('the same job with a usable lock directory runs with that key (the key file is the one in use)', async () => {
    const dir = await tempDir();
    const { job, logFile } = await jobWithKeyFile(dir);
    const res = await runCli(['job', job, '--lock-dir', path.join(dir, 'locks'), '--out', path.join(dir, 'run')], sim, { env: { REIMAGE_API_KEY: undefined } });
    expectExit(res, 0);
    expect(sim.library.get('img-0001')!.tags).toContain('crash-job-ran');
    expect(readFileSync(logFile, 'utf8')).toContain('run finished');
    expectNoKey(res, logFile);
  });
});
