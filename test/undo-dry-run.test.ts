/** `retag undo --dry-run` shows what the undo would do and writes nothing (design.md §7). */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { assertBuilt, expectExit, readJson, readNdjson, runCli, tempDir } from './safe-harness.js';

let sim: Simulator;
beforeAll(async () => {
  assertBuilt();
  sim = await startSimulator({ generate: 30 });
});
afterAll(async () => {
  await sim?.close();
});

test('undo --dry-run: the restore as a plan (plan.ndjson, per-tag counts), no POST; then the real undo does exactly that', async () => {
  const dir = await tempDir();
  const manifest = path.join(dir, 'm.ndjson');
  await writeFile(manifest, ['img-000003', 'img-000007', 'img-000011'].map((id) => JSON.stringify({ id, add: ['undo-me'] })).join('\n'));
  const original = sim.library.dump();
  expectExit(await runCli(['run', manifest, '--out', path.join(dir, 'run'), '--log-level', 'warn'], sim), 0);
  sim.library.setTags('img-000007', ['edited']); // someone else, since

  sim.resetStats();
  const dry = await runCli(['undo', path.join(dir, 'run'), '--dry-run', '--out', path.join(dir, 'dry'), '--log-level', 'warn'], sim);
  expectExit(dry, 1); // a plan with a conflict says so in its exit code, like one with failures
  expect(dry.stderr).not.toContain('conflicts.ndjson'); // a dry run writes no reports to point at
  expect(sim.stats().byMethod.POST).toBeUndefined();
  expect(dry.stdout).toContain('2 images change, 0 unchanged, 0 not found, 1 in conflict (3 images considered)');
  expect(dry.stdout).toMatch(/−undo-me\s+2/);
  const [header, ...lines] = readNdjson<Record<string, unknown>>(path.join(dir, 'dry', 'plan.ndjson'));
  expect(header).toMatchObject({ retag_plan: 1, manifest: path.join(dir, 'run', 'journal.ndjson') });
  expect(Object.fromEntries(lines.map((l) => [l.id, l.action]))).toEqual({ 'img-000003': 'update', 'img-000007': 'conflict', 'img-000011': 'update' });
  expect(readJson<{ counts: { conflict: number }; wouldChange: number }>(path.join(dir, 'dry', 'summary.json'))).toMatchObject({ wouldChange: 2, counts: { conflict: 1 } });

  const real = await runCli(['undo', path.join(dir, 'run'), '--out', path.join(dir, 'undo'), '--log-level', 'warn'], sim);
  expectExit(real, 1); // the conflict
  expect(Object.keys(sim.stats().appliedById).sort()).toEqual(['img-000003', 'img-000011']);
  expect(sim.library.get('img-000003')!.tags).toEqual(original['img-000003']!.tags);
  expect(sim.library.get('img-000007')!.tags).toEqual(['edited']);
});
