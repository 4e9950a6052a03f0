// @ts-check
// retag as a library: plan a change against the local simulator, review it, apply it, undo it.
// `import ... from 'retag'` resolves to this package itself (its "exports"), as it would for an
// installed dependency. Run with: npm run build && node examples/plan-and-apply.mjs
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apply, plan, readManifest, startSimulator, undo } from 'retag';

const sim = await startSimulator({ generate: 20, port: 0 }); // loopback, key sk_test_alice
const dir = mkdtempSync(join(tmpdir(), 'retag-example-'));
const manifest = join(dir, 'rules.ndjson');
writeFileSync(manifest, '{"where": {"tag": "sale"}, "rename": {"sale": "promo"}}\n{"id": "img-000001", "add": ["hero"]}\n');

const connection = { baseUrl: sim.url, apiKey: 'sk_test_alice', rate: 100 };
try {
  const loaded = await readManifest(manifest);
  if (loaded.problems.length > 0) throw new Error(`bad manifest: ${loaded.problems.map((p) => p.message).join('; ')}`);

  const reviewed = await plan({ ...connection, manifest, out: join(dir, 'plan') });
  console.log(`plan: ${reviewed.summary.wouldChange} images would change (exit ${reviewed.exitCode})`);

  const applied = await apply({ ...connection, plan: reviewed.runDir, out: join(dir, 'apply') });
  console.log(`apply: ${applied.summary.counts.updated} updated, ${applied.summary.counts.conflict} conflicts (exit ${applied.exitCode})`);

  const undone = await undo({ ...connection, runDir: applied.runDir, out: join(dir, 'undo') });
  console.log(`undo: ${undone.summary.counts.updated} restored (exit ${undone.exitCode})`);
  if (applied.exitCode !== 0 || undone.exitCode !== 0 || applied.summary.counts.updated !== reviewed.summary.wouldChange) process.exitCode = 1;
} finally {
  await sim.close();
}
