/**
 * End to end (style.md §8, third layer): the built CLI against a reimage-compatible server this
 * project did not write (bare-array listing, comma-joined tags, no paging metadata, page_size
 * capped to 7). Checks the exit code (design §6), every file of the run directory (§5), and that
 * `retag run <dir>/failures.ndjson` re-runs exactly the failed items.
 */
import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startForeignServer, type ForeignServer } from './helpers/foreign-server.js';
import {
  CAROL_KEY,
  DAVE_KEY,
  EXPECTED_FAILURES,
  VANISHING,
  alreadyAsWanted,
  expectedAfter,
  foreignImages,
  foreignRules,
  rulesById,
} from './helpers/foreign-fixture.js';
import { assertBuilt, ndjson, readJson, readNdjson, runCli, tempDir } from './helpers/cli.js';

const tmp = tempDir('retag-cli-foreign-');
beforeAll(() => assertBuilt());
afterAll(() => tmp.cleanup());

let server: ForeignServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Journal {
  id: string;
  outcome: string;
  reason?: string;
  before: string[] | null;
  after: string[] | null;
  attempts: number;
  status?: number;
  error?: string;
  at: string;
}

test('run → exit 1, run directory complete and right; failures.ndjson re-runs exactly the failed ids, failing the same way', async () => {
  const srv = (server = await startForeignServer({
    images: foreignImages(),
    keys: { [CAROL_KEY]: 'carol', [DAVE_KEY]: 'dave' },
    shape: 'array',
    tagsAs: 'string',
    maxPageSize: 7,
    vanishOnUpdate: VANISHING,
  }));
  const images = foreignImages();
  const rules = foreignRules();
  const manifest = join(tmp.dir, 'migration.ndjson');
  writeFileSync(manifest, ndjson(rules));
  const out = join(tmp.dir, 'run-1');
  const logFile = join(tmp.dir, 'run-1.log');
  const env = { REIMAGE_API_KEY: CAROL_KEY, REIMAGE_BASE_URL: srv.url };

  const first = await runCli(['run', manifest, '--out', out, '--page-size', '50', '--rate', '200', '--log-file', logFile], { env });
  expect(first.stderr).toContain('retag run: 35 items: 21 updated, 10 unchanged, 4 failed');
  expect(first.code).toBe(1);
  expect(first.stderr).toContain(`re-run failures with: retag run ${join(out, 'failures.ndjson')}`);

  // The server: every image as its rules compose to; no write for those already as wanted.
  const unchanged = alreadyAsWanted(images, rules);
  for (const [id, idRules] of rulesById(rules)) {
    const image = images.find((i) => i.id === id);
    if (!image) continue;
    const untouched = id in EXPECTED_FAILURES || unchanged.includes(id);
    expect({ id, tags: srv.tags(id) }).toEqual({ id, tags: untouched ? image.tags : expectedAfter(image.tags, idRules) });
  }
  const sent = srv.updatesSent();
  for (const id of unchanged) expect(sent).not.toContain(id);
  // A confirming pass (the run wrote during the scan and some ids were unseen, design.md §3).
  expect(srv.pageSizesServed()).toEqual([7, 7, 7, 7, 5, 0, 7, 7, 7, 7, 5, 0]);

  // summary.json
  const summary = readJson<Record<string, any>>(join(out, 'summary.json'));
  expect(summary.counts).toEqual({ updated: 21, unchanged: 10, failed: 4, conflict: 0, skipped: 0, total: 35 });
  expect(summary.scan).toEqual({ passes: 2, listRequests: 12 });
  expect(summary.failuresByReason).toEqual({ not_found: 3, forbidden: 1 });
  expect(summary.exitCode).toBe(1);
  expect(summary.requests).toMatchObject({ total: srv.requests.length, reads: 12, writes: 23, retries: 0, status429: 0 });
  expect(Date.parse(summary.endedAt) - Date.parse(summary.startedAt)).toBe(summary.durationMs);

  // journal.ndjson (write-ahead): a pending line before each of the 23 writes, then one line
  // per finished item, with before/after/attempts.
  const lines = readNdjson<Journal>(join(out, 'journal.ndjson'));
  expect(lines.filter((e) => e.outcome === 'pending')).toHaveLength(23);
  const journal = lines.filter((e) => e.outcome !== 'pending');
  expect(journal).toHaveLength(35);
  expect(new Set(journal.map((e) => e.id)).size).toBe(35);
  const byId = new Map(journal.map((e) => [e.id, e]));
  expect(byId.get('c-01')).toMatchObject({ outcome: 'updated', before: ['product', 'hero'], after: ['product', 'hero', 'catalog-2025'], attempts: 1, status: 200 });
  expect(byId.get('c-02')).toMatchObject({ outcome: 'unchanged', before: ['product', 'catalog-2025'], after: ['product', 'catalog-2025'], attempts: 0 });
  expect(byId.get('c-05')).toMatchObject({ outcome: 'failed', reason: 'not_found', status: 404, attempts: 1, before: ['product'], after: ['x'] });
  expect(byId.get('d-01')).toMatchObject({ outcome: 'failed', reason: 'forbidden', status: 403, attempts: 1 });
  expect(byId.get('ghost-404')).toMatchObject({ outcome: 'failed', reason: 'not_found', attempts: 0, before: null, after: null });
  for (const e of journal) {
    expect(Array.isArray(e.before) || e.before === null).toBe(true);
    expect(typeof e.attempts).toBe('number');
    expect(Number.isNaN(Date.parse(e.at))).toBe(false);
  }

  // undo.ndjson: {"id","set":before} for exactly the items this run changed.
  const undo = readNdjson<{ id: string; set: string[] }>(join(out, 'undo.ndjson'));
  const updated = journal.filter((e) => e.outcome === 'updated');
  expect(undo).toHaveLength(updated.length);
  for (const u of undo) {
    expect(Object.keys(u).sort()).toEqual(['id', 'set']);
    expect(u.set).toEqual(images.find((i) => i.id === u.id)!.tags);
  }
  expect(undo.find((u) => u.id === 'c-07')).toBeUndefined(); // unchanged: nothing to undo
  expect(undo.find((u) => u.id === 'c-06')).toEqual({ id: 'c-06', set: ['old', 'product'] });

  // failures.ndjson: exactly the failed items, each a valid rule (its composed ops) plus `_error`.
  const failures = readNdjson<Record<string, unknown>>(join(out, 'failures.ndjson'));
  expect(Object.fromEntries(failures.map(({ _error, ...rule }) => [rule.id as string, rule]))).toEqual({
    'c-05': { id: 'c-05', set: ['x'] },
    'd-01': { id: 'd-01', add: ['x'] },
    'd-02': { id: 'd-02', add: ['x'] },
    'ghost-404': { id: 'ghost-404', set: ['x'] },
  });
  for (const f of failures) expect(typeof f._error).toBe('string');
  // `_error` says status (or reason), message and attempts once each.
  expect(failures.find((f) => f.id === 'c-05')?._error).toBe('404 Image not found after 1 attempt');
  expect(failures.find((f) => f.id === 'd-01')?._error).toBe('403 Forbidden after 1 attempt');
  expect(failures.find((f) => f.id === 'ghost-404')?._error).toBe('not_found: id not in the library');
  expect(failures.find((f) => f.id === 'd-02')?._error).toBe('not_found: id not in the library');
  const validated = await runCli(['validate', join(out, 'failures.ndjson')]);
  expect(validated.stdout).toContain('ok, 4 rules');
  expect(validated.code).toBe(0);
  expect(existsSync(join(out, 'plan.ndjson'))).toBe(false);

  // Logs: one error entry per failed item (id, status, attempts, message), then an info summary.
  const logs = readNdjson<Record<string, any>>(logFile);
  const errors = logs.filter((l) => l.level === 50 && typeof l.id === 'string');
  expect(errors.map((l) => l.id).sort()).toEqual(Object.keys(EXPECTED_FAILURES).sort());
  for (const l of errors) expect(l).toHaveProperty('attempts');
  expect(errors.find((l) => l.id === 'd-01')).toMatchObject({ status: 403, attempts: 1 });
  expect(logs.at(-1)).toMatchObject({ level: 30, msg: 'run finished' });
  for (const l of logs) expect(l.runId).toBe(logs[0]!.runId);

  // Re-run failures.ndjson as-is: accepted, fails the same way (exit 1), writes only those ids.
  const before = srv.requests.length;
  const out2 = join(tmp.dir, 'run-2');
  const second = await runCli(['run', join(out, 'failures.ndjson'), '--out', out2, '--page-size', '50', '--log-level', 'warn'], { env });
  expect(second.code).toBe(1);
  expect(second.stderr).toContain('retag run: 4 items: 0 updated, 0 unchanged, 4 failed');
  const rerun = srv.requests.slice(before);
  const posts = rerun.filter((r) => r.method === 'POST').map((r) => decodeURIComponent(r.path.slice('/update/'.length)));
  expect(posts.sort()).toEqual(['c-05', 'd-01']); // the two the listing shows; the others are not_found without a write
  for (const r of rerun.filter((x) => x.method !== 'POST')) expect(r.path).toBe('/get/');
  const failures2 = readNdjson<Record<string, unknown>>(join(out2, 'failures.ndjson'));
  // (failures.ndjson is in finishing order, not manifest order: compare by id)
  const byIdOf = (rows: Array<Record<string, unknown>>) => Object.fromEntries(rows.map(({ _error, ...rule }) => [rule.id as string, rule]));
  expect(byIdOf(failures2)).toEqual(byIdOf(failures));
  expect(readJson<Record<string, any>>(join(out2, 'summary.json')).counts).toEqual({ updated: 0, unchanged: 0, failed: 4, conflict: 0, skipped: 0, total: 4 });
  expect(srv.tags('d-01')).toEqual(['dave']);
});

test('--no-read against the foreign server: no GET at all; unknown → 404, someone else\'s → 403; exit 1', async () => {
  const srv = (server = await startForeignServer({
    images: foreignImages(),
    keys: { [CAROL_KEY]: 'carol' },
    shape: 'results',
    maxPageSize: 7,
  }));
  const manifest = join(tmp.dir, 'blind.csv');
  writeFileSync(manifest, 'id,set\nc-01,a|b\nc-02,x\nd-02,x\nghost-404,x\n');
  const out = join(tmp.dir, 'run-blind');
  const res = await runCli(['run', manifest, '--no-read', '--out', out, '--log-level', 'warn'], {
    env: { REIMAGE_API_KEY: CAROL_KEY, REIMAGE_BASE_URL: srv.url },
  });
  expect(res.code).toBe(1);
  expect(srv.listRequests()).toHaveLength(0);
  expect(srv.updatesSent().sort()).toEqual(['c-01', 'c-02', 'd-02', 'ghost-404']);
  expect(srv.tags('c-01')).toEqual(['a', 'b']);
  const failures = readNdjson<Record<string, unknown>>(join(out, 'failures.ndjson'));
  expect(failures.map(({ _error, ...rule }) => rule).sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual([
    { id: 'd-02', set: ['x'] },
    { id: 'ghost-404', set: ['x'] },
  ]);
  // Written blind: no `before`, so nothing can be undone.
  expect(readNdjson(join(out, 'undo.ndjson'))).toEqual([]);
});
