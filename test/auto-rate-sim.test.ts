/**
 * End to end: `--rate auto` against the simulator enforcing a limit it does not announce, and
 * the same limit announced by RateLimit-* headers. Loose bounds (a shared, noisy machine);
 * the strict figures are the benchmark's (bench/RESULTS.md).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, DEFAULT_KEY, generatedId } from '../src/sim/index.js';
import { assertBuilt, ndjson, readJson, runCli, tempDir } from './helpers/cli.js';

const tmp = tempDir('retag-auto-rate-');
beforeAll(() => assertBuilt());
afterAll(() => tmp.cleanup());

function manifestOf(name: string, count: number): string {
  const rules = Array.from({ length: count }, (_, i) => ({ id: generatedId(i + 1), set: ['auto', `n-${i % 7}`] }));
  const file = join(tmp.dir, name);
  writeFileSync(file, ndjson(rules));
  return file;
}

async function autoRun(name: string, limit: number, count: number, rateLimitHeaders: boolean) {
  const sim = await startSimulator({ generate: count, rateLimit: limit, burst: limit, rateLimitHeaders, latencyMs: 10, seed: 5 });
  try {
    const out = join(tmp.dir, name);
    const res = await runCli(
      ['run', manifestOf(`${name}.ndjson`, count), '--no-read', '--out', out, '--rate', 'auto', '--concurrency', '8', '--log-level', 'warn'],
      { env: { REIMAGE_API_KEY: DEFAULT_KEY, REIMAGE_BASE_URL: sim.url }, timeoutMs: 60_000 },
    );
    const stats = sim.stats();
    const seconds = (stats.lastRequestAt! - stats.firstRequestAt!) / 1000;
    const ok = stats.byStatus['200'] ?? 0;
    const achieved = (ok - 1) / seconds / limit;
    const share429 = stats.rateLimited / stats.requests;
    const summary = readJson<Record<string, any>>(join(out, 'summary.json'));
    console.log(
      `--rate auto vs ${limit}/s${rateLimitHeaders ? ' (headers)' : ''}: ${(achieved * 100).toFixed(1)}% of the limit, ` +
        `429s ${stats.rateLimited}/${stats.requests} (${(share429 * 100).toFixed(2)}%), ended at ${summary.rate?.final}/s`,
    );
    return { res, achieved, share429, summary };
  } finally {
    await sim.close();
  }
}

test('--rate auto settles near an unannounced 60/s with few 429s', async () => {
  const r = await autoRun('unannounced', 60, 720, false); // ≈ 13 s
  expect(r.res.code).toBe(0);
  expect(r.summary.counts.updated).toBe(720);
  expect(r.achieved).toBeGreaterThanOrEqual(0.7);
  expect(r.achieved).toBeLessThanOrEqual(1.1);
  expect(r.share429).toBeLessThanOrEqual(0.08);
  expect(r.summary.rate.mode).toBe('auto');
  expect(r.summary.rate.final).toBeGreaterThan(45);
  expect(r.summary.rate.final).toBeLessThan(80);
});

test('--rate auto takes the announced rate from RateLimit-Policy: no 429 at all', async () => {
  const r = await autoRun('announced', 60, 480, true); // ≈ 8 s
  expect(r.res.code).toBe(0);
  expect(r.achieved).toBeGreaterThanOrEqual(0.85);
  expect(r.share429).toBeLessThanOrEqual(0.01);
  expect(r.summary.rate.final).toBeCloseTo(59.4, 0);
});
