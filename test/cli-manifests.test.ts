/**
 * End to end, every sample manifest of fixtures/manifests (CSV with op column, CSV with
 * set/add/remove columns, an Excel CSV with BOM/CRLF/multi-line cells, a JSON array, a JSON map,
 * NDJSON) against the simulator seeded from fixtures/library.json:
 * - the run changes what it should (spot checks by hand below);
 * - running the same manifest again sends no write at all (every operation is idempotent, §7);
 * - `retag run <run-dir>/undo.ndjson` puts the whole library back exactly as it was (§5).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator } from '../src/sim/index.js';
import { assertBuilt, readJson, ROOT, runCli, tempDir } from './helpers/cli.js';

const tmp = tempDir('retag-cli-manifests-');
beforeAll(() => assertBuilt());
afterAll(() => tmp.cleanup());

const MANIFESTS = readdirSync(join(ROOT, 'fixtures/manifests')).sort();

/** Hand-checked results (library.json's tags → what the manifest says). */
const SPOT: Record<string, Record<string, string[]>> = {
  'sample.csv': { 'img-0003': [], 'img-0004': ['product', 'hero'] },
  'columns.csv': { 'img-0006': ['red', 'green'], 'img-0008': ['extra'] },
  'excel.csv': { 'img-0010': ['quoted "name"'] },
  'map.json': { 'img-0015': ['red', 'green'], 'img-0017': [], 'img-0018': [] },
  'sample.json': { 'img-0012': ['product', 'hero'], 'img-0013': ['fresh'], 'img-0014': [] },
  'sample.ndjson': { 'img-0021': ['a', 'b'] },
};

test.each(MANIFESTS.map((m) => [m]))('%s: applied, idempotent on a second run, undone exactly by its undo.ndjson', async (name) => {
  const sim = await startSimulator({ seedFile: join(ROOT, 'fixtures/library.json') });
  try {
    const original = sim.library.dump();
    const env = { REIMAGE_API_KEY: 'sk_test_alice', REIMAGE_BASE_URL: sim.url };
    const manifest = join(ROOT, 'fixtures/manifests', name);
    const args = ['--rate', '500', '--concurrency', '8', '--log-level', 'error'];

    const first = await runCli(['run', manifest, '--out', join(tmp.dir, `${name}-1`), ...args], { env });
    const s1 = readJson<Record<string, any>>(join(tmp.dir, `${name}-1`, 'summary.json'));
    expect([0, 1]).toContain(first.code);
    expect(first.code).toBe(s1.counts.failed > 0 ? 1 : 0);
    expect(s1.counts.failed).toBe(s1.failuresByReason.not_found ?? 0); // only unknown ids may fail here
    for (const [id, tags] of Object.entries(SPOT[name] ?? {})) expect({ id, tags: sim.library.get(id)?.tags }).toEqual({ id, tags });
    const afterFirst = sim.library.dump();
    const postsBefore = sim.stats().byEndpoint['POST /update/'] ?? 0;

    const second = await runCli(['run', manifest, '--out', join(tmp.dir, `${name}-2`), ...args], { env });
    expect(second.code).toBe(first.code);
    const s2 = readJson<Record<string, any>>(join(tmp.dir, `${name}-2`, 'summary.json'));
    expect(s2.counts.updated).toBe(0);
    expect(s2.counts.unchanged + s2.counts.failed).toBe(s2.counts.total);
    // Id rules name the same images again; a library-wide rule may no longer select an image it
    // changed (a tag it removed is gone), so such a manifest has fewer items the second time.
    if (s1.rules === undefined) expect(s2.counts.unchanged).toBe(s1.counts.updated + s1.counts.unchanged);
    else expect(s2.counts.unchanged).toBeLessThanOrEqual(s1.counts.updated + s1.counts.unchanged);
    expect(sim.stats().byEndpoint['POST /update/'] ?? 0).toBe(postsBefore);
    expect(sim.library.dump()).toEqual(afterFirst);

    if (s1.counts.updated > 0) {
      const undo = await runCli(['run', join(tmp.dir, `${name}-1`, 'undo.ndjson'), '--out', join(tmp.dir, `${name}-undo`), ...args], { env });
      expect(undo.code).toBe(0);
      expect(sim.library.dump()).toEqual(original);
    }
  } finally {
    await sim.close();
  }
});
