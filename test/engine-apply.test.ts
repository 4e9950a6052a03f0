/**
 * Issue 7, "done when" 6 (design.md §7 "Apply and undo are one mechanism"): `retag plan m --out
 * P`, an edit by someone else to one planned image, the manifest file changed on disk, then
 * `retag apply P`: every other planned image holds exactly the plan's `after` (the manifest is
 * never read again), the edited image is untouched and listed in conflicts.ndjson as a delta rule,
 * exit 1; a second apply sends no write; `retag undo` of the apply restores what it replaced. A
 * file that is not a plan is exit 2 with nothing sent. Built CLI against the in-process simulator.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { expectedLibrary, migrationRules, postCount, scratch, tagsOf, writeRules, type TestRule } from './helpers/engine-e2e.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli } from './safe-harness.js';

const N = 150;
const CHANGING = 120;
const NOOP = 10;
const ARGS = ['--rate', '300', '--concurrency', '8', '--page-size', '50', '--log-level', 'warn'];

interface Summary {
  command: string;
  exitCode: number;
  plan?: string;
  counts: { updated: number; unchanged: number; failed: number; conflict: number; skipped: number; total: number };
}

interface PlanLine {
  id: string;
  before: string[] | null;
  after: string[] | null;
  action: string;
}

describe('retag apply of a saved plan', () => {
  let sim: Simulator;
  let scratchDir: { dir: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    assertBuilt();
    scratchDir = await scratch('retag-engine-apply-');
    sim = await startSimulator({ generate: N, latencyMs: 5, jitterMs: 3, seed: 71 });
  });
  afterAll(async () => {
    await sim?.close();
    await scratchDir?.cleanup();
  });

  test('writes exactly the reviewed after where the image still holds the reviewed before; conflicts otherwise; twice writes nothing; undoable', async () => {
    const original = sim.library.dump();
    const ids = Object.keys(original);
    // 120 images change (five rule shapes); 10 rules change nothing (they remove a tag no image has).
    const rules: TestRule[] = [
      ...migrationRules(ids.slice(0, CHANGING)),
      ...ids.slice(CHANGING, CHANGING + NOOP).map((id) => ({ id, remove: ['no-such-tag'] })),
    ];
    const manifest = await writeRules(path.join(scratchDir.dir, 'm.ndjson'), rules);
    const expected = expectedLibrary(original, rules);
    const planDir = path.join(scratchDir.dir, 'P');

    const plan = await runCli(['plan', manifest, '--out', planDir, ...ARGS], sim);
    expectExit(plan, 0);
    expect(postCount(sim.stats())).toBe(0);
    expect(sim.library.dump()).toEqual(original);
    const [header, ...lines] = readNdjson<Record<string, unknown>>(path.join(planDir, 'plan.ndjson'));
    expect(header).toMatchObject({ retag_plan: 1, manifest });
    const planned = lines as unknown as PlanLine[];
    // The plan is what the oracle says: before as read, after as the rules give, per image.
    expect([...planned].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      ids.slice(0, CHANGING + NOOP).map((id, i) => ({ id, before: original[id]!.tags, after: expected[id], action: i < CHANGING ? 'update' : 'unchanged' })),
    );
    const after = new Map(planned.map((p) => [p.id, p.after!]));

    // Someone else edits one planned image; another one someone sets to exactly the plan's after.
    const edited = ids[7]!;
    const alreadyThere = ids[11]!;
    sim.library.setTags(edited, ['edited-by-someone']);
    sim.library.setTags(alreadyThere, after.get(alreadyThere)!);
    const beforeApply = tagsOf(sim.library.dump());
    // The manifest changes on disk: apply must not read it.
    await writeRules(manifest, ids.map((id) => ({ id, set: ['manifest-changed'] })));

    sim.resetStats();
    const applyDir = path.join(scratchDir.dir, 'P2');
    const apply = await runCli(['apply', planDir, '--out', applyDir, ...ARGS], sim);
    expectExit(apply, 1);
    expect(apply.stderr).toContain('1 in conflict');

    const now = tagsOf(sim.library.dump());
    const wanted: Record<string, string[]> = { ...tagsOf(original) };
    for (const id of ids.slice(0, CHANGING)) wanted[id] = after.get(id)!;
    wanted[edited] = ['edited-by-someone'];
    expect(now).toEqual(wanted);
    // Written: every image planned to change, except the edited one and the one already there.
    const written = ids.slice(0, CHANGING).filter((id) => id !== edited && id !== alreadyThere);
    expect(Object.keys(sim.stats().appliedById).sort()).toEqual(written.sort());
    expect(postCount(sim.stats())).toBe(CHANGING - 2);

    const summary = readJson<Summary>(path.join(applyDir, 'summary.json'));
    expect(summary).toMatchObject({ command: 'apply', exitCode: 1, plan: path.join(planDir, 'plan.ndjson') });
    expect(summary.counts).toMatchObject({ updated: CHANGING - 2, unchanged: 1, conflict: 1, failed: 0, total: CHANGING });
    // The conflict as a delta rule: running it applies the change on top of the edit.
    const planBefore = original[edited]!.tags;
    const planAfter = after.get(edited)!;
    const add = planAfter.filter((t) => !planBefore.includes(t));
    const remove = planBefore.filter((t) => !planAfter.includes(t));
    expect(readNdjson(path.join(applyDir, 'conflicts.ndjson'))).toEqual([
      {
        id: edited,
        ...(add.length > 0 ? { add } : {}),
        ...(remove.length > 0 ? { remove } : {}),
        _expected: planBefore,
        _current: ['edited-by-someone'],
        _wanted: planAfter,
      },
    ]);
    expect(add.length).toBeGreaterThan(0);

    // The same plan again: nothing to write (the conflict is still one).
    sim.resetStats();
    const again = await runCli(['apply', planDir, '--out', path.join(scratchDir.dir, 'P3'), ...ARGS], sim);
    expectExit(again, 1);
    expect(postCount(sim.stats())).toBe(0);
    expect(sim.stats().byMethod.POST).toBeUndefined();
    expect(readJson<Summary>(path.join(scratchDir.dir, 'P3', 'summary.json')).counts).toMatchObject({ updated: 0, unchanged: CHANGING - 1, conflict: 1 });
    expect(tagsOf(sim.library.dump())).toEqual(wanted);

    // Undo of the apply: back to what the images held before it (the edits by others stay).
    sim.resetStats();
    const undo = await runCli(['undo', applyDir, '--out', path.join(scratchDir.dir, 'U'), ...ARGS], sim);
    expectExit(undo, 0);
    expect(tagsOf(sim.library.dump())).toEqual(beforeApply);
    expect(postCount(sim.stats())).toBe(CHANGING - 2);
  }, 60_000);

  test('apply of a file that is not a plan, or of a directory without one: exit 2, nothing sent', async () => {
    const manifest = await writeRules(path.join(scratchDir.dir, 'not-a-plan.ndjson'), [{ id: 'img-000001', add: ['x'] }]);
    const before = sim.library.dump();
    sim.resetStats();
    const out = path.join(scratchDir.dir, 'never');
    const res = await runCli(['apply', manifest, '--out', out, ...ARGS], sim);
    expectExit(res, 2);
    expect(res.stderr).toContain(`${manifest}:1: not a retag plan`);
    expect(sim.stats().requests).toBe(0);
    expect(existsSync(out)).toBe(false);

    const noPlan = await runCli(['apply', scratchDir.dir, '--out', out, ...ARGS], sim);
    expectExit(noPlan, 2);
    expect(noPlan.stderr).toContain(`cannot read the plan ${path.join(scratchDir.dir, 'plan.ndjson')}`);
    expect(sim.stats().requests).toBe(0);
    expect(existsSync(out)).toBe(false);
    expect(sim.library.dump()).toEqual(before);
  }, 30_000);
});
