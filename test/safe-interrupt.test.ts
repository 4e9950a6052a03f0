/**
 * Graceful interrupt (design.md §7): SIGINT/SIGTERM stop new work, drain the requests in flight,
 * write the journal and reports, exit 130/143; a second signal exits at once. The interrupted run
 * resumes to completion with every image right and no image written twice.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, expectExit, journalIds, readJson, runCli, startCli, tempDir, waitFor, writeMigration, wrongImages } from './safe-harness.js';

const N = 500;

describe('interrupt', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ generate: N, latencyMs: 20, jitterMs: 20, seed: 5 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  test('SIGINT mid-run: exit 130 within 15 s with summary.json; the resume finishes every image, none written twice', async () => {
    sim.resetStats();
    const dir = await tempDir();
    const manifest = await writeMigration(dir, N, 'sigint-tag');
    const runDir = path.join(dir, 'run');
    const before = sim.library.dump();
    const args = ['run', manifest, '--concurrency', '4', '--rate', '120', '--log-level', 'warn'];

    const run = startCli([...args, '--out', runDir], sim);
    await waitFor(() => journalIds(runDir).length >= 100, 'the journal to reach 100 lines');
    const signalledAt = Date.now();
    run.child.kill('SIGINT');
    const done = await run.done;
    const exitMs = done.exitedAt - signalledAt;
    expectExit(done, 130);
    expect(exitMs).toBeLessThan(15_000);

    const summaryFile = path.join(runDir, 'summary.json');
    expect(existsSync(summaryFile)).toBe(true);
    const summary = readJson<{ exitCode: number; unfinished?: number; counts: { failed: number } }>(summaryFile);
    expect(summary.exitCode).toBe(130);
    expect(summary.counts.failed).toBe(0); // unfinished items are not failures (nor not_found)
    expect(summary.unfinished).toBeGreaterThan(0);
    expect(existsSync(path.join(runDir, 'undo.ndjson'))).toBe(true);
    expect(done.stderr).toContain('--resume');

    // Drained: every write the server applied is in the journal.
    const journaled = new Set(journalIds(runDir));
    for (const id of Object.keys(sim.stats().appliedById)) expect(journaled.has(id)).toBe(true);

    const resumed = await runCli([...args, '--resume', runDir], sim);
    expectExit(resumed, 0);
    expect(await wrongImages(sim, manifest, before)).toEqual([]);
    expect(sim.stats().writtenMoreThanOnce).toEqual([]);
  });

  test('SIGTERM to a job: exit 143 after the drain, with the command that resumes it', async () => {
    const dir = await tempDir();
    await writeMigration(dir, N, 'sigterm-tag');
    const job = path.join(dir, 'job.json');
    await writeFile(job, JSON.stringify({ name: 'sigterm-job', manifest: 'migration.ndjson', options: { rate: 120, logLevel: 'warn' } }));
    const runDir = path.join(dir, 'run');
    const run = startCli(['job', job, '--out', runDir, '--lock-dir', path.join(dir, 'locks')], sim);
    await waitFor(() => journalIds(runDir).length >= 50, 'the journal to reach 50 lines');
    run.child.kill('SIGTERM');
    const done = await run.done;
    expectExit(done, 143);
    expect(readJson<{ exitCode: number }>(path.join(runDir, 'summary.json')).exitCode).toBe(143);
    expect(done.stderr).toContain(`resume with: retag job ${job} --resume ${runDir}`);
  });

  test('the drain is bounded: with a hung server (and --timeout 60), SIGINT still ends the run within 15 s, reports written', async () => {
    const hung = await startSimulator({ generate: 20, latencyMs: 40_000 });
    try {
      const dir = await tempDir();
      const manifest = await writeMigration(dir, 20, 'hung');
      const runDir = path.join(dir, 'run');
      const run = startCli(['run', manifest, '--timeout', '60', '--log-level', 'warn', '--out', runDir], hung);
      await waitFor(() => hung.stats().inFlight > 0, 'a request in flight');
      const signalledAt = Date.now();
      run.child.kill('SIGINT');
      const done = await run.done;
      expectExit(done, 130);
      expect(done.exitedAt - signalledAt).toBeLessThan(15_000);
      expect(done.stderr).toContain('cutting them');
      expect(readJson<{ exitCode: number; unfinished: number }>(path.join(runDir, 'summary.json'))).toMatchObject({ exitCode: 130, unfinished: 20 });
    } finally {
      await hung.close();
    }
  });

  test('a second signal exits at once, without waiting for the drain', async () => {
    // Requests take 5 s each, so a drain would take that long; the second SIGINT must not wait.
    const slow = await startSimulator({ generate: 20, latencyMs: 5000 });
    try {
      const dir = await tempDir();
      const manifest = await writeMigration(dir, 20, 'twice');
      const run = startCli(['run', manifest, '--log-level', 'warn', '--out', path.join(dir, 'run')], slow);
      await waitFor(() => slow.stats().inFlight > 0, 'a request in flight');
      run.child.kill('SIGINT');
      await waitFor(() => run.stderr().includes('SIGINT'), 'the first SIGINT to be noted');
      const secondAt = Date.now();
      run.child.kill('SIGINT');
      const done = await run.done;
      expectExit(done, 130);
      expect(done.exitedAt - secondAt).toBeLessThan(2000);
      expect(done.stderr).toContain('second SIGINT');
    } finally {
      await slow.close();
    }
  });
});
