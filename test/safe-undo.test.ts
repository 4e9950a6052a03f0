/**
 * `retag undo <run-dir>` (design.md §7): restores `before` only where the image still carries
 * what the run wrote; an image edited since is a conflict (left alone, reported, exit 1); the
 * undo writes its own run directory, so it can itself be undone. The decision is a pure
 * function, tested by table.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { JournalEntry } from '../src/runner/types.js';
import { decideUndo, undoItemsFromJournal, type UndoAction } from '../src/runner/undo.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli, tempDir } from './safe-harness.js';

describe('decideUndo (pure)', () => {
  const item = { id: 'a', before: ['x', 'y'], after: ['x', 'y', 'new'] };
  test.each<[string, string[] | null | undefined, UndoAction]>([
    ['still what the run wrote', ['x', 'y', 'new'], 'restore'],
    ['what the run wrote, other order', ['new', 'y', 'x'], 'restore'],
    ['what the run wrote, untrimmed and duplicated', [' new', 'x', 'y', 'x'], 'restore'],
    ['back to before (an earlier undo)', ['x', 'y'], 'already_restored'],
    ['before, other order', ['y', 'x'], 'already_restored'],
    ['edited since: a tag added', ['x', 'y', 'new', 'extra'], 'conflict'],
    ['edited since: a tag removed', ['x', 'new'], 'conflict'],
    ['edited since: cleared', [], 'conflict'],
    ['gone from the library', undefined, 'missing'],
    ['no tags field', null, 'missing'],
  ])('%s', (_name, current, expected) => {
    expect(decideUndo(item, current)).toBe(expected);
  });

  test('a run that cleared an image: empty after, restore when still empty', () => {
    const cleared = { id: 'c', before: ['p'], after: [] };
    expect(decideUndo(cleared, [])).toBe('restore');
    expect(decideUndo(cleared, ['p'])).toBe('already_restored');
    expect(decideUndo(cleared, ['q'])).toBe('conflict');
  });
});

describe('undoItemsFromJournal', () => {
  const e = (id: string, outcome: JournalEntry['outcome'], before: string[] | null, after: string[] | null): JournalEntry => ({
    id,
    outcome,
    before,
    after,
    attempts: 1,
    at: '2026-11-28T00:00:00Z',
  });
  test('latest updated entries with a before; skipped never hides an update; --no-read items counted apart', () => {
    const { items, noBefore } = undoItemsFromJournal([
      e('a', 'updated', ['x'], ['x', 'y']),
      e('b', 'failed', ['x'], ['y']),
      e('b', 'updated', ['x'], ['y']), // a resume that succeeded
      e('a', 'skipped', null, null), // a later resume skipping it
      e('c', 'unchanged', ['x'], ['x']),
      e('d', 'updated', null, ['z']), // --no-read
      e('f', 'updated', ['x'], ['w']),
      e('f', 'failed', ['w'], ['v']), // latest state failed: not changed by the run's last word
    ]);
    expect(items).toEqual([
      { id: 'a', before: ['x'], after: ['x', 'y'] },
      { id: 'b', before: ['x'], after: ['y'] },
    ]);
    expect(noBefore).toBe(1);
  });
});

describe('retag undo (built CLI against the simulator)', () => {
  let sim: Simulator;
  beforeAll(async () => {
    assertBuilt();
    sim = await startSimulator({ seedFile: 'fixtures/library.json', latencyMs: 5 });
  });
  afterAll(async () => {
    await sim?.close();
  });

  test('restores every image the run changed except one edited since (conflict, exit 1); the undo undoes', async () => {
    const dir = await tempDir();
    const original = sim.library.dump();
    const fast = ['--rate', '300', '--concurrency', '8', '--log-level', 'warn'];
    const run = await runCli(['run', 'fixtures/manifests/demo-migration.ndjson', '--out', path.join(dir, 'run'), ...fast], sim);
    expectExit(run, 0);
    const migrated = sim.library.dump();
    const changed = Object.keys(original).filter((id) => JSON.stringify(original[id]!.tags) !== JSON.stringify(migrated[id]!.tags));
    expect(changed.length).toBeGreaterThan(50);

    // Someone else edits one of the changed images in between.
    const edited = changed[3]!;
    sim.library.setTags(edited, ['edited-by-someone-else']);
    sim.resetStats();

    const undoDir = path.join(dir, 'undo');
    const undo = await runCli(['undo', path.join(dir, 'run'), '--out', undoDir, ...fast], sim);
    expectExit(undo, 1);
    expect(undo.stderr).toContain('conflict');

    const now = sim.library.dump();
    for (const id of Object.keys(original)) {
      if (id === edited) continue;
      expect([id, now[id]!.tags]).toEqual([id, original[id]!.tags]);
    }
    expect(now[edited]!.tags).toEqual(['edited-by-someone-else']);
    expect(sim.stats().appliedById[edited]).toBeUndefined(); // read, compared, never written

    // Its own run directory: summary, journal, undo, and the conflict as a (forcible) rule.
    const summary = readJson<{ command: string; exitCode: number; conflicts: number; counts: { updated: number } }>(path.join(undoDir, 'summary.json'));
    expect(summary).toMatchObject({ command: 'undo', exitCode: 1, conflicts: 1 });
    expect(summary.counts.updated).toBe(changed.length - 1);
    const conflicts = readNdjson<{ id: string; set: string[]; _current: string[] }>(path.join(undoDir, 'conflicts.ndjson'));
    expect(conflicts).toEqual([expect.objectContaining({ id: edited, set: original[edited]!.tags, _current: ['edited-by-someone-else'] })]);
    expect(readNdjson(path.join(undoDir, 'undo.ndjson'))).toHaveLength(changed.length - 1);
    expect(existsSync(path.join(undoDir, 'journal.ndjson'))).toBe(true);

    // Running the same undo again changes nothing (already restored), still reports the conflict.
    const again = await runCli(['undo', path.join(dir, 'run'), '--out', path.join(dir, 'undo-again'), ...fast], sim);
    expectExit(again, 1);
    expect(readJson<{ counts: { updated: number; unchanged: number } }>(path.join(dir, 'undo-again', 'summary.json')).counts).toMatchObject({
      updated: 0,
      unchanged: changed.length - 1,
    });

    // Undo the undo: back to the migrated state (the edited image stays as its editor left it).
    const redo = await runCli(['undo', undoDir, '--out', path.join(dir, 'redo'), ...fast], sim);
    expectExit(redo, 0);
    const after = sim.library.dump();
    for (const id of changed) {
      if (id === edited) continue;
      expect([id, after[id]!.tags]).toEqual([id, migrated[id]!.tags]);
    }
  });

  test('a directory without a journal is a usage error (exit 2), nothing sent', async () => {
    const dir = await tempDir();
    sim.resetStats();
    const res = await runCli(['undo', dir], sim);
    expectExit(res, 2);
    expect(res.stderr).toContain('journal.ndjson');
    expect(sim.stats().requests).toBe(0);
    const missing = await runCli(['undo', path.join(dir, 'nope')], sim);
    expectExit(missing, 2);
  });
});
