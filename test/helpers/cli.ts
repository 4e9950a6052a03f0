/**
 * End-to-end helpers (style.md §8, third layer): spawn the BUILT CLI (`node dist/src/cli.js`,
 * so `npm run build` must have run — `npm test` builds before jest) with a clean environment,
 * wait for what it does, and read what a run leaves in its directory. The one copy of each:
 * test/safe-harness.ts and test/helpers/engine-e2e.ts build on these.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli.js');

export interface CliResult {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** When the process exited (Date.now()). */
  exitedAt: number;
}

export interface CliOptions {
  /** Variables added to a minimal environment (PATH, HOME, TMPDIR, LANG): nothing leaks in from the jest process. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Kill the child (SIGKILL) after this long, so no test leaves a CLI behind. Default 60 s (jest's own timeout). */
  timeoutMs?: number;
}

/** A CLI process under way: the child, its end, and what it printed so far. */
export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
  stdout(): string;
  stderr(): string;
}

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the e2e tests`);
}

/** Start `node dist/src/cli.js ...args`; stdout/stderr are pipes, never a terminal. */
export function startCli(args: string[], options: CliOptions = {}): CliRun {
  assertBuilt();
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value;
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const exitedAt = Date.now();
      resolve({ code, signal, stdout, stderr, durationMs: exitedAt - started, exitedAt });
    });
  });
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

/** Run `node dist/src/cli.js ...args` to completion. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Assert an exit code; on a mismatch the error shows the process's stderr (the why). */
export function expectExit(res: Pick<CliResult, 'code' | 'signal' | 'stderr'>, code: number): void {
  if (res.code !== code) {
    throw new Error(`expected exit ${code}, got ${res.code ?? res.signal}; stderr:\n${res.stderr.slice(-4000)}`);
  }
}

/**
 * Poll `probe` every `everyMs` until it gives a value (not undefined/false); throws after
 * `timeoutMs`. Event-driven waits for things outside the process (a child's journal, a server's
 * counters): never a sleep-and-hope.
 */
export async function pollUntil<T>(probe: () => T | undefined | false, what: string, timeoutMs = 20_000, everyMs = 2): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Run `fn` over `items` with at most `limit` at once (spawning a hundred CLIs at once would thrash 2 cores). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}

/** A fresh temporary directory; call the returned `cleanup` in afterAll/afterEach. */
export function tempDir(prefix = 'retag-e2e-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Parse an NDJSON file (blank lines skipped); a line that is not JSON fails the test loudly. */
export function readNdjson<T = Record<string, unknown>>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as T;
      } catch {
        throw new Error(`${file}:${i + 1} is not JSON: ${line.slice(0, 200)}`);
      }
    });
}

export function readJson<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Every regular file under `dir` (recursively) with its text, for "the key appears nowhere" checks. */
export function allFiles(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) out.push(...allFiles(path));
    else if (st.isFile()) out.push({ path, text: readFileSync(path, 'utf8') });
  }
  return out;
}

/** NDJSON text for a list of rules (what a manifest file holds). */
export function ndjson(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** A line of a run's journal (journal.ndjson), as far as the tests read it. */
export interface JournalLine {
  id: string;
  outcome: string;
  before: string[] | null;
  after: string[] | null;
  op?: unknown;
  reason?: string;
  status?: number;
}

/** The complete lines of a run's journal (a torn last line, or no journal at all, is left out). */
export function journalLines(runDir: string): JournalLine[] {
  const file = join(runDir, 'journal.ndjson');
  if (!existsSync(file)) return [];
  const out: JournalLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as JournalLine);
    } catch {
      /* the torn last line of a killed run */
    }
  }
  return out;
}
