/**
 * retag as a library (for a CMS hook, a worker, a test): the same commands the CLI runs, with
 * the same options, run directories and outcome records. Nothing here calls process.exit.
 *
 *   import { plan, apply, startSimulator } from 'retag';
 *   const reviewed = await plan({ manifest: 'rules.ndjson', apiKey, out: 'runs/plan-1' });
 *   if (reviewed.summary.wouldChange) await apply({ plan: reviewed.runDir, apiKey });
 */
import { Writable } from 'node:stream';
import { applyCommand } from './commands/apply.js';
import type { CommandIO } from './commands/common.js';
import { runCommand } from './commands/run.js';
import { undoCommand } from './commands/undo.js';
import { parseBudget, parseRate } from './commands/options.js';
import { ExitError, type StopSignal } from './errors.js';
import { loadManifest as loadManifestFile, type LoadedManifest } from './manifest/read.js';
import type { ManifestFormat } from './manifest/options.js';
import type { RunSummary } from './report/run-dir.js';
import { DEFAULT_RETRY_OPTIONS } from './runner/retry-policy.js';

export { startSimulator } from './sim/index.js';
export type { Simulator, SimOptions } from './sim/index.js';
export type { Rule, Where, RuleOps, ManifestProblem, ManifestWarning, SourceLocation } from './manifest/types.js';
export type { PlanEntry, Decision, ComposedOp, GuardedOp } from './plan/types.js';
export type { JournalEntry, Outcome, FailureReason } from './runner/types.js';
export type { RunSummary, RunCounts } from './report/run-dir.js';
export type { LoadedManifest };
export { ExitCode } from './errors.js';

/** Options shared by every call; each has the CLI flag's meaning and default. */
export interface ConnectionOptions {
  /** API base URL (default $REIMAGE_BASE_URL, else https://api.reimage.dev). */
  baseUrl?: string;
  /** The API key (default: `apiKeyFile`, else $REIMAGE_API_KEY). Never logged. */
  apiKey?: string;
  apiKeyFile?: string;
  /** Requests in flight at most (default 4). */
  concurrency?: number;
  /** Requests per second, or 'auto' (default 10). */
  rate?: number | 'auto';
  /** Retries after the first attempt (default 5). */
  retries?: number;
  /** Request timeout in seconds (default 30). */
  timeout?: number;
  /** Longest Retry-After honoured, seconds (default 60). */
  maxRetryAfter?: number;
  /** Page size asked of GET /get/ (default 100). */
  pageSize?: number;
  /** pino level for the JSON log (default 'silent' when embedded). */
  logLevel?: string;
  /** Write the JSON log here. */
  logFile?: string;
  /** Where the human summary (and plan text) go; default: discarded. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Aborting it stops the run gracefully (like SIGTERM: in-flight writes finish, reports are written). */
  signal?: AbortSignal;
}

export interface WriteCallOptions extends ConnectionOptions {
  /** Run directory (default retag-runs/<UTC timestamp>/). */
  out?: string;
  /** Continue the run recorded in this run directory. */
  resume?: string;
  /** Abort past N failed items, or 'N%'. */
  maxFailures?: number | string;
  /** Write at most N images. */
  maxChanges?: number;
  /** Re-read the changed images after the run and report drift. */
  verify?: boolean;
  /** Plan only: decide, write nothing. */
  dryRun?: boolean;
}

export interface ManifestCallOptions {
  format?: ManifestFormat;
  tagSeparator?: string;
  maxTagLength?: number;
  delimiter?: string;
  encoding?: string;
  /** false is --no-read: set/clear rules only, written blind. */
  read?: boolean;
  /** Run the valid rules; the bad ones go to rejects.ndjson. */
  skipInvalid?: boolean;
}

/** What a call ends with: the exit code the CLI would give, the run directory and its summary. */
export interface RunResult {
  exitCode: number;
  runDir: string;
  summary: RunSummary;
}

const discard = () => new Writable({ write: (_chunk, _enc, done) => done() });

function ioFor(o: ConnectionOptions, onSummary: (s: RunSummary) => void): CommandIO {
  const env = { ...process.env, ...(o.apiKey !== undefined ? { REIMAGE_API_KEY: o.apiKey } : {}) };
  return {
    stdout: o.stdout ?? discard(),
    stderr: o.stderr ?? discard(),
    env,
    onSummary,
    onInterrupt(callback: (signal: StopSignal) => void) {
      const signal = o.signal;
      if (!signal) return () => undefined;
      const listener = () => callback('SIGTERM');
      if (signal.aborted) queueMicrotask(listener);
      else signal.addEventListener('abort', listener, { once: true });
      return () => signal.removeEventListener('abort', listener);
    },
  };
}

function connection(o: ConnectionOptions) {
  return {
    ...(o.baseUrl !== undefined ? { baseUrl: o.baseUrl } : {}),
    ...(o.apiKeyFile !== undefined && o.apiKey === undefined ? { apiKeyFile: o.apiKeyFile } : {}),
    concurrency: o.concurrency ?? 4,
    rate: parseRate(o.rate ?? 10),
    retry: {
      ...DEFAULT_RETRY_OPTIONS,
      retries: o.retries ?? DEFAULT_RETRY_OPTIONS.retries,
      maxRetryAfterMs: (o.maxRetryAfter ?? 60) * 1000,
    },
    timeoutMs: (o.timeout ?? 30) * 1000,
    logLevel: o.logLevel ?? 'silent',
    ...(o.logFile !== undefined ? { logFile: o.logFile } : {}),
    pageSize: o.pageSize ?? 100,
  };
}

function writeOptions(o: WriteCallOptions, read: boolean) {
  const maxFailures = parseBudget(o.maxFailures);
  return {
    ...connection(o),
    read,
    dryRun: o.dryRun ?? false,
    verify: o.verify ?? false,
    ...(maxFailures ? { maxFailures } : {}),
    ...(o.maxChanges !== undefined ? { maxChanges: o.maxChanges } : {}),
    ...(o.out !== undefined ? { out: o.out } : {}),
    ...(o.resume !== undefined ? { resume: o.resume } : {}),
  };
}

async function call(o: ConnectionOptions, command: (io: CommandIO) => Promise<number>): Promise<RunResult> {
  let summary: RunSummary | undefined;
  const exitCode = await command(ioFor(o, (s) => (summary = s)));
  if (!summary) throw new Error('retag: the command ended without a summary');
  return { exitCode, runDir: summary.runDir, summary };
}

function manifestOptions(o: ManifestCallOptions) {
  return {
    ...(o.format !== undefined ? { format: o.format } : {}),
    tagSeparator: o.tagSeparator ?? '|',
    maxTagLength: o.maxTagLength ?? 256,
    ...(o.delimiter !== undefined ? { delimiter: o.delimiter } : {}),
    ...(o.encoding !== undefined ? { encoding: o.encoding } : {}),
  };
}

/**
 * Read and validate a manifest (no network). Problems come back in `problems`, each with its
 * file and line; rules are compiled in `rules`.
 */
export function readManifest(file: string, options: ManifestCallOptions = {}): Promise<LoadedManifest> {
  return loadManifestFile(file, { ...manifestOptions(options), requireSetOnly: options.read === false });
}

/** `retag run`: apply a manifest. Throws an ExitError (exitCode 2) for a bad manifest, before any request. */
export function run(options: WriteCallOptions & ManifestCallOptions & { manifest: string }): Promise<RunResult> {
  return call(options, (io) =>
    runCommand(
      { ...writeOptions(options, options.read !== false), ...manifestOptions(options), manifest: options.manifest, skipInvalid: options.skipInvalid ?? false },
      io,
    ),
  );
}

/** `retag plan`: decide and save plan.ndjson in the run directory, write nothing. */
export function plan(options: Omit<WriteCallOptions, 'dryRun' | 'resume'> & ManifestCallOptions & { manifest: string }): Promise<RunResult> {
  return run({ ...options, dryRun: true });
}

/** `retag apply`: write exactly what a saved plan shows, where the images still hold its `before`. */
export function apply(options: WriteCallOptions & { plan: string }): Promise<RunResult> {
  return call(options, (io) => applyCommand({ ...writeOptions(options, true), plan: options.plan }, io));
}

/** `retag undo`: restore what a run replaced, where no one changed it since. */
export function undo(options: WriteCallOptions & { runDir: string }): Promise<RunResult> {
  return call(options, (io) => undoCommand({ ...writeOptions(options, true), runDir: options.runDir }, io));
}

export { ExitError };
