#!/usr/bin/env node
/**
 * argv → typed options → command. The only place that turns errors into exit codes and that
 * calls process.exit (design.md §6, style.md §2).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { CommandIO } from './commands/common.js';
import { parseBudget, parseRate, positiveInt, seconds } from './commands/options.js';
import { ExitCode, ExitError, signalExitCode, UsageError, type StopSignal } from './errors.js';
import { DEFAULT_RETRY_OPTIONS } from './runner/retry-policy.js';
import { registeredSecrets, registerSecret, scrubSecrets } from './secrets.js';
import { guardClosedPipe, isClosedPipeError } from './report/streams.js';
import type { ManifestFormat } from './manifest/index.js';
import { parseDelimiter } from './manifest/options.js';

type Command = (io: CommandIO) => Promise<number>;

/**
 * Memory that follows the work (issue 10). V8 lets the old generation grow to up to 4× what
 * survived the last full GC before it collects again; a run that composes a million rules keeps
 * ~150 MB live and would sit at 600+ MB of RSS, mostly garbage. Growing by at most 2× keeps
 * the peak near twice the live data, for no measurable CPU (bench run-300k/run-1m). The factor
 * is read at every GC, so it can be set here; a user's own heap flags win.
 */
const heapFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
if (!/heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size|max[-_]heap[-_]size/.test(heapFlags)) {
  v8.setFlagsFromString('--heap-growing-percent=100');
}

/**
 * retag's own version. yargs would guess from the package.json above its own node_modules, which
 * is the host project's when retag is installed as a dependency. The file runs from src/ (tests)
 * and dist/src/ (installed), so look up a few levels for the package named retag.
 */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'retag' && pkg.version) return pkg.version;
    } catch {
      /* not ours */
    }
  }
  return 'unknown';
}

const EPILOG = `Environment:
  REIMAGE_API_KEY    the API key (or --api-key-file); never logged
  REIMAGE_BASE_URL   API base URL (default https://api.reimage.dev)
  RETAG_LOCK_DIR     where \`retag job\` keeps its locks (default <tmp>/retag-locks-<uid>)
  RETAG_LOCK_STALE_MS  a lock whose holder died is taken over after this long (default 15000)

Exit codes: 0 all done · 1 some items failed (see failures.ndjson) · 2 bad input, nothing sent
            3 aborted (key rejected, failure budget, server unreachable), resumable
            4 job or run directory in use by another run
            129/130/143 interrupted (SIGHUP/SIGINT/SIGTERM), resumable`;

/**
 * Defaults live here, once. `retag job` declares the same options without defaults so that it
 * can tell a flag given on the command line (which overrides the job file) from a default.
 */
export const RUN_DEFAULTS = {
  tagSeparator: '|',
  maxTagLength: 256,
  read: true,
  concurrency: 4,
  rate: '10',
  retries: 5,
  timeout: 30,
  maxRetryAfter: 60,
  logLevel: 'info',
  pageSize: 100,
  skipInvalid: false,
  dryRun: false,
  verify: false,
} as const;

type Defaults = Partial<typeof RUN_DEFAULTS>;

/** Option groups in --help (issue: people look for options by what they are for). */
const G = {
  input: 'Input:',
  connection: 'Connection:',
  pace: 'Pace:',
  safety: 'Safety:',
  output: 'Output:',
} as const;

function inputOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS, opts: { read?: boolean; validateOnly?: boolean } = {}) {
  let out = y
    .option('format', { group: G.input, type: 'string', choices: ['csv', 'json', 'ndjson'] as const, describe: 'Manifest format (default: from the extension; required for -)' })
    .option('tag-separator', { group: G.input, type: 'string', default: d.tagSeparator, describe: 'Separator of tags inside a CSV cell' })
    .option('max-tag-length', { group: G.input, type: 'number', default: d.maxTagLength, describe: 'Longest tag accepted' })
    .option('delimiter', { group: G.input, type: 'string', describe: 'CSV delimiter (default: "," or detected from the header: ";" or tab; .tsv is tab)' })
    .option('encoding', { group: G.input, type: 'string', describe: 'Text encoding of the manifest (WHATWG label, e.g. windows-1252; default utf-8)' });
  if (opts.read !== false) {
    out = out.option('read', {
      group: G.input,
      type: 'boolean',
      default: d.read,
      describe: opts.validateOnly
        ? '--no-read: check the manifest holds only set/clear id rules (what a --no-read run accepts)'
        : 'Read current tags first; --no-read sends set/clear rules blind (no skip, no undo)',
    });
  }
  return out;
}

/** rename / strip take their tags on the command line: only the tag check applies. */
function tagOptions<T>(y: Argv<T>) {
  return y.option('max-tag-length', { group: G.input, type: 'number', default: RUN_DEFAULTS.maxTagLength, describe: 'Longest tag accepted' });
}

function connectionOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return y
    .option('api-key-file', { group: G.connection, type: 'string', describe: 'File holding the API key (default: $REIMAGE_API_KEY)' })
    .option('base-url', { group: G.connection, type: 'string', describe: 'API base URL (https, or http on loopback only)' })
    .option('timeout', { group: G.connection, type: 'number', default: d.timeout, describe: 'Request timeout, seconds' });
}

function paceOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return y
    .option('concurrency', { group: G.pace, type: 'number', default: d.concurrency, describe: 'Requests in flight at most' })
    .option('rate', { group: G.pace, type: 'string', default: d.rate, describe: 'Requests per second (reads + writes), or "auto"' })
    .option('retries', { group: G.pace, type: 'number', default: d.retries, describe: 'Retries after the first attempt' })
    .option('max-retry-after', { group: G.pace, type: 'number', default: d.maxRetryAfter, describe: 'Longest Retry-After honoured, seconds' })
    .option('page-size', { group: G.pace, type: 'number', default: d.pageSize, describe: 'Page size asked of GET /get/' });
}

function logOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return y
    .option('log-level', { group: G.output, type: 'string', default: d.logLevel, choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] })
    .option('log-file', { group: G.output, type: 'string', describe: 'Write JSON logs here instead of stderr' });
}

function apiOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return logOptions(paceOptions(connectionOptions(y, d), d), d);
}

/** Options of every command that writes (run, job, rename, strip, apply, undo). */
function writeOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return apiOptions(y, d)
    .option('dry-run', { group: G.safety, type: 'boolean', default: d.dryRun, describe: 'Plan only: read and decide, write nothing (writes plan.ndjson)' })
    .option('max-failures', { group: G.safety, type: 'string', describe: 'Abort (exit 3) past N failed items, or N%' })
    .option('max-changes', { group: G.safety, type: 'number', describe: 'Write at most N images; stop (exit 3, resumable) before the next' })
    .option('resume', { group: G.safety, type: 'string', describe: 'Continue the run recorded in this run directory' })
    .option('verify', { group: G.safety, type: 'boolean', default: d.verify, describe: 'After the run, re-read the changed images and report drift (drift.ndjson)' })
    .option('out', { group: G.output, type: 'string', describe: 'Run directory (default retag-runs/<UTC timestamp>/)' });
}

function runOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return writeOptions(inputOptions(y, d), d).option('skip-invalid', {
    group: G.input,
    type: 'boolean',
    default: d.skipInvalid,
    describe: 'Run the valid rules; write the bad ones to rejects.ndjson',
  });
}

/** plan: what run --dry-run does; no option that only matters when writing. */
function planOptions<T>(y: Argv<T>) {
  return apiOptions(inputOptions(y))
    .option('skip-invalid', { group: G.input, type: 'boolean', default: false, describe: 'Plan the valid rules; write the bad ones to rejects.ndjson' })
    .option('out', { group: G.output, type: 'string', describe: 'Run directory for plan.ndjson (default retag-runs/<UTC timestamp>/)' });
}

type Parsed = Record<string, unknown>;

function apiFromArgv(argv: Parsed) {
  return {
    ...(argv.baseUrl !== undefined ? { baseUrl: String(argv.baseUrl) } : {}),
    ...(argv.apiKeyFile !== undefined ? { apiKeyFile: String(argv.apiKeyFile) } : {}),
    concurrency: positiveInt('concurrency', argv.concurrency, { max: 256 }),
    rate: parseRate(argv.rate),
    retry: {
      ...DEFAULT_RETRY_OPTIONS,
      retries: positiveInt('retries', argv.retries, { min: 0, max: 100 }),
      maxRetryAfterMs: seconds('max-retry-after', argv.maxRetryAfter),
    },
    timeoutMs: seconds('timeout', argv.timeout),
    logLevel: String(argv.logLevel),
    ...(argv.logFile !== undefined ? { logFile: String(argv.logFile) } : {}),
    pageSize: positiveInt('page-size', argv.pageSize, { max: 10_000 }),
  };
}

function manifestFromArgv(argv: Parsed) {
  const separator = String(argv.tagSeparator);
  if (separator === '' || separator === ',') {
    throw new UsageError(`--tag-separator must be a non-empty string other than "," (tags are never split on commas), got ${JSON.stringify(separator)}`);
  }
  return {
    ...(argv.format !== undefined ? { format: argv.format as ManifestFormat } : {}),
    tagSeparator: separator,
    maxTagLength: positiveInt('max-tag-length', argv.maxTagLength, { max: 100_000 }),
    ...(argv.delimiter !== undefined ? { delimiter: parseDelimiter(argv.delimiter) } : {}),
    ...(argv.encoding !== undefined ? { encoding: String(argv.encoding) } : {}),
  };
}

/** The options of a command that writes, checked (exit 2 on the first bad one). */
function writeFromArgv(argv: Parsed, dryRun: boolean) {
  const maxFailures = parseBudget(argv.maxFailures);
  if (dryRun && argv.resume !== undefined) {
    // A plan writes nothing: it must not rewrite the reports of the run it would "resume".
    throw new UsageError('--resume continues a run; a plan (or --dry-run) writes nothing to resume: drop one of them');
  }
  return {
    ...apiFromArgv(argv),
    read: argv.read !== false,
    dryRun,
    verify: Boolean(argv.verify),
    ...(maxFailures ? { maxFailures } : {}),
    ...(argv.maxChanges !== undefined ? { maxChanges: positiveInt('max-changes', argv.maxChanges, { min: 0 }) } : {}),
    ...(argv.out !== undefined ? { out: String(argv.out) } : {}),
    ...(argv.resume !== undefined ? { resume: String(argv.resume) } : {}),
  };
}

/** yargs reads a lone `-` positional as ''; `-` means standard input (design.md §2). */
function manifestPath(argv: Parsed): string {
  const given = String(argv.manifest);
  return given === '' && rawArgs.includes('-') ? '-' : given;
}
let rawArgs: readonly string[] = [];

function runFromArgv(argv: Parsed, dryRun: boolean) {
  return {
    ...writeFromArgv(argv, dryRun),
    ...manifestFromArgv(argv),
    manifest: manifestPath(argv),
    skipInvalid: Boolean(argv.skipInvalid),
  };
}

export function buildParser(argv: string[], select: (command: Command) => void) {
  rawArgs = argv;
  return yargs(argv)
    .scriptName('retag')
    .version(packageVersion())
    .usage('$0 <command> [options]\n\nChange the tags of many reimage.dev images at once, safely and as fast as the rate limit allows.')
    .command(
      'run <manifest>',
      'Apply a manifest: read current tags, decide, write what changed',
      (y) =>
        runOptions(y)
          .positional('manifest', { type: 'string', describe: 'CSV, JSON or NDJSON manifest (a failures.ndjson or conflicts.ndjson too; - for stdin)', demandOption: true })
          .example('$0 run tags.csv', 'apply tags.csv at the default 10 requests/s')
          .example('$0 run m.csv --rate 40', 'faster: 40 requests/s')
          .example('$0 run m.csv --max-failures 2%', 'abort if over 2% fail')
          .example('$0 run <run-dir>/failures.ndjson', 're-run only what failed')
          .example('$0 run m.csv --resume <run-dir>', 'continue an interrupted run')
          .example('$0 run - --format ndjson', 'read the manifest from stdin'),
      (argv) => {
        const options = runFromArgv(argv as Parsed, Boolean(argv.dryRun));
        select(async (io) => (await import('./commands/run.js')).runCommand(options, io));
      },
    )
    .command(
      'plan <manifest>',
      'Show the change (images changing, tags added/removed, per-rule counts, samples) and save it as plan.ndjson for `retag apply`',
      (y) =>
        planOptions(y)
          .positional('manifest', { type: 'string', describe: 'CSV, JSON or NDJSON manifest (- for stdin)', demandOption: true })
          .example('$0 plan tags.csv --out plan-1', 'review what would change, saved in plan-1/')
          .example('$0 apply plan-1', 'then write exactly that'),
      (argv) => {
        const options = runFromArgv(argv as Parsed, true);
        select(async (io) => (await import('./commands/run.js')).runCommand(options, io));
      },
    )
    .command(
      'apply <plan>',
      "Write exactly what a saved plan shows, only where the image still holds the plan's before (others: conflicts, exit 1)",
      (y) =>
        writeOptions(y)
          .positional('plan', { type: 'string', describe: 'plan.ndjson, or the run directory of `retag plan` holding it', demandOption: true })
          .example('$0 apply retag-runs/<plan-run>', 'apply the reviewed plan')
          .example('$0 apply p.ndjson --max-changes 9', 'at most 9 writes'),
      (argv) => {
        const options = { ...writeFromArgv(argv as Parsed, Boolean(argv.dryRun)), plan: String(argv.plan) };
        select(async (io) => (await import('./commands/apply.js')).applyCommand(options, io));
      },
    )
    .command(
      'rename <from> <to>',
      'Every image tagged <from> carries <to> instead, in the same position (library-wide)',
      (y) =>
        writeOptions(tagOptions(y))
          .positional('from', { type: 'string', describe: 'The tag to rename', demandOption: true })
          .positional('to', { type: 'string', describe: 'Its new name (if already there, <from> simply goes)', demandOption: true })
          .example('$0 rename summer summer-26 --dry-run', 'see which images would change')
          .example('$0 rename summer summer-26', 'do it (add --max-changes N to cap)'),
      (argv) => {
        const options = { ...writeFromArgv(argv as Parsed, Boolean(argv.dryRun)), maxTagLength: positiveInt('max-tag-length', argv.maxTagLength, { max: 100_000 }), from: String(argv.from), to: String(argv.to) };
        select(async (io) => (await import('./commands/shorthand.js')).renameCommand(options, io));
      },
    )
    .command(
      'strip <tags..>',
      'Remove these tags from every image that has any of them (library-wide)',
      (y) =>
        writeOptions(tagOptions(y))
          .positional('tags', { type: 'string', array: true, describe: 'Tags to remove', demandOption: true })
          .example('$0 strip draft "old sale" --dry-run', 'see which images would change')
          .example('$0 strip draft', 'retire the tag draft everywhere'),
      (argv) => {
        const options = { ...writeFromArgv(argv as Parsed, Boolean(argv.dryRun)), maxTagLength: positiveInt('max-tag-length', argv.maxTagLength, { max: 100_000 }), tags: (argv.tags as unknown[]).map(String) };
        select(async (io) => (await import('./commands/shorthand.js')).stripCommand(options, io));
      },
    )
    .command(
      'tags',
      'Inventory: every tag in the library with its image count; --suggest writes a rename map of likely duplicates',
      (y) =>
        apiOptions(y)
          .option('format', { group: G.output, type: 'string', choices: ['table', 'csv', 'json'] as const, describe: 'Output format (default: table on a terminal, csv otherwise)' })
          .option('suggest', { group: G.output, type: 'string', describe: 'Write a rename map (from,to CSV) of likely duplicate spellings to this file' })
          .example('$0 tags --format json > tags.json', 'every tag with its image count, most used first')
          .example('$0 tags --suggest merge.csv', 'then edit merge.csv, `retag plan merge.csv`, `retag apply`'),
      (argv) => {
        const options = {
          ...apiFromArgv(argv as Parsed),
          ...(argv.format !== undefined ? { format: argv.format as 'table' | 'csv' | 'json' } : {}),
          ...(argv.suggest !== undefined ? { suggest: String(argv.suggest) } : {}),
        };
        select(async (io) => (await import('./commands/tags.js')).tagsCommand(options, io));
      },
    )
    .command(
      'job <job-file>',
      "Run a job definition (manifest + options) under the job's lock; flags override the job's options",
      (y) =>
        runOptions(y, {})
          .positional('job-file', { type: 'string', describe: 'Job file (JSON, or YAML)', demandOption: true })
          .option('lock-dir', { group: G.safety, type: 'string', describe: 'Where job locks live (default $RETAG_LOCK_DIR or <tmp>/retag-locks-<uid>)' })
          .epilog(`Defaults when neither the job file nor a flag sets them:\n${Object.entries(RUN_DEFAULTS).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}`)
          .example('$0 job jobs/nightly.json', 'run a job (exit 4 if already running)')
          .example('$0 job jobs/nightly.json --rate 5', 'the same job, slower'),
      (argv) => {
        const jobFile = String(argv.jobFile);
        const given = argv as Parsed;
        select(async (io) => {
          const { jobCommand } = await import('./commands/job.js');
          return jobCommand(
            jobFile,
            (jobOptions, manifest) => {
              if (jobOptions.apiKeyFile) registerKeyFile(jobOptions.apiKeyFile);
              const merged: Parsed = { ...RUN_DEFAULTS, ...jobOptions, manifest };
              for (const [key, value] of Object.entries(given)) if (value !== undefined && key !== '_' && key !== '$0') merged[key] = value;
              return runFromArgv(merged, Boolean(merged.dryRun));
            },
            { ...(argv.lockDir !== undefined ? { lockDir: String(argv.lockDir) } : {}) },
            io,
          );
        });
      },
    )
    .command(
      'undo <run-dir>',
      'Restore the tags a run replaced, where no one changed them since (conflicts: exit 1); writes its own run directory',
      (y) =>
        writeOptions(y)
          .positional('run-dir', { type: 'string', describe: 'Run directory of the run to undo', demandOption: true })
          .example('$0 undo retag-runs/<run> --dry-run', 'see what the undo would do')
          .example('$0 undo retag-runs/<run>', 'put back what that run replaced')
          .example('$0 undo retag-runs/<undo-run>', 'undo the undo (its own run directory)'),
      (argv) => {
        const options = { ...writeFromArgv(argv as Parsed, Boolean(argv.dryRun)), runDir: String(argv.runDir) };
        select(async (io) => (await import('./commands/undo.js')).undoCommand(options, io));
      },
    )
    .command(
      'export',
      "Write the library's id → tags as NDJSON (a backup; each line a valid set rule, so it restores with `retag run`)",
      (y) =>
        apiOptions(y)
          .option('out', { group: G.output, type: 'string', describe: 'Output file (written atomically); default stdout' })
          .example('$0 export --out backup.ndjson', "back up every image's tags before a migration")
          .example('$0 run backup.ndjson', 'restore them'),
      (argv) => {
        const options = { ...apiFromArgv(argv as Parsed), ...(argv.out !== undefined ? { out: String(argv.out) } : {}) };
        select(async (io) => (await import('./commands/export.js')).exportCommand(options, io));
      },
    )
    .command(
      'probe',
      'Read page 1 of GET /get/ and show the raw response and how retag reads it (no write)',
      (y) =>
        logOptions(connectionOptions(y))
          .option('page-size', { group: G.pace, type: 'number', default: 5, describe: 'Page size asked of GET /get/' })
          .example('$0 probe', 'check that the listing carries ids and tags before a first run'),
      (argv) => {
        const options = { ...apiFromArgv({ ...RUN_DEFAULTS, ...(argv as Parsed) }) };
        select(async (io) => (await import('./commands/probe.js')).probeCommand(options, io));
      },
    )
    .command(
      'validate <manifest>',
      'Validate a manifest only: no network; streams, so huge files fit in little memory',
      (y) =>
        inputOptions(y, RUN_DEFAULTS, { validateOnly: true })
          .positional('manifest', { type: 'string', describe: 'CSV, JSON or NDJSON manifest (- for stdin)', demandOption: true })
          .example('$0 validate tags.csv', 'list every problem with its line, exit 2 if any'),
      (argv) => {
        const options = { ...manifestFromArgv(argv as Parsed), manifest: manifestPath(argv as Parsed), read: argv.read !== false };
        select(async (io) => (await import('./commands/validate.js')).validateCommand(options, io));
      },
    )
    .command(
      'demo',
      'Run the demo migration job against the embedded simulator (faults and a rate limit on) and check every image',
      (y) => y.example('$0 demo', 'what `npm run demo` does'),
      () => select(async (io) => (await import('./commands/demo.js')).demoCommand(io)),
    )
    .command(
      'sim',
      'Start the local reimage-compatible simulator (loopback only)',
      (y) =>
        y
          .option('port', { group: 'Server:', type: 'number', default: 8787, describe: 'Port (0 = any free port)' })
          .option('host', { group: 'Server:', type: 'string', default: '127.0.0.1', describe: 'Loopback address to bind' })
          .option('seed-file', { group: 'Library:', type: 'string', describe: 'Seed library (JSON); default fixtures/library.json unless --generate' })
          .option('generate', { group: 'Library:', type: 'number', describe: 'Generate N images owned by alice (key sk_test_alice)' })
          .option('rate-limit', { group: 'Rate limit:', type: 'number', default: 0, describe: 'Requests/s per key (token bucket); 0 = unlimited' })
          .option('burst', { group: 'Rate limit:', type: 'number', describe: 'Token bucket size (default = --rate-limit)' })
          .option('rate-limit-headers', { group: 'Rate limit:', type: 'boolean', default: false, describe: 'Send RateLimit-* and X-RateLimit-* headers' })
          .option('list-shape', { group: 'Listing:', type: 'string', default: 'object', choices: ['object', 'array', 'images', 'items-nometa'] as const, describe: 'Response shape of GET /get/' })
          .option('max-page-size', { group: 'Listing:', type: 'number', default: 100, describe: 'Cap on page_size (silently)' })
          .option('list-order', {
            group: 'Listing:',
            type: 'string',
            default: 'id',
            choices: ['id', 'modified-asc', 'modified-desc'] as const,
            describe: 'Order of GET /get/: id (stable), modified-asc (every update moves the image to the end), modified-desc (to the front)',
          })
          .option('page-overlap', { group: 'Listing:', type: 'number', default: 0, describe: 'Pages after the first start N records early (consecutive pages share N; total stays true)' })
          .option('past-end', { group: 'Listing:', type: 'string', default: 'empty', choices: ['empty', '404'] as const, describe: 'Answer to a page after the last: an empty page, or 404' })
          .option('error-rate', { group: 'Faults:', type: 'number', default: 0, describe: 'Share of requests answered 500 (not applied)' })
          .option('fault-after-apply-rate', { group: 'Faults:', type: 'number', default: 0, describe: 'Share of updates applied, then answered 500' })
          .option('drop-rate', { group: 'Faults:', type: 'number', default: 0, describe: 'Share of connections dropped without an answer' })
          .option('busy-rate', { group: 'Faults:', type: 'number', default: 0, describe: 'Share of requests answered 503 with Retry-After' })
          .option('latency', { group: 'Faults:', type: 'number', default: 0, describe: 'Latency per request, ms' })
          .option('jitter', { group: 'Faults:', type: 'number', default: 0, describe: 'Extra uniform latency, up to ms' })
          .option('seed', { group: 'Library:', type: 'number', default: 1, describe: 'PRNG seed for faults and generated tags' })
          .example('$0 sim --rate-limit 20', 'a 20/s limit (see Faults for more)')
          .example('$0 sim --list-order modified-asc', 'a listing that moves as runs write')
          .epilog('Then, in another shell:\n  REIMAGE_API_KEY=sk_test_alice REIMAGE_BASE_URL=http://127.0.0.1:8787 retag run tags.csv'),
      (argv) => {
        const options = {
          host: String(argv.host),
          port: positiveInt('port', argv.port, { min: 0, max: 65535 }),
          ...(argv.seedFile !== undefined ? { seedFile: String(argv.seedFile) } : {}),
          ...(argv.generate !== undefined ? { generate: positiveInt('generate', argv.generate, { max: 10_000_000 }) } : {}),
          rateLimit: Number(argv.rateLimit),
          ...(argv.burst !== undefined ? { burst: positiveInt('burst', argv.burst) } : {}),
          rateLimitHeaders: Boolean(argv.rateLimitHeaders),
          listShape: argv.listShape as 'object',
          maxPageSize: positiveInt('max-page-size', argv.maxPageSize),
          listOrder: argv.listOrder as 'id',
          pageOverlap: positiveInt('page-overlap', argv.pageOverlap, { min: 0 }),
          pastEnd: argv.pastEnd as 'empty',
          error5xxRate: probability('error-rate', argv.errorRate),
          faultAfterApplyRate: probability('fault-after-apply-rate', argv.faultAfterApplyRate),
          dropRate: probability('drop-rate', argv.dropRate),
          busyRate: probability('busy-rate', argv.busyRate),
          latencyMs: Number(argv.latency),
          jitterMs: Number(argv.jitter),
          seed: Number(argv.seed),
        };
        select(async (io) => (await import('./commands/sim.js')).simCommand(options, { stdout: io.stdout, signal: interruptSignal(io) }));
      },
    )
    .demandCommand(1, 'Name a command: run, plan, apply, rename, strip, tags, validate, job, undo, export, probe, sim, demo (see --help)')
    .completion('completion', 'Print a shell completion script (add it to ~/.bashrc or ~/.zshrc)')
    .strict()
    .recommendCommands()
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns || Number(process.env.COLUMNS) || 100))
    .exitProcess(false)
    .fail((message, error) => {
      if (error instanceof ExitError) throw error;
      let text = message ?? error?.message ?? 'invalid arguments';
      const word = argv.find((a) => !a.startsWith('-'));
      // "Unknown arguments: dry-run, dryRun" → "Unknown option: --dry-run": each option once, as typed.
      const unknown = /^Unknown arguments?: (.*)$/.exec(text);
      if (unknown) {
        const typed = (n: string) => argv.find((a) => a === `--${n}` || a.startsWith(`--${n}=`) || a === `-${n}` || a === `--no-${n}`);
        const names = [...new Set(unknown[1]!.split(', ').map((n) => typed(n) ?? typed(n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)) ?? n))];
        text = `Unknown ${names.length === 1 ? 'argument' : 'arguments'}: ${names.map((n) => n.split('=')[0]).join(', ')}`;
        if (word !== undefined) text += ` (see retag ${word} --help for its options)`;
      }
      // recommendCommands' message comes alone, before strict()'s "Unknown argument": name the command.
      if (text.startsWith('Did you mean') && word !== undefined) text = `Unknown command ${JSON.stringify(word)}. ${text}`;
      if (text.startsWith('Not enough non-option arguments') && word !== undefined) {
        const missing: Record<string, string> = { job: 'job file', undo: 'run directory', apply: 'plan', rename: '<from> and <to> tags', strip: 'tags' };
        text = `the ${word} command is missing its ${missing[word] ?? 'manifest'} argument`;
      }
      throw new UsageError(text);
    });
}

function probability(name: string, value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--${name} expects a probability from 0 to 1, got ${JSON.stringify(value)}`);
  return n;
}

function interruptSignal(io: CommandIO): AbortSignal {
  const controller = new AbortController();
  io.onInterrupt(() => controller.abort());
  return controller.signal;
}

/** Read a key file named on the command line or in a job file, so crash output is scrubbed of its key. */
function registerKeyFile(file: string): void {
  try {
    registerSecret(readFileSync(file, 'utf8'));
  } catch {
    /* unreadable: the command will say so; nothing to scrub */
  }
}

/** Every secret the process could know, so error and crash output can be scrubbed of them. */
function knownSecrets(args: string[]): string[] {
  registerSecret(process.env.REIMAGE_API_KEY);
  const i = args.findIndex((a) => a === '--api-key-file' || a.startsWith('--api-key-file='));
  if (i >= 0) {
    const file = args[i]!.includes('=') ? args[i]!.slice(args[i]!.indexOf('=') + 1) : args[i + 1];
    if (file) registerKeyFile(file);
  }
  return registeredSecrets();
}

async function main(): Promise<number> {
  const args = hideBin(process.argv);
  knownSecrets(args);
  guardClosedPipe(process.stdout);
  guardClosedPipe(process.stderr);
  const listeners = new Set<(signal: StopSignal) => void>();
  let interrupted = false;
  const onSignal = (signal: StopSignal) => {
    if (interrupted) {
      writeErr(`retag: second ${signal}, exiting at once\n`);
      process.exit(signalExitCode(signal));
    }
    interrupted = true;
    if (listeners.size === 0) process.exit(signalExitCode(signal));
    for (const listener of listeners) listener(signal);
  };
  process.on('SIGHUP', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A crash outside the command's own try (a stray rejection, a throw in a callback) still goes
  // through the scrubber: the key must not reach crash output either. Resumable, so exit 3.
  const crash = (error: unknown) => {
    if (isClosedPipeError(error)) return; // a reader went away: not a crash of the run
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    writeErr(`retag: unexpected error (the run directory, if any, can be resumed):\n${scrubSecrets(text, knownSecrets(args))}\n`);
    process.exit(ExitCode.aborted);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  const io: CommandIO = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    onInterrupt(callback) {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
  };

  try {
    let command: Command | undefined;
    const parser = buildParser(args, (c) => (command = c));
    await parser.parseAsync();
    if (!command) return ExitCode.ok; // --help / --version / completion
    return await command(io);
  } catch (error) {
    const secrets = knownSecrets(args);
    if (error instanceof ExitError) {
      writeErr(`retag: ${scrubSecrets(error.message, secrets)}\n`);
      if (error.exitCode === ExitCode.badInput && /arguments|Unknown|Missing|Not enough|Name a command/.test(error.message)) {
        writeErr('Run "retag --help" for usage.\n');
      }
      return error.exitCode;
    }
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    writeErr(`retag: unexpected error (the run directory, if any, can be resumed):\n${scrubSecrets(text, secrets)}\n`);
    return ExitCode.aborted;
  }
}

function writeErr(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    /* stderr closed: nothing to tell */
  }
}

process.exitCode = await main();
