/**
 * Issue 7, "done when" 5 (design.md §5): a run directory in use is locked. While a run is in
 * progress (a slow simulator), a second `--resume` of its directory, an `undo` of it and an
 * `apply --resume` into it exit 4 at once and send nothing; after a `kill -9` of the holder, a
 * `--resume` is not blocked (the lock of a dead process is taken over at once) and finishes the
 * run, and releases the lock (an undo of it then runs).
 *
 * "Sends nothing" is counted exactly: the blocked processes are pointed at a second simulator
 * that nothing else talks to, which must see no request at all; and they leave no file in the
 * run directory. Built CLI against in-process simulators.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { expectedLibrary, journalState, mismatches, migrationRules, pollUntil, scratch, writeRules } from './helpers/engine-e2e.js';
import { assertBuilt, expectExit, readJson, runCli, startCli } from './safe-harness.js';

const N = 200;
const SLOW = ['--rate', '300', '--concurrency', '2', '--page-size', '50', '--log-level', 'warn'];
const FAST = ['--rate', '300', '--concurrency', '32', '--page-size', '50', '--log-level', 'warn'];

describe('run-directory lock', () => {
  let sim: Simulator;
  let sentinel: Simulator;
  let scratchDir: { dir: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    assertBuilt();
    scratchDir = await scratch('retag-engine-locks-');
    sim = await startSimulator({ generate: N, latencyMs: 200, seed: 61 });
    // Same library, but no one should ever reach it: whatever it receives came from a blocked process.
    sentinel = await startSimulator({ generate: N, seed: 61 });
  });
  afterAll(async () => {
    await sim?.close();
    await sentinel?.close();
    await scratchDir?.cleanup();
  });

  test('a second --resume, an undo and an apply into a directory in use exit 4 at once, sending nothing; after kill -9 a --resume takes over', async () => {
    const original = sim.library.dump();
    const rules = migrationRules(Object.keys(original));
    const manifest = await writeRules(path.join(scratchDir.dir, 'rules.ndjson'), rules);
    const runDir = path.join(scratchDir.dir, 'run');
    // A saved plan of the same change, for an `apply --resume` into the directory in use.
    const planDir = path.join(scratchDir.dir, 'plan');
    expectExit(await runCli(['plan', manifest, '--out', planDir, ...FAST], sentinel), 0);
    sentinel.resetStats();

    const holder = startCli(['run', manifest, '--out', runDir, ...SLOW], sim);
    let holderEnded = false;
    void holder.done.then(() => (holderEnded = true));
    try {
      // In progress: the holder has written into its journal (it took the lock before that).
      await pollUntil(() => {
        if (holderEnded) throw new Error(`the holder ended early:\n${holder.stderr().slice(-2000)}`);
        return journalState(runDir).finished.size >= 2;
      }, 'the holder to finish two items');
      const filesBefore = readdirSync(runDir).sort();
      expect(filesBefore).toEqual(['.retag.lock', '.retag.lock.owner', 'journal.ndjson']);

      // At once: well before the holder ends (its 200 images take ~20 s at 200 ms and 2 in flight).
      let t = Date.now();
      const second = await runCli(['run', manifest, '--resume', runDir, ...FAST], sentinel);
      expectExit(second, 4);
      expect(second.exitedAt - t).toBeLessThan(5_000);
      expect(second.stderr).toContain(`run directory ${runDir} is in use by another retag process`);
      expect(second.stderr).toContain('nothing was sent');
      expect(holderEnded).toBe(false);

      t = Date.now();
      const undoDir = path.join(scratchDir.dir, 'undo-blocked');
      const undo = await runCli(['undo', runDir, '--out', undoDir, ...FAST], sentinel);
      expectExit(undo, 4);
      expect(undo.exitedAt - t).toBeLessThan(5_000);
      expect(undo.stderr).toContain(`run directory ${runDir} is in use by another retag process`);
      expect(undo.stderr).toContain('nothing was sent');
      expect(holderEnded).toBe(false);

      t = Date.now();
      const apply = await runCli(['apply', planDir, '--resume', runDir, ...FAST], sentinel);
      expectExit(apply, 4);
      expect(apply.exitedAt - t).toBeLessThan(5_000);
      expect(apply.stderr).toContain(`run directory ${runDir} is in use by another retag process`);
      expect(holderEnded).toBe(false);

      // None sent a single request, nor left a file in the run directory, nor a journal or
      // summary of the blocked undo.
      expect(sentinel.stats().requests).toBe(0);
      expect(readdirSync(runDir).sort()).toEqual(filesBefore);
      expect(existsSync(path.join(undoDir, 'journal.ndjson'))).toBe(false);
      expect(existsSync(path.join(undoDir, 'summary.json'))).toBe(false);
    } finally {
      holder.child.kill('SIGKILL');
    }
    const dead = await holder.done;
    expect(dead.signal).toBe('SIGKILL');
    await pollUntil(() => sim.stats().inFlight === 0, 'the server to finish what it received');
    expect(journalState(runDir).finished.size).toBeLessThan(N);

    // The holder is dead: its lock is taken over at once (well before it would go stale).
    const started = Date.now();
    const resume = await runCli(['run', manifest, '--resume', runDir, ...FAST], sim);
    expectExit(resume, 0);
    expect(resume.exitedAt - started).toBeLessThan(15_000);
    expect(mismatches(sim.library.dump(), expectedLibrary(original, rules))).toEqual([]);
    // (An item whose write landed as the holder died is found done: unchanged.)
    const whole = readJson<{ wholeRun: { updated: number; unchanged: number; failed: number; total: number } }>(path.join(runDir, 'summary.json')).wholeRun;
    expect(whole).toMatchObject({ failed: 0, total: N });
    expect(whole.updated + whole.unchanged).toBe(N);
    expect(sentinel.stats().requests).toBe(0);
    // And the lock is released at the end: an undo of the directory now runs.
    const undo = await runCli(['undo', runDir, '--out', path.join(scratchDir.dir, 'undo'), ...FAST], sim);
    expectExit(undo, 0);
    expect(sim.library.dump()).toEqual(original);
  }, 60_000);
});
