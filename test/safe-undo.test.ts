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
import { decideGuarded } from '../src/plan/resolve.js';
import { foldJournal } from '../src/runner/journal.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli, tempDir } from './safe-harness.js';

describe('undo decides through the guarded write (pure): W = earliest before, E = what the run wrote', () => {
  const op = { kind: 'guarded' as const, expect: ['x', 'y', 'new'], write: ['x', 'y'] };
  test.each<[string, string[] | null, string]>([
    ['still what the run wrote', ['x', 'y', 'new'], 'update'],
    ['what the run wrote, other order', ['new', 'y', 'x'], 'update'],
    ['what the run wrote, untrimmed and duplicated', [' new', 'x', 'y', 'x'], 'update'],
    ['back to before (an earlier undo)', ['x', 'y'], 'unchanged'],
    ['before, other order', ['y', 'x'], 'unchanged'],
    ['edited since: a tag added', ['x', 'y', 'new', 'extra'], 'conflict'],
    ['edited since: a tag removed', ['x', 'new'], 'conflict'],
    ['edited since: cleared', [], 'conflict'],
  ])('%s', (_name, current, expected) => {
    expect(decideGuarded('a', op, current).action).toBe(expected);
  });

  test('a run that cleared an image: empty E, restore when still empty', () => {
    const cleared = { kind: 'guarded' as const, expect: [], write: ['p'] };
    expect(decideGuarded('c', cleared, []).action).toBe('update');
    expect(decideGuarded('c', cleared, ['p']).action).toBe('unchanged');
    expect(decideGuarded('c', cleared, ['q']).action).toBe('conflict');
  });
});

describe('the journal folded for undo (earliest before, last write, pending and failed-after-write included)', () => {
  const e = (id: string, outcome: JournalEntry['outcome'], before: string[] | null, after: string[] | null, extra: Partial<JournalEntry> = {}): JournalEntry => ({
    id,
    outcome,
    before,
    after,
    attempts: 1,
    at: '2026-11-28T00:00:00Z',
    ...extra,
  });
  test('which items undo considers, with which before and which expected state', () => {
    const items = foldJournal([
      e('a', 'pending', ['x'], ['x', 'y']),
      e('a', 'updated', ['x'], ['x', 'y']),
      e('b', 'pending', ['x'], ['y']),
      e('b', 'failed', ['x'], ['y'], { reason: 'retries_exhausted' }), // the reply was lost: it may have landed
      e('b', 'unchanged', ['y'], ['y']), // a resume found it applied: its first before must survive
      e('c', 'unchanged', ['x'], ['x']),
      e('d', 'pending', null, ['z']), // --no-read
      e('d', 'updated', null, ['z']),
      e('f', 'pending', ['x'], ['w']), // killed after the pending line
      e('g', 'failed', null, null, { reason: 'not_found', attempts: 0 }),
    ]);
    const undo = [...items.values()].filter((i) => i.mayHaveChanged).map((i) => ({ id: i.id, before: i.earliestBefore, wrote: i.written }));
    expect(undo).toEqual([
      { id: 'a', before: ['x'], wrote: ['x', 'y'] },
      { id: 'b', before: ['x'], wrote: ['y'] },
      { id: 'd', before: null, wrote: ['z'] },
      { id: 'f', before: ['x'], wrote: ['w'] },
    ]);
    expect(items.get('c')!.mayHaveChanged).toBe(false);
    expect(items.get('g')!.mayHaveChanged).toBe(false);
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
    const summary = readJson<{ command: string; exitCode: number; counts: { updated: number; conflict: number } }>(path.join(undoDir, 'summary.json'));
    expect(summary).toMatchObject({ command: 'undo', exitCode: 1 });
    expect(summary.counts.conflict).toBe(1);
    expect(summary.counts.updated).toBe(changed.length - 1);
    // The conflict is the intended change as a delta (design.md §5), so running it keeps the edit.
    const conflicts = readNdjson<Record<string, unknown>>(path.join(undoDir, 'conflicts.ndjson'));
    const wrote = migrated[edited]!.tags;
    const restore = original[edited]!.tags;
    const add = restore.filter((t) => !wrote.includes(t));
    const remove = wrote.filter((t) => !restore.includes(t));
    expect(conflicts).toEqual([
      {
        id: edited,
        ...(add.length > 0 ? { add } : {}),
        ...(remove.length > 0 ? { remove } : {}),
        _expected: wrote,
        _current: ['edited-by-someone-else'],
        _wanted: restore,
      },
    ]);
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
