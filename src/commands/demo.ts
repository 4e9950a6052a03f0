/**
 * `retag demo` (`npm run demo`): start the simulator in-process on a free loopback port (seeded
 * from fixtures/library.json, with faults and a rate limit), run jobs/demo-migration.json with the
 * built CLI in a child process exactly as a user would, then check every image against the pure
 * plan. Exit 0 only if the job exited 0 and every image holds what its rules compose to.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifest } from '../manifest/index.js';
import { sameTags } from '../plan/normalize.js';
import { decideImage } from '../plan/rule-set.js';
import { startSimulator, type Simulator } from '../sim/index.js';
import type { CommandIO } from './common.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'dist/src/cli.js');
const job = path.join(root, 'jobs/demo-migration.json');
const manifestFile = path.join(root, 'fixtures/manifests/demo-migration.ndjson');

export async function demoCommand(io: CommandIO): Promise<number> {
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
  // Like any run, the demo's run directory goes under ./retag-runs (the package dir may be read-only).
  const runDir = path.join('retag-runs', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'retag-demo-locks-'));
  try {
    io.stdout.write(
      `Simulator on ${sim.url}: ${sim.library.size} images, limit 20 req/s (burst 10), ` +
        `5% 500s, 3% 500-after-apply, 2% dropped connections, 3% 503s, 15–40 ms latency\n` +
        `Running: retag job jobs/demo-migration.json (rate 25/s: above the limit on purpose, so 429s are handled);\n` +
        `its manifest ends with two library-wide cleanup rules (a rename and a strip over every image)\n\n`,
    );
    const before = sim.library.dump();
    const code = await runJob(sim, runDir, lockDir, io.env);
    const { wrong, total } = await checkLibrary(sim, before, io);
    const stats = sim.stats();
    io.stdout.write(
      `\nServer side: ${stats.requests} requests, ${stats.rateLimited} answered 429, ` +
        `${stats.faults.error5xx + stats.faults.faultAfterApply + stats.faults.busy} 5xx faults, ${stats.faults.drop} dropped connections\n` +
        `Verified: ${total - wrong} of ${total} images hold exactly the tags the rules compose to (id rules and library-wide rules).\n` +
        `Run directory: ${runDir} (summary.json, journal.ndjson, failures.ndjson, undo.ndjson)\n`,
    );
    return code === 0 && wrong === 0 ? 0 : code || 1;
  } finally {
    await sim.close();
    await rm(lockDir, { recursive: true, force: true });
  }
}

/** `retag job jobs/demo-migration.json` in a child process, its output on this terminal. */
function runJob(sim: Simulator, runDir: string, lockDir: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'job', job, '--out', runDir, '--lock-dir', lockDir, '--log-level', 'warn'], {
      stdio: 'inherit',
      env: { ...env, REIMAGE_API_KEY: 'sk_test_alice', REIMAGE_BASE_URL: sim.url },
    });
    child.on('error', reject);
    child.on('exit', (c, signal) => resolve(c ?? (signal === 'SIGINT' ? 130 : 143)));
  });
}

/** Every image against the pure plan; mismatches are printed and counted. */
async function checkLibrary(
  sim: Simulator,
  before: ReturnType<Simulator['library']['dump']>,
  io: CommandIO,
): Promise<{ wrong: number; total: number }> {
  const manifest = await loadManifest(manifestFile);
  let wrong = 0;
  let total = 0;
  // The manifest mixes id rules and library-wide rules: every image of the account is checked.
  for (const id of sim.library.ids('alice')) {
    const tags = before[id]?.tags ?? [];
    const expected = decideImage(manifest.rules, id, tags)?.after ?? tags;
    const actual = sim.library.get(id)?.tags ?? [];
    total++;
    if (!sameTags(expected, actual)) {
      wrong++;
      io.stdout.write(`  MISMATCH ${id}: expected [${expected.join(', ')}], found [${actual.join(', ')}]\n`);
    }
  }
  return { wrong, total };
}
