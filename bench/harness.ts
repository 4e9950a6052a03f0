/**
 * Bench plumbing: the simulator in its own process, the built CLI and the baseline clients run
 * as measured child processes (wall time, CPU, peak RSS), manifests written by streaming.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli.js');
export const BASELINE = join(ROOT, 'dist/bench/baseline-client.js');
export const PLAIN_SERVER = join(ROOT, 'dist/bench/plain-server.js');
export const API_KEY = 'sk_test_alice';
const TIME = '/usr/bin/time';
export const HAVE_TIME = existsSync(TIME);

export interface SimStats {
  requests: number;
  byEndpoint: Record<string, number>;
  byStatus: Record<string, number>;
  rateLimited: number;
  maxInFlight: number;
  updatesApplied: number;
  firstRequestAt: number | null;
  lastRequestAt: number | null;
  /** bench/plain-server.ts with `--window` only: page listed → POST /update/ received, ms. */
  window?: { count: number; unlisted: number; p50: number | null; p99: number | null; max: number | null; mean: number | null };
}

export interface SimProcess {
  url: string;
  stats(): Promise<SimStats>;
  reset(): Promise<void>;
  /** Every image's tags, from the server's own state (the simulator only). */
  library(): Promise<Map<string, string[]>>;
  close(): Promise<void>;
}

export interface SimArgs {
  generate: number;
  rateLimit?: number;
  burst?: number;
  latencyMs?: number;
  rateLimitHeaders?: boolean;
}

/** `retag sim` in a separate process (so its CPU is not the client's); resolves once it listens. */
export async function startSimProcess(args: SimArgs): Promise<SimProcess> {
  const argv = [CLI, 'sim', '--port', '0', '--generate', String(args.generate)];
  if (args.rateLimit) argv.push('--rate-limit', String(args.rateLimit), '--burst', String(args.burst ?? args.rateLimit));
  if (args.latencyMs) argv.push('--latency', String(args.latencyMs));
  if (args.rateLimitHeaders) argv.push('--rate-limit-headers');
  return startServerProcess(argv, { stats: '/_sim/stats', reset: '/_sim/reset-stats', library: '/_sim/library' });
}

export type PlainServerArgs = Omit<SimArgs, 'rateLimitHeaders'> & {
  /** Measure the read-to-write window (plain-server's `--window`). */
  window?: boolean;
};

/**
 * bench/plain-server.ts in a separate process: a plain node:http reimage-compatible server that
 * shares no code with the simulator (its token bucket never announces itself in headers).
 */
export async function startPlainServerProcess(args: PlainServerArgs): Promise<SimProcess> {
  const argv = [PLAIN_SERVER, '--port', '0', '--generate', String(args.generate)];
  if (args.rateLimit) argv.push('--rate-limit', String(args.rateLimit), '--burst', String(args.burst ?? args.rateLimit));
  if (args.latencyMs) argv.push('--latency', String(args.latencyMs));
  if (args.window) argv.push('--window');
  return startServerProcess(argv, { stats: '/_stats', reset: '/_reset' });
}

async function startServerProcess(argv: string[], routes: { stats: string; reset: string; library?: string }): Promise<SimProcess> {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${argv[0]} exited (${code}) before listening: ${text}`)));
  });
  return {
    url,
    async stats() {
      const res = await fetch(`${url}${routes.stats}`);
      return (await res.json()) as SimStats;
    },
    async reset() {
      await (await fetch(`${url}${routes.reset}`, { method: 'POST' })).arrayBuffer();
    },
    async library() {
      if (!routes.library) throw new Error(`${argv[0]} has no route that dumps its library`);
      const dump = (await (await fetch(`${url}${routes.library}`)).json()) as Record<string, { tags: string[] }>;
      return new Map(Object.entries(dump).map(([id, image]) => [id, image.tags]));
    },
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** User + system CPU of the child, ms (undefined without /usr/bin/time). */
  cpuMs: number | undefined;
  /** Peak resident set, bytes. */
  maxRss: number | undefined;
}

/** Run `node <args>` to completion, measuring CPU and peak RSS with /usr/bin/time (or /proc). */
export async function measureNode(args: string[], env: Record<string, string> = {}): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'retag-bench-time-'));
  const timeFile = join(dir, 'time');
  const cmd = HAVE_TIME ? TIME : process.execPath;
  const argv = HAVE_TIME ? ['-f', '%U %S %M', '-o', timeFile, process.execPath, ...args] : args;
  const started = performance.now();
  const child = spawn(cmd, argv, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const poll = HAVE_TIME ? undefined : pollPeakRss(child);
  const [code] = (await once(child, 'exit')) as [number | null];
  const wallMs = performance.now() - started;
  let cpuMs: number | undefined;
  let maxRss: number | undefined;
  if (HAVE_TIME) {
    const fields = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    cpuMs = (fields[0]! + fields[1]!) * 1000;
    maxRss = fields[2]! * 1024;
  } else {
    maxRss = poll!.stop();
  }
  rmSync(dir, { recursive: true, force: true });
  return { code, stdout, stderr, wallMs, cpuMs, maxRss };
}

/** Fallback without /usr/bin/time: poll VmHWM (the kernel's own peak) until the child exits. */
function pollPeakRss(child: ChildProcess): { stop(): number | undefined } {
  let peak: number | undefined;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak ?? 0, Number(m[1]) * 1024);
    } catch {
      /* exited */
    }
  };
  const timer = setInterval(read, 20);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

export interface RetagRun extends Measured {
  summary: {
    counts: Record<string, number>;
    requests: { total: number; reads: number; writes: number; retries: number; status429: number };
    durationMs: number;
    exitCode: number;
    rate?: { mode: string; final: number };
  };
}

/** The real CLI: `retag run <manifest> ...` against `url`; returns its summary.json too. */
export async function runRetag(url: string, args: string[], outDir: string): Promise<RetagRun> {
  const m = await measureNode([CLI, ...args, '--out', outDir, '--log-level', 'warn'], {
    REIMAGE_API_KEY: API_KEY,
    REIMAGE_BASE_URL: url,
  });
  let summary: RetagRun['summary'];
  try {
    summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8'));
  } catch {
    throw new Error(`retag ${args.join(' ')} wrote no summary (exit ${m.code}):\n${m.stderr.slice(-2000)}`);
  }
  return { ...m, summary };
}

export type BaselineMode = 'bare' | 'sequential' | 'promise-all' | 'noop';

export interface BaselineResult {
  n: number;
  ms: number;
  byStatus: Record<string, number>;
  failures: number;
}

/** One of the alternatives a user would write (bench/baseline-client.ts), in its own process. */
export async function runBaseline(mode: BaselineMode, url: string, n: number, concurrency = 1): Promise<Measured & { result: BaselineResult }> {
  const m = await measureNode([BASELINE, mode, url, String(n), String(concurrency)], { REIMAGE_API_KEY: API_KEY });
  if (m.code !== 0) throw new Error(`baseline ${mode} failed (exit ${m.code}): ${m.stderr.slice(-2000)}`);
  return { ...m, result: JSON.parse(m.stdout.trim().split('\n').pop()!) as BaselineResult };
}

/** The id of the n-th generated simulator image (img-000001…), as `generatedId` spells it. */
export function imageId(n: number, libraryWidth: number): string {
  return `img-${String(n).padStart(Math.max(6, String(libraryWidth).length), '0')}`;
}

/** Stream `count` NDJSON lines to `file` (backpressure respected: a million lines, little memory). */
export async function writeLines(file: string, count: number, line: (i: number) => string): Promise<void> {
  const out = createWriteStream(file);
  let chunk = '';
  for (let i = 1; i <= count; i++) {
    chunk += line(i) + '\n';
    if (chunk.length >= 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Achieved rate at the server: updates answered 200 over the span between first and last request. */
export function serverRate(stats: SimStats, counted = stats.byStatus['200'] ?? 0): number {
  const span = ((stats.lastRequestAt ?? 0) - (stats.firstRequestAt ?? 0)) / 1000;
  return span > 0 ? (counted - 1) / span : Number.NaN;
}
