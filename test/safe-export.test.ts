/**
 * `retag export` (design.md §7): the library's id → tags as NDJSON, each line a valid rule, so
 * the file is a backup that `retag validate` accepts and `retag run` restores from.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { exportLine } from '../src/commands/export.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, expectExit, readNdjson, runCli, startCli, tempDir, waitFor } from './safe-harness.js';

describe('exportLine (pure)', () => {
  test.each([
    [['a', 'b'], { id: 'x', set: ['a', 'b'] }],
    [[' a', 'a', '', 'b '], { id: 'x', set: ['a', 'b'] }],
    [[], { id: 'x', clear: true }],
    [['  '], { id: 'x', clear: true }],
    [['a,b', 'c'], { id: 'x', set: ['a,b', 'c'] }],
  ])('%j', (tags, line) => {
    expect(exportLine('x', tags)).toEqual(line);
  });
});

describe('retag export (built CLI against the simulator)', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ seedFile: 'fixtures/library.json', latencyMs: 2, maxPageSize: 30 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  test('a backup that validates, matches stdout, and restores the library after a migration', async () => {
    const dir = await tempDir();
    const backup = path.join(dir, 'backup.ndjson');
    const original = sim.library.dump();
    const alice = sim.library.ids('alice');

    const res = await runCli(['export', '--out', backup, '--log-level', 'warn', '--rate', '100'], sim);
    expectExit(res, 0);
    expect(res.stderr).toContain(`${alice.length} images`);
    const lines = readNdjson<{ id: string; set?: string[]; clear?: boolean }>(backup);
    expect(lines.map((l) => l.id)).toEqual(alice); // every page, despite the server's page-size cap
    const untagged = alice.filter((id) => original[id]!.tags.length === 0);
    expect(untagged.length).toBeGreaterThan(0);
    for (const id of untagged) expect(lines.find((l) => l.id === id)).toEqual({ id, clear: true });

    const valid = await runCli(['validate', backup], sim);
    expectExit(valid, 0);

    const toStdout = await runCli(['export', '--log-level', 'warn', '--rate', '100'], sim);
    expectExit(toStdout, 0);
    expect(toStdout.stdout).toBe(readFileSync(backup, 'utf8'));

    // Migrate, then restore from the backup.
    const migrate = await runCli(['run', 'fixtures/manifests/demo-migration.ndjson', '--out', path.join(dir, 'run'), '--rate', '300', '--log-level', 'warn'], sim);
    expectExit(migrate, 0);
    expect(sim.library.dump()).not.toEqual(original);
    const restore = await runCli(['run', backup, '--out', path.join(dir, 'restore'), '--rate', '300', '--log-level', 'warn'], sim);
    expectExit(restore, 0);
    expect(sim.library.dump()).toEqual(original);
  });

  test('SIGINT mid-export: exit 130 and no partial file that would look like a whole backup', async () => {
    const slow = await startSimulator({ generate: 500, latencyMs: 100 });
    try {
      const dir = await tempDir();
      const out = path.join(dir, 'backup.ndjson');
      const run = startCli(['export', '--out', out, '--page-size', '10', '--log-level', 'warn'], slow);
      await waitFor(() => (slow.stats().byEndpoint['GET /get/'] ?? 0) >= 3, 'a few pages read');
      run.child.kill('SIGINT');
      const done = await run.done;
      expectExit(done, 130);
      expect(done.stderr).toContain('no file written');
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  test('a rejected key: exit 3 and no file left behind', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'backup.ndjson');
    const res = await runCli(['export', '--out', out], sim, { env: { REIMAGE_API_KEY: 'sk_test_nobody' } });
    expectExit(res, 3);
    expect(res.stderr).toContain('401');
    expect(res.stderr).not.toContain('sk_test_nobody');
    expect(existsSync(out)).toBe(false);
  });
});
