/**
 * Shared by the test/safe-*.test.ts (and other e2e) files: spawn the BUILT CLI (run `npm run
 * build` first) against an in-process simulator on 127.0.0.1 with alice's key, and check the
 * library against test/helpers/oracle.ts (design.md §2 written again, never the project's own
 * plan code). Spawning, temporary directories, waits and run-directory readers are the ones in
 * test/helpers/cli.ts; only the simulator wiring and the migration manifests live here.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Simulator } from '../src/sim/index.js';
import {
  assertBuilt,
  CLI,
  expectExit,
  journalLines,
  pollUntil,
  readJson,
  readNdjson,
  ROOT,
  runCli as runCliWith,
  startCli as startCliWith,
  tempDir as makeTempDir,
  type CliResult,
  type CliRun,
} from './helpers/cli.js';
import { heldAfterRun, parseRules, sameMembers } from './helpers/oracle.js';

export { assertBuilt, CLI, expectExit, readJson, readNdjson, ROOT };

/** A finished CLI process (code, signal, output, exitedAt). */
export type Finished = CliResult;
/** A CLI process under way. */
export type Spawned = CliRun;

/** A fresh temporary directory (left for the OS to clean: a failing test's files stay for a look). */
export async function tempDir(prefix = 'retag-safe-'): Promise<string> {
  return makeTempDir(prefix).dir;
}

interface SimCliOptions {
  /** Added over the simulator's URL and alice's key; `undefined` leaves a variable out. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Start `node dist/src/cli.js ...args` with the simulator's URL and alice's key. */
export function startCli(args: string[], sim: Pick<Simulator, 'url'>, options: SimCliOptions = {}): Spawned {
  return startCliWith(args, {
    env: { REIMAGE_API_KEY: 'sk_test_alice', REIMAGE_BASE_URL: sim.url, ...options.env },
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
}

export async function runCli(args: string[], sim: Pick<Simulator, 'url'>, options: SimCliOptions = {}): Promise<Finished> {
  return startCli(args, sim, options).done;
}

/** Wait (polling every 10 ms) until `probe` gives a value. */
export async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  return pollUntil(probe, what, timeoutMs, 10);
}

/** Ids of the journal's lines, in order; `state` picks outcome lines only, or pending lines only. */
export function journalIds(runDir: string, state: 'any' | 'finished' | 'pending' = 'any'): string[] {
  return journalLines(runDir)
    .filter((e) => state === 'any' || (state === 'pending') === (e.outcome === 'pending'))
    .map((e) => e.id);
}

/**
 * A manifest over generated ids img-000001…img-<n>: adds a tag to all, plus a remove on every
 * 3rd and a set on every 7th, so add/remove/set all compose. Returns its path.
 */
export async function writeMigration(dir: string, n: number, tag = 'migrated-2026'): Promise<string> {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) {
    const id = `img-${String(i).padStart(6, '0')}`;
    lines.push(JSON.stringify({ id, add: [tag] }));
    if (i % 3 === 0) lines.push(JSON.stringify({ id, remove: ['draft', 'legacy'] }));
    if (i % 7 === 0) lines.push(JSON.stringify({ id, set: ['archived', tag] }));
  }
  const file = path.join(dir, 'migration.ndjson');
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/**
 * Ids of `before` (a library dump taken before the run) whose tags now differ from what a
 * correct run of the manifest leaves (the oracle: the rules' result for an image they change,
 * the old tags for every other one), compared as sets (design.md §2). The manifest is read as
 * the JSON/NDJSON the tests wrote, not through the project's reader.
 */
export async function wrongImages(
  sim: Simulator,
  manifestFile: string,
  before: Record<string, { tags: string[] }>,
  except: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const rules = parseRules(readFileSync(manifestFile, 'utf8'));
  const wrong: string[] = [];
  for (const [id, image] of Object.entries(before)) {
    if (except.has(id)) continue;
    const expected = heldAfterRun(id, image.tags, rules);
    const actual = sim.library.get(id)?.tags;
    if (actual === undefined || !sameMembers(expected, actual)) wrong.push(id);
  }
  return wrong;
}
