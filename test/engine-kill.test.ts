/**
 * Issue 7, "done when" 3: `kill -9` at different moments of a run, then `--resume` to the end:
 * every image holds the manifest's result; then `retag undo` of the whole run (every invocation
 * of it) restores every image to what it held before the run, to the letter.
 *
 * Most kills wait (polling the journal file and the simulator's counters) until N items have an
 * outcome line AND some item's write was applied by the server while the journal still shows only
 * its `pending` line: the kill falls between a write and its reply (checked after the fact on the
 * dead process's journal, and the resume must find that write landed and not send it again). One
 * kill comes as soon as the first `pending` line is in the file, one as soon as the server has
 * applied the first write, whatever the file shows.
 * Write-ahead, checked at each kill: every write the server applied has a line in the journal.
 * Built CLI against the in-process simulator.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { expectedLibrary, journalState, mismatches, migrationRules, pollUntil, postCount, scratch, writeRules } from './helpers/engine-e2e.js';
import { assertBuilt, expectExit, readJson, runCli, startCli } from './safe-harness.js';

const N = 200;
const ARGS = ['--rate', '300', '--concurrency', '8', '--page-size', '50', '--log-level', 'warn'];

interface Summary {
  exitCode: number;
  counts: { updated: number; unchanged: number; failed: number; conflict: number; skipped: number; total: number };
  wholeRun?: { updated: number; unchanged: number; failed: number; conflict: number; total: number };
}

describe('kill -9, --resume, undo of the whole run', () => {
  let scratchDir: { dir: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    assertBuilt();
    scratchDir = await scratch('retag-engine-kill-');
  });
  afterAll(async () => {
    await scratchDir?.cleanup();
  });

  /**
   * A kill point: once this many items have an outcome line, and then
   * - `pending`: some item has a pending line and no outcome;
   * - `landed`: moreover, the server has applied that item's write;
   * - `server`: the server has applied a write (whatever the journal file shows: this is where a
   *   write sent before its pending line reached the file would be caught).
   */
  interface KillPoint {
    outcomes: number;
    when: 'pending' | 'landed' | 'server';
  }

  /** Start (or resume) the run, kill -9 it at `point`; return what the journal said at the kill. */
  async function runAndKill(sim: Simulator, manifest: string, runDir: string, point: KillPoint, resume: boolean) {
    const child = startCli(['run', manifest, ...(resume ? ['--resume', runDir] : ['--out', runDir]), ...ARGS], sim);
    try {
      await pollUntil(() => {
        if (child.child.exitCode !== null) throw new Error(`the run ended before the kill point (exit ${child.child.exitCode}):\n${child.stderr().slice(-2000)}`);
        const applied = sim.stats().appliedById;
        if (point.when === 'server') return Object.keys(applied).length > 0;
        const s = journalState(runDir);
        if (s.finished.size < point.outcomes || s.pendingOnly.size === 0) return false;
        return point.when === 'pending' || [...s.pendingOnly].some((id) => applied[id] !== undefined);
      }, `kill point ${JSON.stringify(point)}`);
    } finally {
      child.child.kill('SIGKILL');
    }
    const dead = await child.done;
    expect(dead.signal).toBe('SIGKILL');
    // Requests the child sent before dying may still be applied: wait until the server has answered them.
    await pollUntil(() => sim.stats().inFlight === 0, 'the server to finish what it received');
    const state = journalState(runDir);
    const applied = sim.stats().appliedById;
    // Killed after a pending line, before its outcome: at least one item has none.
    expect(state.pendingOnly.size).toBeGreaterThan(0);
    expect(state.finished.size).toBeGreaterThanOrEqual(point.outcomes);
    expect(state.finished.size).toBeLessThan(N);
    // Writes that landed and whose reply the kill lost.
    const landedUnanswered = [...state.pendingOnly].filter((id) => applied[id] !== undefined);
    if (point.when !== 'pending') expect(landedUnanswered.length).toBeGreaterThan(0);
    // Write-ahead: no write reached the server without its line in the journal first.
    const journaled = new Set([...state.finished, ...state.pendingOnly]);
    expect(Object.keys(applied).filter((id) => !journaled.has(id))).toEqual([]);
    return { ...state, landedUnanswered };
  }

  // Kill points: how many items have an outcome line when the kill comes. A list with several
  // entries is one run killed, resumed and killed again, before the final resume.
  test.each<[string, KillPoint[]]>([
    ['as soon as the first pending line is in the file', [{ outcomes: 0, when: 'pending' }]],
    ['as soon as the server applied the first write', [{ outcomes: 0, when: 'server' }]],
    ['after 25 outcomes', [{ outcomes: 25, when: 'landed' }]],
    ['after 70 outcomes', [{ outcomes: 70, when: 'landed' }]],
    ['after 120 outcomes', [{ outcomes: 120, when: 'landed' }]],
    ['after 175 outcomes, near the end', [{ outcomes: 175, when: 'landed' }]],
    ['twice: after 50 outcomes, then the resume after 130', [{ outcomes: 50, when: 'landed' }, { outcomes: 130, when: 'landed' }]],
  ])('kill -9 %s, then --resume: every image right; undo restores every image', async (name, points) => {
    const sim = await startSimulator({ generate: N, latencyMs: 10, jitterMs: 5, seed: 31 + points[0]!.outcomes });
    try {
      const original = sim.library.dump();
      const rules = migrationRules(Object.keys(original));
      const expected = expectedLibrary(original, rules);
      const dir = path.join(scratchDir.dir, name.replace(/\W+/g, '-'));
      const manifest = await writeRules(`${dir}.ndjson`, rules);
      const runDir = path.join(dir, 'run');

      let landedUnanswered: string[] = [];
      for (const [i, point] of points.entries()) {
        sim.resetStats();
        const finishedBefore = i === 0 ? new Set<string>() : journalState(runDir).finished;
        const state = await runAndKill(sim, manifest, runDir, point, i > 0);
        // A resume that is killed again does not write what the journal already had done.
        for (const id of Object.keys(sim.stats().appliedById)) expect([id, finishedBefore.has(id)]).toEqual([id, false]);
        landedUnanswered = state.landedUnanswered;
      }

      sim.resetStats();
      const atKill = journalState(runDir);
      const resumed = await runCli(['run', manifest, '--resume', runDir, ...ARGS], sim);
      expectExit(resumed, 0);
      expect(mismatches(sim.library.dump(), expected)).toEqual([]);
      // The resume writes only what had no outcome: the items in flight at the last kill (a
      // write that landed is found there and left alone) and those never started.
      for (const id of Object.keys(sim.stats().appliedById)) expect([id, atKill.finished.has(id)]).toEqual([id, false]);
      expect(Math.max(...Object.values(sim.stats().appliedById))).toBe(1);
      const summary = readJson<Summary>(path.join(runDir, 'summary.json'));
      expect(summary.exitCode).toBe(0);
      expect(summary.counts.skipped).toBe(atKill.finished.size);
      expect(summary.wholeRun).toMatchObject({ failed: 0, conflict: 0, total: N });
      expect(summary.wholeRun!.updated + summary.wholeRun!.unchanged).toBe(N);
      // A write that landed unanswered at the last kill is read again, found there, not re-sent.
      for (const id of landedUnanswered) expect([id, sim.stats().appliedById[id]]).toEqual([id, undefined]);

      // Undo of the whole run (every invocation): every image back to what it held before.
      sim.resetStats();
      const undoDir = path.join(dir, 'undo');
      const undo = await runCli(['undo', runDir, '--out', undoDir, ...ARGS], sim);
      expectExit(undo, 0);
      expect(sim.library.dump()).toEqual(original);
      expect(postCount(sim.stats())).toBe(N);
      expect(readJson<Summary>(path.join(undoDir, 'summary.json')).counts).toMatchObject({ updated: N, unchanged: 0, failed: 0, conflict: 0 });
    } finally {
      await sim.close();
    }
  }, 60_000);
});
