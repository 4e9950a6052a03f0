import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { UsageError } from '../errors.js';
import { assertNoProblems, formatProblem, loadManifest } from '../manifest/index.js';
import type { RuleSet } from '../plan/rule-set.js';
import { formatLocation, writeRejects, type PlanHeader } from '../report/run-dir.js';
import { ruleSource } from '../runner/sources.js';
import { manifestReadOptions, type CommandIO, type ManifestReadOptions } from './common.js';
import { executeRun, type WriteOptions } from './execute.js';

export interface RunCommandOptions extends WriteOptions, ManifestReadOptions {
  manifest: string;
  skipInvalid: boolean;
  /** Name shown in the summary (`run`, `plan`, `job <name>`). */
  command?: string;
}

/**
 * `retag run` (and `plan`, which is `run --dry-run` with a plan report, and `job`).
 * The manifest is validated whole before the first request; then its rules are a source of
 * items for the one engine.
 */
export async function runCommand(options: RunCommandOptions, io: CommandIO): Promise<number> {
  const manifest = await loadManifest(options.manifest, { ...manifestReadOptions(options), requireSetOnly: !options.read });
  if (manifest.problems.length > 0 && !options.skipInvalid) assertNoProblems(options.manifest, manifest.problems);
  if (manifest.ruleCount === 0) throw new UsageError(`${manifest.name}: no valid rules to apply`);
  return runRules(manifest.rules, options, io, {
    input: manifest.name,
    prepare: async (runDir, logger) => {
      for (const w of manifest.warnings) logger.warn({ at: formatLocation(w.source) }, `${formatLocation(w.source)}: ${w.message}`);
      if (manifest.problems.length === 0) return;
      await writeRejects(runDir, manifest.problems);
      for (const p of manifest.problems) logger.warn({ problem: formatProblem(p) }, 'rule rejected (--skip-invalid)');
    },
    ...(manifest.problems.length > 0 ? { rejected: manifest.problems.length } : {}),
  });
}

/** Run a compiled rule set through the engine (run, job, rename, strip). */
export async function runRules(
  rules: RuleSet,
  options: WriteOptions & { command?: string },
  io: CommandIO,
  extra: { input: string; prepare?: (runDir: string, logger: import('pino').Logger) => Promise<void>; rejected?: number; sha256?: string | null; resumeCommand?: string },
): Promise<number> {
  const command = options.command ?? (options.dryRun ? 'plan' : 'run');
  const planHeader: PlanHeader = {
    retag_plan: 1,
    created: new Date().toISOString(),
    manifest: extra.input,
    manifest_sha256: extra.sha256 !== undefined ? extra.sha256 : await sha256Of(extra.input),
  };
  return executeRun(
    {
      command,
      input: extra.input,
      source: ruleSource(rules, rules.writableTags()),
      options,
      rules: rules.whereRules,
      planHeader,
      ...(extra.prepare ? { prepare: extra.prepare } : {}),
      ...(extra.resumeCommand ? { resumeCommand: extra.resumeCommand } : {}),
      ...(extra.rejected ? { summaryExtra: { rejected: extra.rejected } } : {}),
    },
    io,
  );
}

/** The manifest's SHA-256 (a plan records what it was made from); null when it is not a file. */
async function sha256Of(file: string): Promise<string | null> {
  if (file === '-') return null;
  try {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return null;
  }
}
