/**
 * Resume after a crash (design.md §7): a run killed with kill -9 mid-way, then resumed with
 * --resume, ends with every image right, and no image is written twice except those in flight
 * at the kill. Spawns the built CLI against the in-process simulator.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, expectExit, journalIds, readJson, runCli, startCli, tempDir, waitFor, writeMigration, wrongImages } from './safe-harness.js';

const N = 600;
const CONCURRENCY = 4;

describe('kill -9, then --resume', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ generate: N, latencyMs: 20, jitterMs: 20, seed: 3 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  test('every image ends right; only the items in flight at the kill are written twice', async () => {
    const dir = await tempDir();
    const manifest = await writeMigration(dir, N);
    const runDir = path.join(dir, 'run');
    const before = sim.library.dump();
    const args = ['run', manifest, '--concurrency', String(CONCURRENCY), '--rate', '150', '--page-size', '100', '--log-level', 'warn'];

    const first = startCli([...args, '--out', runDir], sim);
    await waitFor(() => new Set(journalIds(runDir, 'finished')).size >= 120, 'the journal to record 120 finished items');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    // Requests the child sent just before dying may still be applied by the server: wait until
    // the server has answered everything it received (event-driven, no sleep-and-hope).
    await waitFor(() => sim.stats().inFlight === 0 || undefined, 'the server to finish the requests it received');

    // Write-ahead (design.md §5): every write the server applied has a line in the journal; the
    // only items without an outcome are those whose write was in flight (or finished in the
    // same event-loop turn as the kill, before its buffered outcome line reached the OS).
    const finished = new Set(journalIds(runDir, 'finished'));
    const pendingOnly = new Set(journalIds(runDir, 'pending').filter((id) => !finished.has(id)));
    expect(finished.size).toBeGreaterThanOrEqual(120);
    expect(finished.size).toBeLessThan(N);
    const appliedAtKill = sim.stats().appliedById;
    for (const id of Object.keys(appliedAtKill)) expect([id, finished.has(id) || pendingOnly.has(id)]).toEqual([id, true]);
    const inFlight = new Set(Object.keys(appliedAtKill).filter((id) => !finished.has(id)));
    expect(inFlight.size).toBeLessThanOrEqual(2 * CONCURRENCY);

    // A crash mid-write leaves a torn last line: the resume must shrug it off.
    appendFileSync(path.join(runDir, 'journal.ndjson'), '{"id":"img-000599","outcome":"upd');

    const resumed = await runCli([...args, '--resume', runDir], sim);
    expect(resumed.stderr).toContain('torn');
    expectExit(resumed, 0);

    expect(await wrongImages(sim, manifest, before)).toEqual([]);
    const applied = sim.stats().appliedById;
    const twice = Object.entries(applied)
      .filter(([, n]) => n > 1)
      .map(([id]) => id);
    for (const id of twice) expect(inFlight.has(id)).toBe(true);
    expect(Math.max(...Object.values(applied))).toBeLessThanOrEqual(2);

    // The reports cover the whole run: every item done, none failed, undo for every update.
    const summary = readJson<{ exitCode: number; counts: { skipped: number }; wholeRun: { updated: number; unchanged: number; failed: number; total: number } }>(
      path.join(runDir, 'summary.json'),
    );
    expect(summary.exitCode).toBe(0);
    expect(summary.counts.skipped).toBeGreaterThanOrEqual(finished.size - 1);
    expect(summary.wholeRun.failed).toBe(0);
    expect(summary.wholeRun.updated + summary.wholeRun.unchanged).toBe(N);
  });
});
