import { expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';

/** The README's first command: `npm run demo` is `retag demo`; it must keep passing. */
test('retag demo: the demo job runs against the faulty, rate-limited simulator and every image checks out', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'retag-demo-'));
  try {
    const res = await runCli(['demo'], { cwd, timeoutMs: 90_000 });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Verified: (\d+) of \1 images hold exactly the tags the rules compose to \(id rules and library-wide rules\)/);
    // 160 images named by id rules, and 4 more that only the library-wide cleanup selects.
    expect(res.stderr).toContain('retag job demo-migration: 164 items');
    const [runDir] = readdirSync(join(cwd, 'retag-runs'));
    const summary = JSON.parse(readFileSync(join(cwd, 'retag-runs', runDir!, 'summary.json'), 'utf8'));
    expect(summary.exitCode).toBe(0);
    expect(summary.counts.failed).toBe(0);
    expect(summary.requests.retries).toBeGreaterThan(0); // the faults were met and handled
    expect(summary.scanned).toBe(200); // alice's whole library was read for the library-wide rules
    expect(summary.rules.map((r: { rule: string; matched: number }) => [r.rule.replace(/^.*\//, ''), r.matched])).toEqual([
      ['demo-migration.ndjson:171', 12],
      ['demo-migration.ndjson:172', 11],
    ]);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}, 100_000);
