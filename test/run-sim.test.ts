/**
 * Integration: the real runner stack in-process (ReimageClient + RateLimiter + RequestExecutor +
 * runTargets) against the simulator, checking the client's own account against the server's:
 * every attempt the client counts reached the server, faults end right, 429s slow the run but
 * lose nothing, a dry run writes nothing.
 */
import { afterAll, afterEach, expect, test } from '@jest/globals';
import { startSimulator, DEFAULT_KEY, generatedId, type Simulator } from '../src/sim/index.js';
import { runInProcess, targetsFromRules } from './helpers/in-process-run.js';
import { expectedTags, sameMembers } from './helpers/oracle.js';
import { tempDir } from './helpers/cli.js';

const tmp = tempDir('retag-run-sim-');
afterAll(() => tmp.cleanup());

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function mixedRules(count: number): Array<Record<string, unknown>> {
  const rules: Array<Record<string, unknown>> = [];
  for (let n = 1; n <= count; n++) {
    const id = generatedId(n);
    if (n % 4 === 0) rules.push({ id, add: ['a', 'b'] });
    else if (n % 4 === 1) rules.push({ id, remove: ['product', 'hero'] });
    else if (n % 4 === 2) rules.push({ id, set: [`s-${n}`] });
    else rules.push({ id, add: ['x'] }, { id, remove: ['x', 'sale'], add: ['y'] });
  }
  return rules;
}

/** Images the rules name whose tags are not what the oracle (test/helpers/oracle.ts) composes. */
function wrongImages(s: Simulator, before: Record<string, { tags: string[] }>, rules: Array<Record<string, unknown>>): string[] {
  const wrong: string[] = [];
  for (const id of new Set(rules.map((r) => r.id as string))) {
    const want = expectedTags(id, before[id]!.tags, rules);
    const have = s.library.get(id)!.tags;
    if (!sameMembers(want, have)) wrong.push(`${id}: want [${want}] have [${have}]`);
  }
  return wrong;
}

test('every fault kind at once: all images right, journal attempts and client counters agree with the server', async () => {
  sim = await startSimulator({
    generate: 150,
    seed: 99,
    error5xxRate: 0.08,
    faultAfterApplyRate: 0.04,
    dropRate: 0.03,
    busyRate: 0.04,
    latencyMs: 2,
    jitterMs: 10,
  });
  const before = sim.library.dump();
  const rules = mixedRules(150);
  const targets = await targetsFromRules(tmp.dir, rules, 'faults.ndjson');
  const { result, entries, counters } = await runInProcess(targets, { baseUrl: sim.url, apiKey: DEFAULT_KEY, rate: 300, concurrency: 8, retries: 8 });
  const stats = sim.stats();
  expect(result.aborted).toBeUndefined();
  expect(result.failed).toBe(0);
  expect(wrongImages(sim, before, rules)).toEqual([]);
  // Every attempt the client made reached the server, and nothing else did.
  expect(counters.total).toBe(stats.requests);
  const journalAttempts = entries.reduce((n, e) => n + e.attempts, 0);
  expect(journalAttempts).toBe(counters.writes);
  expect(entries.some((e) => e.attempts > 1)).toBe(true);
  // A write answered 500 after it was applied is simply written again (idempotent).
  expect(stats.writtenMoreThanOnce.length).toBeGreaterThan(0);
  for (const id of stats.writtenMoreThanOnce) expect(entries.find((e) => e.id === id)?.attempts).toBeGreaterThan(1);
});

test('client rate above the server limit: 429s slow the whole queue, nothing is lost, both sides count the same 429s', async () => {
  sim = await startSimulator({ generate: 60, rateLimit: 30, burst: 15, seed: 5 });
  const before = sim.library.dump();
  const rules = mixedRules(60);
  const targets = await targetsFromRules(tmp.dir, rules, 'limit.ndjson');
  const { result, counters } = await runInProcess(targets, { baseUrl: sim.url, apiKey: DEFAULT_KEY, rate: 50, concurrency: 6, retries: 10 });
  const stats = sim.stats();
  expect(result.failed).toBe(0);
  expect(wrongImages(sim, before, rules)).toEqual([]);
  expect(stats.rateLimited).toBeGreaterThan(0);
  expect(counters.status429).toBe(stats.rateLimited);
  expect(counters.total).toBe(stats.requests);
});

test('dry run: every target planned, not one POST', async () => {
  sim = await startSimulator({ generate: 40, seed: 6 });
  const before = sim.library.dump();
  const targets = await targetsFromRules(tmp.dir, [...mixedRules(40), { id: 'missing-1', set: ['z'] }], 'dry.ndjson');
  const { plans, entries } = await runInProcess(targets, { baseUrl: sim.url, apiKey: DEFAULT_KEY, dryRun: true });
  expect(sim.stats().byMethod.POST).toBeUndefined();
  expect(sim.library.dump()).toEqual(before);
  expect(plans.map((p) => p.id).sort()).toEqual(targets.map((t) => t.id).sort());
  expect(plans.find((p) => p.id === 'missing-1')?.action).toBe('not_found');
  // Nothing is journaled as updated in a dry run.
  expect(entries.filter((e) => e.outcome === 'updated')).toEqual([]);
});
