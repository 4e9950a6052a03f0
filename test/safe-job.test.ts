/**
 * `retag job <file>` (design.md §7): validated job files (exit 2 with the path of the problem),
 * command-line flags over job options, and a lock per job name for the whole run — a second
 * run exits 4 at once and sends nothing; a lock left by a kill -9 is taken over once stale.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadJobFile } from '../src/commands/job-file.js';
import { loadManifest } from '../src/manifest/index.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, expectExit, journalIds, readJson, ROOT, runCli, startCli, tempDir, waitFor, writeMigration, wrongImages } from './safe-harness.js';

async function writeJob(dir: string, job: unknown, name = 'job.json'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof job === 'string' ? job : JSON.stringify(job, null, 2));
  return file;
}

describe('job lock', () => {
  let sim: Simulator;
  let other: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ generate: 300, latencyMs: 30, seed: 11 });
    other = await startSimulator({ generate: 300 });
  });
  afterAll(async () => {
    await sim?.close();
    await other?.close();
  });

  test('a second run exits 4 at once and sends nothing; after kill -9 of the holder a later run takes the lock and completes', async () => {
    const dir = await tempDir();
    const lockDir = path.join(dir, 'locks');
    const manifest = await writeMigration(dir, 300, 'locked-job');
    const job = await writeJob(dir, { name: 'lock-test', manifest: path.basename(manifest), options: { rate: 40, concurrency: 2 } });
    const env = { RETAG_LOCK_DIR: lockDir, RETAG_LOCK_STALE_MS: '3000' };
    const before = sim.library.dump();

    const holder = startCli(['job', job, '--out', path.join(dir, 'run1'), '--log-level', 'warn'], sim, { env, cwd: dir });
    await waitFor(() => journalIds(path.join(dir, 'run1')).length >= 10, 'the first run to be under way');
    expect(existsSync(path.join(lockDir, 'lock-test.job.lock'))).toBe(true);

    // The second run points at another simulator: anything it sent would show there.
    const startedAt = Date.now();
    const second = await runCli(['job', job, '--out', path.join(dir, 'run2'), '--log-level', 'warn'], other, { env, cwd: dir });
    expectExit(second, 4);
    // "At once": it gave up while the holder was still running (event order, not a stopwatch),
    // and well within what a spawned CLI takes on a loaded machine (generous: 5× idle and more).
    expect(holder.child.exitCode).toBeNull();
    expect(second.exitedAt - startedAt).toBeLessThan(15_000);
    expect(second.stderr).toContain('already running');
    expect(other.stats().requests).toBe(0);
    expect(existsSync(path.join(dir, 'run2'))).toBe(false);

    holder.child.kill('SIGKILL');
    await holder.done;

    // Cron-like: try again every second until the lock is taken over. The holder was a process of
    // this host that is gone, so the very next run takes it (no waiting for staleness).
    const killedAt = Date.now();
    let attempt = 0;
    let last;
    for (;;) {
      attempt++;
      last = await runCli(['job', job, '--resume', path.join(dir, 'run1'), '--log-level', 'warn'], sim, { env, cwd: dir });
      if (last.code !== 4) break;
      expect(Date.now() - killedAt).toBeLessThan(30_000);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expectExit(last, 0);
    expect(Date.now() - killedAt).toBeLessThan(60_000);
    expect(attempt).toBe(1);
    expect(await wrongImages(sim, manifest, before)).toEqual([]);
    // Released at the end: the next run takes it at once.
    expect(existsSync(path.join(lockDir, 'lock-test.job.lock'))).toBe(false);
  });
});

describe('job lock lost mid-run', () => {
  test('the run stops (exit 3, resumable) instead of overlapping another run of the job', async () => {
    assertBuilt();
    const sim = await startSimulator({ generate: 300, latencyMs: 20 });
    try {
      const dir = await tempDir();
      const lockDir = path.join(dir, 'locks');
      const manifest = await writeMigration(dir, 300, 'lost-lock');
      const job = await writeJob(dir, { name: 'lost', manifest: path.basename(manifest), options: { rate: 40, logLevel: 'warn' } });
      const runDir = path.join(dir, 'run');
      const run = startCli(['job', job, '--out', runDir], sim, { env: { RETAG_LOCK_DIR: lockDir, RETAG_LOCK_STALE_MS: '3000' } });
      await waitFor(() => journalIds(runDir).length >= 10, 'the run to be under way');
      rmSync(path.join(lockDir, 'lost.job.lock'), { recursive: true, force: true });
      const done = await run.done;
      expectExit(done, 3);
      expect(done.stderr).toContain('lost the lock');
      const summary = readJson<{ exitCode: number; aborted: string; unfinished: number }>(path.join(runDir, 'summary.json'));
      expect(summary.exitCode).toBe(3);
      expect(summary.aborted).toContain('lost the lock');
      expect(summary.unfinished).toBeGreaterThan(0);
    } finally {
      await sim.close();
    }
  });
});

describe('job files', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ seedFile: 'fixtures/library.json' });
  });
  afterAll(async () => {
    await sim?.close();
  });

  test.each<[string, unknown, RegExp[]]>([
    ['unknown key, with its path', { name: 'x', manifest: 'm.ndjson', options: { rat: 5 } }, [/options: .*rat/i]],
    ['wrong type', { name: 'x', manifest: 'm.ndjson', options: { concurrency: 'four' } }, [/options\.concurrency/]],
    ['several problems at once', { name: 'bad name!', options: { maxFailures: 'lots' } }, [/name:/, /manifest:/, /options\.maxFailures/]],
    ['not JSON', '{"name": "x",', [/not valid JSON/]],
  ])('%s → exit 2, nothing sent', async (_what, content, patterns) => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'm.ndjson'), '{"id":"img-0001","add":["t"]}\n');
    const job = await writeJob(dir, content);
    sim.resetStats();
    const res = await runCli(['job', job, '--lock-dir', path.join(dir, 'locks')], sim, { cwd: dir });
    expectExit(res, 2);
    for (const p of patterns) expect(res.stderr).toMatch(p);
    expect(sim.stats().requests).toBe(0);
  });

  test('YAML job files; a manifest path relative to the job file; a bad option value from the file → exit 2', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'm.ndjson'), '{"id":"img-0001","add":["from-yaml"]}\n');
    const job = await writeJob(dir, 'name: yaml-job\nmanifest: m.ndjson\noptions:\n  rate: 50\n  read: true\n', 'job.yaml');
    const res = await runCli(['job', job, '--lock-dir', path.join(dir, 'locks'), '--out', path.join(dir, 'run'), '--log-level', 'warn'], sim, { cwd: ROOT });
    expectExit(res, 0);
    expect(sim.library.get('img-0001')!.tags).toContain('from-yaml');

    const bad = await writeJob(dir, 'name: yaml-job\nmanifest: m.ndjson\noptions:\n  tagSeparator: ","\n', 'bad.yaml');
    const res2 = await runCli(['job', bad, '--lock-dir', path.join(dir, 'locks')], sim);
    expectExit(res2, 2);
    expect(res2.stderr).toContain('--tag-separator');
  });

  test('flags on the command line override the job options', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'm.ndjson'), '{"id":"img-0002","add":["override"]}\n');
    const job = await writeJob(dir, { name: 'override', manifest: 'm.ndjson', options: { out: path.join(dir, 'from-job'), verify: true, logLevel: 'warn' } });
    const res = await runCli(['job', job, '--lock-dir', path.join(dir, 'locks'), '--out', path.join(dir, 'from-flag'), '--no-verify'], sim);
    expectExit(res, 0);
    expect(existsSync(path.join(dir, 'from-job'))).toBe(false);
    const summary = readJson<{ command: string; verify?: unknown }>(path.join(dir, 'from-flag', 'summary.json'));
    expect(summary.command).toBe('job override');
    expect(summary.verify).toBeUndefined();

    // Without the flag the job's own options apply (verify on).
    const res2 = await runCli(['job', job, '--lock-dir', path.join(dir, 'locks')], sim);
    expectExit(res2, 0);
    expect(readJson<{ verify?: { drifted: number } }>(path.join(dir, 'from-job', 'summary.json')).verify).toMatchObject({ drifted: 0 });
  });

  test('in a non-terminal run (cron): a progress log line every few seconds, one summary entry at the end', async () => {
    const big = await startSimulator({ generate: 300 });
    try {
      const dir = await tempDir();
      const manifest = await writeMigration(dir, 300, 'cron');
      const job = await writeJob(dir, { name: 'cron-like', manifest: 'migration.ndjson', options: { rate: 50, logLevel: 'info' } });
      const res = await runCli(['job', job, '--lock-dir', path.join(dir, 'locks'), '--out', path.join(dir, 'run')], big);
      expectExit(res, 0);
      const entries = res.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; level: number; done?: number; summary?: unknown });
      const progress = entries.filter((e) => e.msg === 'progress');
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress[0]!.done).toBeGreaterThan(0);
      expect(entries.filter((e) => e.msg === 'run finished')).toHaveLength(1);
      expect(entries.find((e) => e.msg === 'run finished')!.summary).toMatchObject({ exitCode: 0 });
    } finally {
      await big.close();
    }
  });

  test('the examples in jobs/ are valid, and the nightly job is idempotent (second night: no writes)', async () => {
    const files = readdirSync(path.join(ROOT, 'jobs')).filter((f) => /\.(json|ya?ml)$/.test(f));
    expect(files).toEqual(expect.arrayContaining(['nightly-archive.json', 'demo-migration.json', 'spreadsheet-migration.yaml']));
    for (const f of files) {
      const job = await loadJobFile(path.join(ROOT, 'jobs', f));
      const manifest = await loadManifest(job.manifest);
      expect([f, manifest.problems]).toEqual([f, []]);
    }

    const dir = await tempDir();
    const nightly = path.join(ROOT, 'jobs/nightly-archive.json');
    const args = ['job', nightly, '--lock-dir', path.join(dir, 'locks'), '--rate', '200', '--log-level', 'warn'];
    const first = await runCli([...args, '--out', path.join(dir, 'night1')], sim);
    expectExit(first, 0);
    sim.resetStats();
    const second = await runCli([...args, '--out', path.join(dir, 'night2')], sim);
    expectExit(second, 0);
    expect(sim.stats().byEndpoint['POST /update/'] ?? 0).toBe(0);
    const summary = readJson<{ counts: { updated: number; unchanged: number }; verify: { checked: number } }>(path.join(dir, 'night2', 'summary.json'));
    expect(summary.counts).toMatchObject({ updated: 0, unchanged: 40 });
  });
});
