/**
 * Shared by the test/safe-*.test.ts files: spawn the BUILT CLI (run `npm run build` first)
 * against an in-process simulator on 127.0.0.1, and check the library against the pure plan.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifest } from '../src/manifest/index.js';
import { normalizeTags, sameTags } from '../src/plan/normalize.js';
import { applyOp } from '../src/plan/resolve.js';
import type { Simulator } from '../src/sim/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'dist/src/cli.js');

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before these tests`);
}

export async function tempDir(prefix = 'retag-safe-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** When the process exited (Date.now()). */
  exitedAt: number;
}

export interface Spawned {
  child: ChildProcess;
  done: Promise<Finished>;
  stdout(): string;
  stderr(): string;
}

/** Start `node dist/src/cli.js ...args` with the simulator's URL and alice's key. */
export function startCli(args: string[], sim: Pick<Simulator, 'url'>, options: { env?: Record<string, string>; cwd?: string } = {}): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.tmpdir(),
      REIMAGE_API_KEY: 'sk_test_alice',
      REIMAGE_BASE_URL: sim.url,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, exitedAt: Date.now() }));
  });
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

export async function runCli(args: string[], sim: Pick<Simulator, 'url'>, options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Finished> {
  return startCli(args, sim, options).done;
}

export async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Complete lines of a run's journal (a torn last line is left out). */
/** Ids of the journal's lines, in order; `state` picks outcome lines only, or pending lines only. */
export function journalIds(runDir: string, state: 'any' | 'finished' | 'pending' = 'any'): string[] {
  const file = path.join(runDir, 'journal.ndjson');
  if (!existsSync(file)) return [];
  const ids: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    try {
      const e = JSON.parse(line) as { id: string; outcome: string };
      if (state === 'any' || (state === 'pending') === (e.outcome === 'pending')) ids.push(e.id);
    } catch {
      /* torn or empty */
    }
  }
  return ids;
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

/** Ids whose tags differ from what the manifest's rules compose to over `before` (a library dump). */
export async function wrongImages(
  sim: Simulator,
  manifestFile: string,
  before: Record<string, { tags: string[] }>,
  except: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const manifest = await loadManifest(manifestFile);
  const wrong: string[] = [];
  for (const { id, op } of manifest.targets) {
    if (except.has(id)) continue;
    const expected = applyOp(normalizeTags(before[id]?.tags ?? []), op);
    const actual = sim.library.get(id)?.tags ?? [];
    if (!sameTags(expected, actual)) wrong.push(id);
  }
  return wrong;
}

export function readJson<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function readNdjson<T = Record<string, unknown>>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Assert an exit code; on a mismatch the error shows the process's stderr (the why). */
export function expectExit(res: Pick<Finished, 'code' | 'signal' | 'stderr'>, code: number): void {
  if (res.code !== code) {
    throw new Error(`expected exit ${code}, got ${res.code ?? res.signal}; stderr:\n${res.stderr.slice(-4000)}`);
  }
}
