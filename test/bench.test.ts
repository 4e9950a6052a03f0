/**
 * Smoke test of the benchmark harness (bench/): one cheap case, --quick, nothing written. It
 * checks the plumbing (simulator in its own process, the built CLI, /_sim/stats, the table),
 * not the figures: those belong to `npm run bench` and bench/RESULTS.md.
 */
import { beforeAll, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, assertBuilt } from './helpers/cli.js';

const BENCH = join(ROOT, 'dist/bench/bench.js');

beforeAll(() => {
  assertBuilt();
  if (!existsSync(BENCH)) throw new Error(`${BENCH} is missing: run \`npm run build\` first`);
});

test('bench --list names every case', () => {
  const res = spawnSync(process.execPath, [BENCH, '--list'], { encoding: 'utf8' });
  expect(res.status).toBe(0);
  const names = res.stdout.trim().split('\n');
  for (const name of ['fixed-rate-20', 'fixed-rate-1000', 'latency', 'alternatives', 'scan', 'auto-60', 'million', 'run-300k', 'read-write-window']) {
    expect(names).toContain(name);
  }
  // A million-rule run takes minutes: listed, outside the default set.
  expect(names).toContain('run-1m (named only: not in the default set)');
});

test('bench scan --quick: one row, the scan reads exactly ceil(library / page size) pages', () => {
  const res = spawnSync(process.execPath, [BENCH, 'scan', '--quick', '--no-write'], { encoding: 'utf8', timeout: 60_000 });
  expect(res.status).toBe(0);
  expect(res.stdout).toContain('| case | setup | figure | retag | baseline | ratio |');
  expect(res.stdout).toMatch(/\| scan \| .* \| 1\.000× \|/);
  expect(res.stdout).toMatch(/\d+ cores .* Node v\d+/);
});

test('an unknown case name is refused with the list of cases', () => {
  const res = spawnSync(process.execPath, [BENCH, 'no-such-case', '--no-write'], { encoding: 'utf8' });
  expect(res.status).toBe(2);
  expect(res.stderr).toContain('fixed-rate-20');
});
