/**
 * `npm run demo`: start the simulator in-process on a free loopback port (seeded from
 * fixtures/library.json, with faults and a rate limit), run jobs/demo-migration.json with the
 * built CLI exactly as a user would, then check every image against the pure plan.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifest } from './manifest/index.js';
import { applyOp } from './plan/resolve.js';
import { sameTags } from './plan/normalize.js';
import { startSimulator } from './sim/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'dist/src/cli.js');
const job = path.join(root, 'jobs/demo-migration.json');
const out = process.stdout;

const sim = await startSimulator({
  seedFile: path.join(root, 'fixtures/library.json'),
  rateLimit: 20,
  burst: 10,
  error5xxRate: 0.05,
  faultAfterApplyRate: 0.03,
  dropRate: 0.02,
  busyRate: 0.03,
  latencyMs: 15,
  jitterMs: 25,
  seed: 7,
});
const before = sim.library.dump();
out.write(
  `Simulator on ${sim.url}: ${sim.library.size} images, limit 20 req/s (burst 10), ` +
    `5% 500s, 3% 500-after-apply, 2% dropped connections, 3% 503s, 15–40 ms latency\n` +
    `Running: retag job jobs/demo-migration.json (rate 25/s: above the limit on purpose, so 429s are handled)\n\n`,
);

const runDir = path.join(root, 'retag-runs', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const lockDir = await mkdtemp(path.join(os.tmpdir(), 'retag-demo-locks-'));
const code = await new Promise<number>((resolve, reject) => {
  const child = spawn(process.execPath, [cli, 'job', job, '--out', runDir, '--lock-dir', lockDir, '--log-level', 'warn'], {
    stdio: 'inherit',
    env: { ...process.env, REIMAGE_API_KEY: 'sk_test_alice', REIMAGE_BASE_URL: sim.url },
  });
  child.on('error', reject);
  child.on('exit', (c, signal) => resolve(c ?? (signal === 'SIGINT' ? 130 : 143)));
});

// Check the result against the pure plan: every image ends exactly as its rules compose to.
const manifest = await loadManifest(path.join(root, 'fixtures/manifests/demo-migration.ndjson'));
let wrong = 0;
for (const { id, op } of manifest.targets) {
  const expected = applyOp(before[id]?.tags ?? [], op);
  const actual = sim.library.get(id)?.tags ?? [];
  if (!sameTags(expected, actual)) {
    wrong++;
    out.write(`  MISMATCH ${id}: expected [${expected.join(', ')}], found [${actual.join(', ')}]\n`);
  }
}
const stats = sim.stats();
await sim.close();
out.write(
  `\nServer side: ${stats.requests} requests, ${stats.rateLimited} answered 429, ` +
    `${stats.faults.error5xx + stats.faults.faultAfterApply + stats.faults.busy} 5xx faults, ${stats.faults.drop} dropped connections\n` +
    `Verified: ${manifest.targets.length - wrong} of ${manifest.targets.length} images hold exactly the tags their rules compose to.\n` +
    `Run directory: ${path.relative(process.cwd(), runDir)} (summary.json, journal.ndjson, failures.ndjson, undo.ndjson)\n`,
);
process.exitCode = code === 0 && wrong === 0 ? 0 : code || 1;
