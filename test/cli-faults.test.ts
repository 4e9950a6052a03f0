/**
 * End to end: the built CLI against the simulator injecting every kind of fault at once — 8%
 * of requests answered 500, 4% answered 500 after the update was applied, 3% of connections
 * dropped, 4% answered 503 with Retry-After: 1, and latency jitter. Every image must end right
 * and the run exit 0 (design §4: retries; an update is a full replace, so repeating it is safe).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, DEFAULT_KEY, generatedId } from '../src/sim/index.js';
import { assertBuilt, ndjson, readJson, readNdjson, runCli, tempDir } from './helpers/cli.js';
import { expectedTags, sameMembers } from './helpers/oracle.js';

const tmp = tempDir('retag-cli-faults-');
beforeAll(() => assertBuilt());
afterAll(() => tmp.cleanup());

const IMAGES = 180;

/** A mix of every operation over the generated library, two rules for some ids. */
function rulesFor(n: number): Array<Record<string, unknown>> {
  const id = generatedId(n);
  switch (n % 6) {
    case 0:
      return [{ id, add: ['faulted', 'new arrival'] }];
    case 1:
      return [{ id, remove: ['product', 'draft'] }];
    case 2:
      return [{ id, set: ['fixed', `n-${n}`] }];
    case 3:
      return [{ id, add: ['x'] }, { id, remove: ['hero'], add: ['y'] }];
    case 4:
      return [{ id, clear: true }, { id, add: ['after-clear'] }];
    default:
      return [{ id, add: ['archive'], remove: ['legacy'] }];
  }
}

test('500s, 500-after-apply, dropped connections, 503 + Retry-After and jitter: every image ends right, exit 0', async () => {
  const sim = await startSimulator({
    generate: IMAGES,
    seed: 20261128,
    error5xxRate: 0.08,
    faultAfterApplyRate: 0.04,
    dropRate: 0.03,
    busyRate: 0.04,
    latencyMs: 5,
    jitterMs: 25,
  });
  try {
    const before = sim.library.dump();
    const rules: Array<Record<string, unknown>> = [];
    for (let n = 1; n <= IMAGES; n++) rules.push(...rulesFor(n));
    const manifest = join(tmp.dir, 'faults.ndjson');
    writeFileSync(manifest, ndjson(rules));
    const out = join(tmp.dir, 'run');

    const res = await runCli(
      ['run', manifest, '--out', out, '--rate', '100', '--concurrency', '8', '--retries', '8', '--page-size', '100', '--log-level', 'error'],
      { env: { REIMAGE_API_KEY: DEFAULT_KEY, REIMAGE_BASE_URL: sim.url }, timeoutMs: 45_000 },
    );
    const stats = sim.stats();
    const summary = readJson<Record<string, any>>(join(out, 'summary.json'));
    // Figures for the report (visible with --verbose / on failure).
    console.log(
      `faults run: ${stats.requests} requests in ${res.durationMs} ms; faults ${JSON.stringify(stats.faults)}; ` +
        `client retries ${summary.requests.retries}; counts ${JSON.stringify(summary.counts)}; written twice ${stats.writtenMoreThanOnce.length}`,
    );
    expect(res.stderr).not.toMatch(/unexpected error/);
    expect(res.code).toBe(0);

    // Every kind of fault really happened…
    expect(stats.faults.error5xx).toBeGreaterThan(0);
    expect(stats.faults.faultAfterApply).toBeGreaterThan(0);
    expect(stats.faults.drop).toBeGreaterThan(0);
    expect(stats.faults.busy).toBeGreaterThan(0);
    // …and every image still holds exactly what its rules compose to (the oracle, test/helpers/oracle.ts).
    const wrong: string[] = [];
    for (const id of new Set(rules.map((r) => r.id as string))) {
      const want = expectedTags(id, before[id]!.tags, rules);
      const have = sim.library.get(id)!.tags;
      if (!sameMembers(want, have)) wrong.push(`${id}: want [${want}] have [${have}]`);
    }
    expect(wrong).toEqual([]);

    expect(summary.counts.failed).toBe(0);
    expect(summary.counts.updated + summary.counts.unchanged).toBe(IMAGES);
    expect(summary.requests.retries).toBeGreaterThan(0);
    expect(readNdjson(join(out, 'failures.ndjson'))).toEqual([]);
    // Write-ahead: one outcome line per item, and a pending line before each item's write.
    const journal = readNdjson<{ id: string; outcome: string }>(join(out, 'journal.ndjson'));
    expect(journal.filter((e) => e.outcome !== 'pending')).toHaveLength(IMAGES);
    expect(journal.filter((e) => e.outcome === 'pending')).toHaveLength(summary.counts.updated);
    expect(stats.byMethod.DELETE).toBeUndefined();
    // Retries count against --rate too: the server never saw more than 100/s (plus the limiter's small burst).
    const seconds = (stats.lastRequestAt! - stats.firstRequestAt!) / 1000;
    expect(stats.requests).toBeLessThanOrEqual(100 * seconds + 10);
    // The server counts a connection it dropped as in flight until the socket's close event, which
    // on a loaded machine can come after the client has already retried it: allow that one.
    expect(stats.maxInFlight).toBeLessThanOrEqual(8 + 1);
  } finally {
    await sim.close();
  }
});
