/**
 * Issue 7, "done when" 4 (design.md §7 "Resume"): a run interrupted midway (SIGINT, exit 130)
 * whose manifest is then edited in place, resumed: every image ends holding the NEW rules'
 * result. Items recorded done with the operation the manifest gives them now are skipped
 * unread; done items whose rules changed are done again, and a warning gives their count
 * (summary.json `redone`). A rule rewritten into another form with the same composed operation
 * is not a change. Then undo of the whole run restores every image. Built CLI, in-process simulator.
 *
 * "The new rules' result" is unambiguous here: the new rules of a done item either set its tags,
 * or are its old rules plus an add — both give the same tags whether applied to what the image
 * held before the run or to what the first invocation left (the old rules are idempotent).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { expectedLibrary, journalLines, mismatches, migrationRules, pollUntil, postCount, scratch, writeRules, type TestRule } from './helpers/engine-e2e.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli, startCli } from './safe-harness.js';

const N = 200;
const ARGS = ['--concurrency', '4', '--page-size', '50', '--log-level', 'warn'];

interface Summary {
  exitCode: number;
  redone?: number;
  unfinished?: number;
  counts: { updated: number; unchanged: number; failed: number; conflict: number; skipped: number; total: number };
  wholeRun?: { updated: number; unchanged: number; failed: number; conflict: number; total: number };
}

describe('resume after the manifest was edited in place', () => {
  let sim: Simulator;
  let scratchDir: { dir: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    assertBuilt();
    scratchDir = await scratch('retag-engine-edited-');
    sim = await startSimulator({ generate: N, latencyMs: 5, jitterMs: 5, seed: 51 });
  });
  afterAll(async () => {
    await sim?.close();
    await scratchDir?.cleanup();
  });

  test('every image ends with the new rules; changed done items are done again and counted; undo restores all', async () => {
    const original = sim.library.dump();
    const ids = Object.keys(original);
    const oldRules = migrationRules(ids);
    const manifest = await writeRules(path.join(scratchDir.dir, 'rules.ndjson'), oldRules);
    const runDir = path.join(scratchDir.dir, 'run');

    const first = startCli(['run', manifest, '--out', runDir, '--rate', '150', ...ARGS], sim);
    await pollUntil(() => {
      if (first.child.exitCode !== null) throw new Error(`the run ended before the interrupt:\n${first.stderr().slice(-2000)}`);
      return journalLines(runDir).filter((e) => e.outcome !== 'pending').length >= 80;
    }, '80 outcome lines');
    first.child.kill('SIGINT');
    expectExit(await first.done, 130);

    // What the first invocation did: items updated (each after its pending line), and items
    // left pending (queued behind the rate limit when the signal came): those never sent are
    // marked `unsent`, so undo knows they cannot have landed.
    const lines = journalLines(runDir);
    const done = new Set(lines.filter((e) => e.outcome === 'updated').map((e) => e.id));
    const pending = new Set(lines.filter((e) => e.outcome === 'pending').map((e) => e.id));
    const unsent = new Set(lines.filter((e) => e.outcome === 'unsent').map((e) => e.id));
    expect(lines.filter((e) => !['pending', 'updated', 'unsent'].includes(e.outcome))).toEqual([]);
    for (const id of unsent) expect([id, pending.has(id) && !done.has(id)]).toEqual([id, true]);
    // undo.ndjson lists only what may have landed: never an item whose write was not sent.
    const undoIds = new Set(readNdjson<{ id: string }>(path.join(runDir, 'undo.ndjson')).map((u) => u.id));
    for (const id of unsent) expect([id, undoIds.has(id)]).toEqual([id, false]);
    for (const id of done) expect([id, pending.has(id)]).toEqual([id, true]);
    expect(done.size).toBeGreaterThanOrEqual(80);
    expect(done.size).toBeLessThan(N - 40);

    // Edit the manifest in place. Done items: 20 get other rules (10 a set, 10 their rules plus
    // an add), 5 their rules in another form with the same composed operation. Not done (left
    // pending, or not reached): 20 get other rules.
    const doneIds = ids.filter((id) => done.has(id));
    const notDone = ids.filter((id) => !done.has(id));
    const editedDone = doneIds.filter((_, k) => k % 4 === 0).slice(0, 20);
    const rewrittenSame = doneIds.filter((id) => ids.indexOf(id) % 5 === 1 && !editedDone.includes(id)).slice(0, 5);
    const editedLater = notDone.filter((_, k) => k % 3 === 0).slice(0, 20);
    expect([editedDone.length, rewrittenSame.length, editedLater.length]).toEqual([20, 5, 20]);
    const newRules: TestRule[] = [];
    const byId = new Map<string, TestRule[]>();
    for (const r of oldRules) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
    for (const id of ids) {
      const own = byId.get(id)!;
      const k = editedDone.indexOf(id);
      if (k >= 0 && k % 2 === 0) newRules.push({ id, set: ['edited', `v${k}`] });
      else if (k >= 0) newRules.push(...own, { id, add: ['edited-too'] });
      else if (rewrittenSame.includes(id)) {
        const [rule] = own;
        newRules.push({ id, add: rule!.add! }, { id, remove: rule!.remove! });
      } else if (editedLater.includes(id)) newRules.push({ id, add: ['late-edit'], remove: ['archive', 'sale'] });
      else newRules.push(...own);
    }
    await writeRules(manifest, newRules);

    sim.resetStats();
    const resume = await runCli(['run', manifest, '--resume', runDir, '--rate', '300', ...ARGS], sim);
    expectExit(resume, 0);

    // Every image holds the new rules' result.
    expect(mismatches(sim.library.dump(), expectedLibrary(original, newRules))).toEqual([]);
    // Written again: exactly what was not done, and the done items whose operation changed.
    const expectedWrites = new Set([...ids.filter((id) => !done.has(id)), ...editedDone]);
    expect(Object.keys(sim.stats().appliedById).sort()).toEqual([...expectedWrites].sort());
    expect(postCount(sim.stats())).toBe(expectedWrites.size);
    const summary = readJson<Summary>(path.join(runDir, 'summary.json'));
    expect(summary.redone).toBe(20);
    expect(summary.counts).toMatchObject({ skipped: done.size - 20, failed: 0, conflict: 0 });
    expect(summary.wholeRun).toMatchObject({ updated: N, failed: 0, conflict: 0, total: N });
    // The warning, with the count.
    expect(resume.stderr).toContain('"redone":20');
    expect(resume.stderr).toContain('20 items were done before with another operation: done again');

    // Undo of the whole run (both invocations): the first before of every image.
    sim.resetStats();
    const undo = await runCli(['undo', runDir, '--out', path.join(scratchDir.dir, 'undo'), '--rate', '300', ...ARGS], sim);
    expectExit(undo, 0);
    expect(sim.library.dump()).toEqual(original);
    expect(postCount(sim.stats())).toBe(N);
  }, 60_000);
});
