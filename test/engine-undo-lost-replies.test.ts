/**
 * Issue 7, "done when" 2: against a server that applies 30% of the updates and then answers 500
 * (the reply is lost, the write landed), a run with --retries 0 followed by `retag undo` restores
 * every image the run changed; and the same after that run was resumed on a healthy server,
 * where the resume finds the lost writes already there (journaled `unchanged`, hiding their first
 * `before` unless undo takes the earliest one). Built CLI against the in-process simulator.
 *
 * The simulator's fault rates are fixed at start (no setter, no control route), so the "healthy
 * server" of the second case is a second simulator built from the same seed (the same generated
 * library, checked) into which the first one's library is copied image by image after the run:
 * the resume and its undo see exactly the library the faulty run left.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { expectedLibrary, mismatches, migrationRules, postCount, scratch, tagsOf, writeRules } from './helpers/engine-e2e.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli } from './safe-harness.js';

const N = 150;
const SEED = 7;
const FAST = ['--rate', '300', '--concurrency', '4', '--log-level', 'warn'];

interface Summary {
  exitCode: number;
  counts: { updated: number; unchanged: number; failed: number; conflict: number; skipped: number; total: number };
  failuresByReason: Record<string, number>;
}

describe('undo after lost replies (500 after apply, --retries 0)', () => {
  let scratchDir: { dir: string; cleanup(): Promise<void> };
  const sims: Simulator[] = [];
  const faulty = async () => {
    const sim = await startSimulator({ generate: N, faultAfterApplyRate: 0.3, seed: SEED, latencyMs: 5, jitterMs: 3 });
    sims.push(sim);
    return sim;
  };
  beforeAll(async () => {
    assertBuilt();
    scratchDir = await scratch('retag-engine-lost-');
  });
  afterAll(async () => {
    for (const sim of sims) await sim.close();
    await scratchDir?.cleanup();
  });

  /** The faulty run: exit 1, every write landed (no fault refuses one), some replies lost. */
  async function faultyRun(sim: Simulator, name: string) {
    const original = sim.library.dump();
    const ids = Object.keys(original);
    expect(ids).toHaveLength(N);
    const rules = migrationRules(ids);
    const manifest = await writeRules(path.join(scratchDir.dir, `${name}.ndjson`), rules);
    const runDir = path.join(scratchDir.dir, name);
    const run = await runCli(['run', manifest, '--retries', '0', '--out', runDir, ...FAST], sim);
    expectExit(run, 1);

    const stats = sim.stats();
    const summary = readJson<Summary>(path.join(runDir, 'summary.json'));
    // One POST per image, each applied; the ones answered 500 are the failures, no other kind.
    expect(postCount(stats)).toBe(N);
    expect(stats.updatesApplied).toBe(N);
    expect(stats.faults.faultAfterApply).toBeGreaterThan(10);
    expect(stats.faults.faultAfterApply).toBeLessThan(N - 10);
    expect(summary.counts).toMatchObject({ failed: stats.faults.faultAfterApply, updated: N - stats.faults.faultAfterApply, conflict: 0 });
    expect(summary.failuresByReason).toEqual({ retries_exhausted: stats.faults.faultAfterApply });
    // Every write landed, lost reply or not: the library holds the manifest's result everywhere.
    const expected = expectedLibrary(original, rules);
    expect(mismatches(sim.library.dump(), expected)).toEqual([]);
    // undo.ndjson names every image, failed ones included, with the tags it held before the run.
    const undoFile = readNdjson<{ id: string; set: string[] }>(path.join(runDir, 'undo.ndjson'));
    expect([...undoFile].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...ids].sort().map((id) => ({ id, set: original[id]!.tags })));
    return { original, rules, manifest, runDir, failed: summary.counts.failed };
  }

  test('retag undo of the faulty run restores every image, failed ones included', async () => {
    const sim = await faulty();
    const { original, runDir } = await faultyRun(sim, 'run');

    // The undo runs against the same faulty server; its own lost replies are retried (a retry
    // re-sends the same list), so it ends clean.
    sim.resetStats();
    const undoDir = path.join(scratchDir.dir, 'undo');
    const undo = await runCli(['undo', runDir, '--out', undoDir, '--retries', '10', ...FAST], sim);
    expectExit(undo, 0);
    expect(sim.library.dump()).toEqual(original);
    expect(readJson<Summary>(path.join(undoDir, 'summary.json')).counts).toMatchObject({ updated: N, unchanged: 0, failed: 0, conflict: 0 });
  }, 60_000);

  test('resumed on a healthy server, then undone: every image restored', async () => {
    const sim = await faulty();
    const { original, rules, manifest, runDir, failed } = await faultyRun(sim, 'resumed-run');

    // The healthy server, holding the library the faulty run left.
    const healthy = await startSimulator({ generate: N, seed: SEED, latencyMs: 5, jitterMs: 3 });
    sims.push(healthy);
    expect(healthy.library.dump()).toEqual(original);
    for (const [id, tags] of Object.entries(tagsOf(sim.library.dump()))) healthy.library.setTags(id, tags);
    expect(healthy.library.dump()).toEqual(sim.library.dump());

    const resume = await runCli(['run', manifest, '--resume', runDir, ...FAST], healthy);
    expectExit(resume, 0);
    // The failed items are read again and found already written (unchanged, no POST); the
    // updated ones are skipped unread.
    expect(postCount(healthy.stats())).toBe(0);
    const resumed = readJson<Summary & { wholeRun: Summary['counts'] }>(path.join(runDir, 'summary.json'));
    expect(resumed.counts).toMatchObject({ unchanged: failed, skipped: N - failed, failed: 0, updated: 0 });
    expect(resumed.wholeRun).toMatchObject({ updated: N - failed, unchanged: failed, failed: 0, conflict: 0 });
    expect(mismatches(healthy.library.dump(), expectedLibrary(original, rules))).toEqual([]);
    // undo.ndjson still restores the first before of every image, not the resume's read.
    const undoFile = readNdjson<{ id: string; set: string[] }>(path.join(runDir, 'undo.ndjson'));
    expect(undoFile.length).toBe(N);
    for (const line of undoFile) expect([line.id, line.set]).toEqual([line.id, original[line.id]!.tags]);

    healthy.resetStats();
    const undoDir = path.join(scratchDir.dir, 'resumed-undo');
    const undo = await runCli(['undo', runDir, '--out', undoDir, ...FAST], healthy);
    expectExit(undo, 0);
    expect(healthy.library.dump()).toEqual(original);
    expect(postCount(healthy.stats())).toBe(N);
    expect(readJson<Summary>(path.join(undoDir, 'summary.json')).counts).toMatchObject({ updated: N, unchanged: 0, failed: 0, conflict: 0 });
  }, 60_000);
});
