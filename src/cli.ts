#!/usr/bin/env node
/**
 * argv → typed options → command. The only place that turns errors into exit codes and that
 * calls process.exit (design.md §6, style.md §2).
 */
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { CommandIO } from './commands/common.js';
import { parseBudget, parseRate, positiveInt, seconds } from './commands/options.js';
import { ExitCode, ExitError, UsageError } from './errors.js';
import type { ManifestFormat } from './manifest/index.js';

type Command = (io: CommandIO) => Promise<number>;

const EPILOG = `Environment:
  REIMAGE_API_KEY    the API key (or --api-key-file); never logged
  REIMAGE_BASE_URL   API base URL (default https://api.reimage.dev)
  RETAG_LOCK_DIR     where \`retag job\` keeps its locks (default <tmp>/retag-locks)
  RETAG_LOCK_STALE_MS  a lock whose holder died is taken over after this long (default 15000)

Exit codes: 0 all done · 1 some items failed (see failures.ndjson) · 2 bad input, nothing sent
            3 aborted (key rejected, failure budget, server unreachable), resumable
            4 job locked by another run · 130/143 interrupted, resumable`;

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

function manifestOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return y
    .option('format', { type: 'string', choices: ['csv', 'json', 'ndjson'] as const, describe: 'Manifest format (default: from the extension)' })
    .option('tag-separator', { type: 'string', default: d.tagSeparator, describe: 'Separator of tags inside a CSV cell' })
    .option('max-tag-length', { type: 'number', default: d.maxTagLength, describe: 'Longest tag accepted' })
    .option('read', { type: 'boolean', default: d.read, describe: 'Read current tags first; --no-read sends set/clear rules blind (no skip, no undo)' });
}

function apiOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return y
    .option('api-key-file', { type: 'string', describe: 'File holding the API key (default: $REIMAGE_API_KEY)' })
    .option('base-url', { type: 'string', describe: 'API base URL (https, or http on loopback only)' })
    .option('concurrency', { type: 'number', default: d.concurrency, describe: 'Requests in flight at most' })
    .option('rate', { type: 'string', default: d.rate, describe: 'Requests per second (reads + writes), or "auto"' })
    .option('retries', { type: 'number', default: d.retries, describe: 'Retries after the first attempt' })
    .option('timeout', { type: 'number', default: d.timeout, describe: 'Request timeout, seconds' })
    .option('max-retry-after', { type: 'number', default: d.maxRetryAfter, describe: 'Longest Retry-After honoured, seconds' })
    .option('log-level', { type: 'string', default: d.logLevel, choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] })
    .option('log-file', { type: 'string', describe: 'Write JSON logs here instead of stderr' });
}

function runOptions<T>(y: Argv<T>, d: Defaults = RUN_DEFAULTS) {
  return apiOptions(manifestOptions(y, d), d)
    .option('page-size', { type: 'number', default: d.pageSize, describe: 'Page size asked of GET /get/' })
    .option('out', { type: 'string', describe: 'Run directory (default retag-runs/<UTC timestamp>/)' })
    .option('skip-invalid', { type: 'boolean', default: d.skipInvalid, describe: 'Run the valid rules; write the bad ones to rejects.ndjson' })
    .option('max-failures', { type: 'string', describe: 'Abort (exit 3) past N failed items, or N%' })
    .option('resume', { type: 'string', describe: 'Continue the run recorded in this run directory' })
    .option('verify', { type: 'boolean', default: d.verify, describe: 'After the run, re-read the changed images and report drift (drift.ndjson)' });
}

type Parsed = Record<string, unknown>;

function apiFromArgv(argv: Parsed) {
  return {
    ...(argv.baseUrl !== undefined ? { baseUrl: String(argv.baseUrl) } : {}),
    ...(argv.apiKeyFile !== undefined ? { apiKeyFile: String(argv.apiKeyFile) } : {}),
    concurrency: positiveInt('concurrency', argv.concurrency, { max: 256 }),
    rate: parseRate(argv.rate),
    retry: {
      retries: positiveInt('retries', argv.retries, { min: 0, max: 100 }),
      baseDelayMs: 250,
      maxDelayMs: 30_000,
      maxRetryAfterMs: seconds('max-retry-after', argv.maxRetryAfter),
    },
    timeoutMs: seconds('timeout', argv.timeout),
    logLevel: String(argv.logLevel),
    ...(argv.logFile !== undefined ? { logFile: String(argv.logFile) } : {}),
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
  };
}

function runFromArgv(argv: Parsed, dryRun: boolean) {
  const maxFailures = parseBudget(argv.maxFailures);
  if (dryRun && argv.resume !== undefined) {
    // A plan writes nothing: it must not rewrite the reports of the run it would "resume".
    throw new UsageError('--resume continues a run; a plan (or --dry-run) writes nothing to resume: drop one of them');
  }
  return {
    ...apiFromArgv(argv),
    ...manifestFromArgv(argv),
    manifest: String(argv.manifest),
    read: argv.read !== false,
    pageSize: positiveInt('page-size', argv.pageSize, { max: 10_000 }),
    dryRun,
    skipInvalid: Boolean(argv.skipInvalid),
    verify: Boolean(argv.verify),
    ...(maxFailures ? { maxFailures } : {}),
    ...(argv.out !== undefined ? { out: String(argv.out) } : {}),
    ...(argv.resume !== undefined ? { resume: String(argv.resume) } : {}),
  };
}

export function buildParser(argv: string[], select: (command: Command) => void) {
  return yargs(argv)
    .scriptName('retag')
    .usage('$0 <command> [options]\n\nChange the tags of many reimage.dev images at once, safely and as fast as the rate limit allows.')
    .command(
      'run <manifest>',
      'Apply a manifest: read current tags, resolve, write what changed',
      (y) =>
        runOptions(y)
          .positional('manifest', { type: 'string', describe: 'CSV, JSON or NDJSON manifest (or a failures.ndjson)', demandOption: true })
          .option('dry-run', { type: 'boolean', default: false, describe: 'Plan only: read and resolve, write nothing' })
          .example('$0 run tags.csv', 'apply tags.csv at the default 10 requests/s')
          .example('$0 run rules.ndjson --rate 40 --concurrency 8 --max-failures 2%', 'faster, abort if over 2% fail')
          .example('$0 run retag-runs/2026-11-28T01-30-00Z/failures.ndjson', 're-run only what failed')
          .example('$0 run rules.ndjson --resume retag-runs/2026-11-28T01-30-00Z', 'continue an interrupted run'),
      (argv) => {
        const options = runFromArgv(argv as Parsed, Boolean(argv.dryRun));
        select(async (io) => (await import('./commands/run.js')).runCommand(options, io));
      },
    )
    .command(
      'plan <manifest>',
      'Resolve and show the change (images changing, tags added/removed, samples); writes plan.ndjson',
      (y) =>
        runOptions(y)
          .positional('manifest', { type: 'string', demandOption: true })
          .example('$0 plan tags.csv', 'what would change, without writing'),
      (argv) => {
        const options = runFromArgv(argv as Parsed, true);
        select(async (io) => (await import('./commands/run.js')).runCommand(options, io));
      },
    )
    .command(
      'job <job-file>',
      'Run a job definition (manifest + options) under the job\'s lock; flags override the job\'s options',
      (y) =>
        runOptions(y, {})
          .positional('job-file', { type: 'string', describe: 'Job file (JSON, or YAML)', demandOption: true })
          .option('dry-run', { type: 'boolean', describe: 'Plan only' })
          .option('lock-dir', { type: 'string', describe: 'Where job locks live (default $RETAG_LOCK_DIR or <tmp>/retag-locks)' })
          .example('$0 job jobs/nightly-archive.json', 'run the nightly job (exit 4 if it is already running)')
          .example('$0 job jobs/nightly-archive.json --rate 5', 'the same job, slower than the file says'),
      (argv) => {
        const jobFile = String(argv.jobFile);
        const given = argv as Parsed;
        select(async (io) => {
          const { jobCommand } = await import('./commands/job.js');
          return jobCommand(
            jobFile,
            (jobOptions, manifest) => {
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
        apiOptions(y)
          .positional('run-dir', { type: 'string', describe: 'Run directory of the run to undo', demandOption: true })
          .option('page-size', { type: 'number', default: RUN_DEFAULTS.pageSize, describe: 'Page size asked of GET /get/' })
          .option('out', { type: 'string', describe: "The undo's run directory (default retag-runs/<UTC timestamp>/)" })
          .example('$0 undo retag-runs/2026-11-28T01-30-00Z', 'put back what that run replaced')
          .example('$0 undo retag-runs/2026-11-28T02-10-00Z', 'undo the undo (its own run directory)'),
      (argv) => {
        const options = {
          ...apiFromArgv(argv as Parsed),
          runDir: String(argv.runDir),
          pageSize: positiveInt('page-size', argv.pageSize, { max: 10_000 }),
          ...(argv.out !== undefined ? { out: String(argv.out) } : {}),
        };
        select(async (io) => (await import('./commands/undo.js')).undoCommand(options, io));
      },
    )
    .command(
      'export',
      "Write the library's id → tags as NDJSON (a backup; each line a valid set rule, so it restores with `retag run`)",
      (y) =>
        apiOptions(y)
          .option('out', { type: 'string', describe: 'Output file (written atomically); default stdout' })
          .option('page-size', { type: 'number', default: RUN_DEFAULTS.pageSize, describe: 'Page size asked of GET /get/' })
          .example('$0 export --out backup.ndjson', 'back up every image\'s tags before a migration')
          .example('$0 run backup.ndjson', 'restore them'),
      (argv) => {
        const options = {
          ...apiFromArgv(argv as Parsed),
          pageSize: positiveInt('page-size', argv.pageSize, { max: 10_000 }),
          ...(argv.out !== undefined ? { out: String(argv.out) } : {}),
        };
        select(async (io) => (await import('./commands/export.js')).exportCommand(options, io));
      },
    )
    .command(
      'probe',
      'Read page 1 of GET /get/ and show the raw response and how retag reads it (no write)',
      (y) =>
        apiOptions(y)
          .option('page-size', { type: 'number', default: 5, describe: 'Page size asked of GET /get/' })
          .example('$0 probe', 'check that the listing carries ids and tags before a first run'),
      (argv) => {
        const options = { ...apiFromArgv(argv as Parsed), pageSize: positiveInt('page-size', argv.pageSize, { max: 10_000 }) };
        select(async (io) => (await import('./commands/probe.js')).probeCommand(options, io));
      },
    )
    .command(
      'validate <manifest>',
      'Validate a manifest only: no network; streams, so huge files fit in little memory',
      (y) =>
        manifestOptions(y)
          .positional('manifest', { type: 'string', demandOption: true })
          .example('$0 validate tags.csv', 'list every problem with its line, exit 2 if any'),
      (argv) => {
        const options = { ...manifestFromArgv(argv as Parsed), manifest: String(argv.manifest), read: argv.read !== false };
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
          .option('port', { type: 'number', default: 8787, describe: 'Port (0 = any free port)' })
          .option('host', { type: 'string', default: '127.0.0.1', describe: 'Loopback address to bind' })
          .option('seed-file', { type: 'string', describe: 'Seed library (JSON); default fixtures/library.json unless --generate' })
          .option('generate', { type: 'number', describe: 'Generate N images owned by alice (key sk_test_alice)' })
          .option('rate-limit', { type: 'number', default: 0, describe: 'Requests/s per key (token bucket); 0 = unlimited' })
          .option('burst', { type: 'number', describe: 'Token bucket size (default = --rate-limit)' })
          .option('rate-limit-headers', { type: 'boolean', default: false, describe: 'Send RateLimit-* and X-RateLimit-* headers' })
          .option('list-shape', { type: 'string', default: 'object', choices: ['object', 'array', 'images', 'items-nometa'] as const, describe: 'Response shape of GET /get/' })
          .option('max-page-size', { type: 'number', default: 100, describe: 'Cap on page_size (silently)' })
          .option('list-order', {
            type: 'string',
            default: 'id',
            choices: ['id', 'modified-asc', 'modified-desc'] as const,
            describe: 'Order of GET /get/: id (stable), modified-asc (every update moves the image to the end), modified-desc (to the front)',
          })
          .option('page-overlap', { type: 'number', default: 0, describe: 'Pages after the first start N records early (consecutive pages share N; total stays true)' })
          .option('past-end', { type: 'string', default: 'empty', choices: ['empty', '404'] as const, describe: 'Answer to a page after the last: an empty page, or 404' })
          .option('error-rate', { type: 'number', default: 0, describe: 'Share of requests answered 500 (not applied)' })
          .option('fault-after-apply-rate', { type: 'number', default: 0, describe: 'Share of updates applied, then answered 500' })
          .option('drop-rate', { type: 'number', default: 0, describe: 'Share of connections dropped without an answer' })
          .option('busy-rate', { type: 'number', default: 0, describe: 'Share of requests answered 503 with Retry-After' })
          .option('latency', { type: 'number', default: 0, describe: 'Latency per request, ms' })
          .option('jitter', { type: 'number', default: 0, describe: 'Extra uniform latency, up to ms' })
          .option('seed', { type: 'number', default: 1, describe: 'PRNG seed for faults and generated tags' })
          .example('$0 sim --rate-limit 20 --error-rate 0.05', 'rehearse a migration against faults and a 20/s limit')
          .example('REIMAGE_API_KEY=sk_test_alice REIMAGE_BASE_URL=http://127.0.0.1:8787 $0 run tags.csv', 'then, in another shell'),
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
    .demandCommand(1, 'Name a command: run, plan, validate, job, undo, export, probe, sim, demo (see --help)')
    .strict()
    .recommendCommands()
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message, error) => {
      if (error instanceof ExitError) throw error;
      let text = message ?? error?.message ?? 'invalid arguments';
      // recommendCommands' message comes alone, before strict()'s "Unknown argument": name the command.
      const word = argv.find((a) => !a.startsWith('-'));
      if (text.startsWith('Did you mean') && word !== undefined) text = `Unknown command ${JSON.stringify(word)}. ${text}`;
      if (text.startsWith('Not enough non-option arguments') && word !== undefined) {
        text = `the ${word} command is missing its ${word === 'job' ? 'job file' : word === 'undo' ? 'run directory' : 'manifest'} argument`;
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

/** Every secret the process could know, so crash output can be scrubbed of them. */
function knownSecrets(args: string[]): string[] {
  const secrets = [process.env.REIMAGE_API_KEY ?? ''];
  const i = args.findIndex((a) => a === '--api-key-file' || a.startsWith('--api-key-file='));
  if (i >= 0) {
    const file = args[i]!.includes('=') ? args[i]!.slice(args[i]!.indexOf('=') + 1) : args[i + 1];
    try {
      if (file) secrets.push(readFileSync(file, 'utf8').trim());
    } catch {
      /* unreadable: nothing to scrub */
    }
  }
  return secrets.filter((s) => s.length >= 4);
}

function scrub(text: string, secrets: string[]): string {
  return secrets.reduce((t, s) => t.split(s).join('[REDACTED]'), text);
}

async function main(): Promise<number> {
  const args = hideBin(process.argv);
  const listeners = new Set<(signal: 'SIGINT' | 'SIGTERM') => void>();
  let interrupted = false;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interrupted) {
      process.stderr.write(`retag: second ${signal}, exiting at once\n`);
      process.exit(signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm);
    }
    interrupted = true;
    if (listeners.size === 0) process.exit(signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm);
    for (const listener of listeners) listener(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A crash outside the command's own try (a stray rejection, a throw in a callback) still goes
  // through the scrubber: the key must not reach crash output either. Resumable, so exit 3.
  const crash = (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`retag: unexpected error (the run directory, if any, can be resumed):\n${scrub(text, knownSecrets(args))}\n`);
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
    if (!command) return ExitCode.ok; // --help / --version
    return await command(io);
  } catch (error) {
    const secrets = knownSecrets(args);
    if (error instanceof ExitError) {
      process.stderr.write(`retag: ${scrub(error.message, secrets)}\n`);
      if (error.exitCode === ExitCode.badInput && /arguments|Unknown|Missing|Not enough|Name a command/.test(error.message)) {
        process.stderr.write('Run "retag --help" for usage.\n');
      }
      return error.exitCode;
    }
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`retag: unexpected error (the run directory, if any, can be resumed):\n${scrub(text, secrets)}\n`);
    return ExitCode.aborted;
  }
}

process.exitCode = await main();
