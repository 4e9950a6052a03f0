/**
 * The programmatic API as a user embeds it: examples/plan-and-apply.mjs imports `retag` by its
 * package name (self-reference through "exports"), plans against the simulator, applies and
 * undoes. Run as a separate process, like a user's script (needs `npm run build`).
 */
import { expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('examples/plan-and-apply.mjs: import from "retag", plan, apply, undo against the simulator', () => {
  const res = spawnSync(process.execPath, [path.join(ROOT, 'examples/plan-and-apply.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(res.stderr).toBe('');
  expect(res.status).toBe(0);
  const [planLine, applyLine, undoLine] = res.stdout.trim().split('\n');
  const changed = Number(/^plan: (\d+) images would change \(exit 0\)$/.exec(planLine ?? '')?.[1]);
  expect(changed).toBeGreaterThan(0);
  expect(applyLine).toBe(`apply: ${changed} updated, 0 conflicts (exit 0)`);
  expect(undoLine).toBe(`undo: ${changed} restored (exit 0)`);
});
