/**
 * End to end against the simulator (seeded from fixtures/library.json): `--no-read`, `retag plan`
 * and `run --dry-run`, and the `--max-failures` budget (design §3, §4, §5, §6, §7).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, ndjson, readJson, readNdjson, ROOT, runCli, tempDir } from './helpers/cli.js';

const KEY = 'sk_test_alice';
const tmp = tempDir('retag-cli-modes-');
beforeAll(() => assertBuilt());
afterAll(() => tmp.cleanup());

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function startSim(): Promise<Simulator> {
  sim = await startSimulator({ seedFile: join(ROOT, 'fixtures/library.json') });
  return sim;
}

function file(name: string, text: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  return path;
}

const env = (s: Simulator) => ({ REIMAGE_API_KEY: KEY, REIMAGE_BASE_URL: s.url });

describe('--no-read', () => {
  test('set/clear rules: not one GET, every write sent blind (even a no-op), no undo possible', async () => {
    const s = await startSim();
    const manifest = file('blind.csv', 'id,op,tags\nimg-0002,set,a|b\nimg-0003,clear,\nimg-0004,set,social|featured\n');
    const out = join(tmp.dir, 'blind-run');
    const res = await runCli(['run', manifest, '--no-read', '--out', out, '--log-level', 'warn'], { env: env(s) });
    expect(res.code).toBe(0);
    const stats = s.stats();
    expect(stats.byMethod.GET).toBeUndefined();
    expect(stats.byEndpoint['POST /update/']).toBe(3);
    expect(s.library.get('img-0002')!.tags).toEqual(['a', 'b']);
    expect(s.library.get('img-0003')!.tags).toEqual([]);
    const journal = readNdjson<Record<string, unknown>>(join(out, 'journal.ndjson'));
    expect(journal.map((e) => [e.id, e.outcome, e.before])).toEqual(
      expect.arrayContaining([
        ['img-0002', 'updated', null],
        ['img-0003', 'updated', null],
        ['img-0004', 'updated', null],
      ]),
    );
    expect(readNdjson(join(out, 'undo.ndjson'))).toEqual([]);
  });

  test('add/remove rules with --no-read: exit 2 before any request, each rule named; validate --no-read agrees', async () => {
    const s = await startSim();
    const manifest = file('blind-add.ndjson', ndjson([{ id: 'img-0002', set: ['ok'] }, { id: 'img-0003', add: ['x'] }, { id: 'img-0004', remove: ['y'] }]));
    const res = await runCli(['run', manifest, '--no-read', '--out', join(tmp.dir, 'blind-add-run'), '--log-level', 'warn'], { env: env(s) });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${manifest}:2`);
    expect(res.stderr).toContain(`${manifest}:3`);
    expect(res.stderr).toMatch(/--no-read/);
    expect(s.stats().requests).toBe(0);
    const validated = await runCli(['validate', manifest, '--no-read']);
    expect(validated.code).toBe(2);
    expect(validated.stderr).toContain(`${manifest}:2`);
  });
});

describe('plan and dry run', () => {
  const rules = [
    { id: 'img-0002', add: ['catalog-2025'] },
    { id: 'img-0003', remove: ['product'] },
    { id: 'img-0004', add: ['social'] }, // already there: unchanged
    { id: 'img-0005', set: ['only'] },
  ];

  test.each([
    ['retag plan', ['plan']],
    ['retag run --dry-run', ['run', '--dry-run']],
  ])('%s: reads, writes nothing (no POST), writes plan.ndjson, prints the plan summary', async (_label, command) => {
    const s = await startSim();
    const before = s.library.dump();
    const manifest = file(`plan-${command.length}.ndjson`, ndjson(rules));
    const out = join(tmp.dir, `plan-run-${command.length}`);
    const res = await runCli([...command, manifest, '--out', out, '--log-level', 'warn'], { env: env(s) });
    expect(res.code).toBe(0);
    const stats = s.stats();
    expect(stats.byMethod.POST).toBeUndefined();
    expect(stats.byEndpoint['GET /get/']).toBeGreaterThanOrEqual(1);
    expect(s.library.dump()).toEqual(before);

    const [header, ...plan] = readNdjson<Record<string, unknown>>(join(out, 'plan.ndjson'));
    // The header says what the plan is of (retag apply checks it).
    expect(header).toEqual({ retag_plan: 1, created: expect.any(String), manifest, manifest_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(plan).toHaveLength(4);
    const byId = Object.fromEntries(plan.map((p) => [p.id, p]));
    expect(byId['img-0002']).toEqual({ id: 'img-0002', before: ['autumn-2024', 'product'], after: ['autumn-2024', 'product', 'catalog-2025'], action: 'update' });
    expect(byId['img-0003']).toEqual({ id: 'img-0003', before: ['product'], after: [], action: 'update' });
    expect(byId['img-0004']).toMatchObject({ action: 'unchanged' });
    expect(byId['img-0005']).toMatchObject({ after: ['only'], action: 'update' });

    expect(res.stdout).toContain('3 images change, 1 unchanged, 0 not found (4 images considered)');
    expect(res.stdout).toContain('+catalog-2025');
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
    expect(readJson<Record<string, any>>(join(out, 'summary.json')).requests.writes).toBe(0);
    // A plan changes nothing, so there is nothing to undo or re-run.
    expect(existsSync(join(out, 'undo.ndjson')) ? readFileSync(join(out, 'undo.ndjson'), 'utf8') : '').toBe('');
  });
});

describe('--max-failures', () => {
  const unknown = Array.from({ length: 40 }, (_, i) => ({ id: `nope-${i + 1}`, set: ['x'] }));
  const known = [{ id: 'img-0002', add: ['k'] }, { id: 'img-0003', add: ['k'] }];

  test('--max-failures 2 with many unknown ids (found missing by the scan): exit 3, aborted in the summary', async () => {
    const s = await startSim();
    const manifest = file('budget.ndjson', ndjson([...known, ...unknown]));
    const out = join(tmp.dir, 'budget-run');
    const res = await runCli(['run', manifest, '--max-failures', '2', '--out', out, '--log-level', 'warn'], { env: env(s) });
    expect(res.code).toBe(3);
    const summary = readJson<Record<string, any>>(join(out, 'summary.json'));
    expect(summary.exitCode).toBe(3);
    expect(summary.aborted).toMatch(/failure budget/);
    // (ids the finished scan did not find are failures known without a request: all are recorded)
    expect(summary.counts.failed).toBeGreaterThan(2);
    expect(res.stderr).toMatch(/failure budget exceeded/);
  });

  test('--max-failures 2 with --no-read, unknown ids answered 404: exit 3, stops sending early', async () => {
    const s = await startSim();
    const manifest = file('budget-blind.ndjson', ndjson(unknown));
    const out = join(tmp.dir, 'budget-blind-run');
    const res = await runCli(['run', manifest, '--no-read', '--max-failures', '2', '--rate', '50', '--out', out, '--log-level', 'warn'], { env: env(s) });
    expect(res.code).toBe(3);
    const posts = s.stats().byEndpoint['POST /update/'] ?? 0;
    expect(posts).toBeGreaterThanOrEqual(3);
    expect(posts).toBeLessThan(unknown.length);
    expect(readJson<Record<string, any>>(join(out, 'summary.json')).unfinished).toBeGreaterThan(0);
  });

  test('--max-failures 10%: 40 unknown of 42 is over budget too; a bad value is exit 2', async () => {
    const s = await startSim();
    const manifest = file('budget-pct.ndjson', ndjson([...known, ...unknown]));
    const res = await runCli(['run', manifest, '--max-failures', '10%', '--out', join(tmp.dir, 'budget-pct-run'), '--log-level', 'warn'], { env: env(s) });
    expect(res.code).toBe(3);
    const bad = await runCli(['run', manifest, '--max-failures', 'lots', '--out', join(tmp.dir, 'budget-bad-run')], { env: env(s) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-failures');
  });
});

describe('server unreachable', () => {
  test.each([
    ['reading', []],
    ['--no-read', ['--no-read']],
  ])('%s: exit 3 (resumable), items left unfinished rather than failed', async (_label, extra) => {
    const probe = await startSimulator({ generate: 1 });
    const url = probe.url;
    await probe.close(); // nobody listens there any more: connections are refused
    const manifest = file(`down-${extra.length}.ndjson`, ndjson(Array.from({ length: 20 }, (_, i) => ({ id: `img-${i + 1}`, set: ['t'] }))));
    const out = join(tmp.dir, `down-run-${extra.length}`);
    const res = await runCli(['run', manifest, ...extra, '--retries', '1', '--rate', '100', '--out', out, '--log-level', 'warn'], {
      env: { REIMAGE_API_KEY: KEY, REIMAGE_BASE_URL: url },
    });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/ECONNREFUSED/);
    expect(res.stderr).toMatch(/resume with: retag run/);
    const summary = readJson<Record<string, any>>(join(out, 'summary.json'));
    expect(summary.counts.failed).toBe(0);
    expect(summary.unfinished).toBe(20);
  });
});
