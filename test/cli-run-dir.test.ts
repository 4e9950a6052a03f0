import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { ROOT, runCli } from './helpers/cli.js';

/** Edges of the run directory: resuming a finished run, a plan pointed at a run, a bad --out. */
describe('run directory edges', () => {
  let sim: Simulator;
  let dir: string;
  let manifest: string;
  const env = () => ({ REIMAGE_API_KEY: 'sk_test_alice', REIMAGE_BASE_URL: sim.url });

  beforeAll(async () => {
    sim = await startSimulator({ seedFile: join(ROOT, 'fixtures/library.json') });
    dir = mkdtempSync(join(tmpdir(), 'retag-rundir-'));
    manifest = join(dir, 'm.ndjson');
    writeFileSync(manifest, ['img-0031', 'img-0032', 'img-0033'].map((id) => JSON.stringify({ id, add: ['edge'] })).join('\n'));
  });
  afterAll(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('resuming a finished run sends nothing and exits 0', async () => {
    const out = join(dir, 'done');
    expect((await runCli(['run', manifest, '--out', out, '--log-level', 'warn'], { env: env() })).code).toBe(0);
    const before = sim.stats().requests;
    const summaryBefore = readFileSync(join(out, 'summary.json'), 'utf8');
    const again = await runCli(['run', manifest, '--resume', out, '--log-level', 'warn'], { env: env() });
    expect(again.code).toBe(0);
    expect(sim.stats().requests).toBe(before);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.counts).toMatchObject({ skipped: 3, total: 3 });
    expect(summary.requests.total).toBe(0);
    expect(summary.wholeRun).toMatchObject({ updated: 3 });
    expect(summaryBefore).toContain('"updated": 3');
  });

  test('resuming with another manifest than the run recorded warns', async () => {
    const out = join(dir, 'other');
    expect((await runCli(['run', manifest, '--out', out, '--log-level', 'warn'], { env: env() })).code).toBe(0);
    const other = join(dir, 'other.ndjson');
    writeFileSync(other, JSON.stringify({ id: 'img-0034', add: ['edge'] }));
    const res = await runCli(['run', other, '--resume', out, '--log-level', 'warn'], { env: env() });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`resuming a run of ${manifest} with ${other}: items whose operation differs are done again`);
  });

  test.each([['plan'], ['run', '--dry-run']])('%s with --resume is refused (exit 2): a plan must not rewrite a run', async (...command) => {
    const out = join(dir, `plan-${command.length}`);
    expect((await runCli(['run', manifest, '--out', out, '--log-level', 'warn'], { env: env() })).code).toBe(0);
    const summary = readFileSync(join(out, 'summary.json'), 'utf8');
    const res = await runCli([...command, manifest, '--resume', out], { env: env() });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--resume');
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe(summary);
  });

  test('an --out that cannot be a directory is a usage error (exit 2), not a crash', async () => {
    const before = sim.stats().requests;
    const res = await runCli(['run', manifest, '--out', '/dev/null/run'], { env: env() });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('/dev/null/run: a part of the path is not a directory');
    expect(res.stderr).not.toContain('    at ');
    expect(sim.stats().requests).toBe(before);
  });
});
