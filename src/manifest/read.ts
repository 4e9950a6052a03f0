import { UsageError } from '../errors.js';
import { RuleSet } from '../plan/rule-set.js';
import type { Target } from '../plan/types.js';
import type { ManifestProblem, ManifestWarning, Rule } from './types.js';
import { detectFormat, manifestDisplayName, resolveManifestOptions, type ManifestOptions } from './options.js';
import { readCsvRules } from './read-csv.js';
import { readJsonRules } from './read-json.js';
import { readNdjsonRules } from './read-ndjson.js';
import type { ManifestItem, RuleOrProblem } from './source.js';

export const EMPTY_MANIFEST = 'manifest is empty';

/**
 * Streams records in file order: each item a validated Rule (with .source), a problem, or a
 * warning. Memory is O(1) in the file size for NDJSON and CSV (JSON is parsed whole). A file with
 * no rule and no problem yields one problem, "manifest is empty". Bad options, an unknown
 * extension, `-` without a format, or an unreadable file throw a UsageError on the first
 * iteration. `-` reads standard input (`opts.stdin`, else process.stdin).
 */
export async function* readManifestItems(file: string, opts: ManifestOptions = {}): AsyncGenerator<ManifestItem> {
  // Never standard input by accident (an unset variable in a cron line): `-` says it.
  if (file === '') throw new UsageError('the manifest path is empty (to read standard input, pass -)');
  const format = detectFormat(file, opts.format);
  const resolved = resolveManifestOptions(opts);
  const items =
    format === 'csv'
      ? readCsvRules(file, resolved)
      : format === 'json'
        ? readJsonRules(file, resolved)
        : readNdjsonRules(file, resolved);
  let any = false;
  for await (const item of items) {
    if (!('warning' in item)) any = true;
    yield item;
  }
  if (!any) yield { problem: { source: { file: manifestDisplayName(file) }, message: EMPTY_MANIFEST } };
}

/**
 * readManifestItems without the warnings, which go to `opts.onWarning` (when given): each item a
 * validated Rule or a problem, as this function always yielded.
 */
export async function* readRules(file: string, opts: ManifestOptions = {}): AsyncGenerator<RuleOrProblem> {
  for await (const item of readManifestItems(file, opts)) {
    if ('warning' in item) opts.onWarning?.(item.warning);
    else yield item;
  }
}

export interface LoadedManifest {
  /** The path as given (`-` for standard input). */
  file: string;
  /** The manifest as messages name it: the path, or `<stdin>`. */
  name: string;
  /** Every valid rule, compiled for composition in file order (id and library-wide rules). */
  rules: RuleSet;
  /** The id rules alone composed per id, in first-seen order (library-wide rules are in `rules`). */
  targets: Target[];
  /** Every valid rule read, id rules and library-wide rules. */
  ruleCount: number;
  /** The library-wide (`where`) rules, in file order, each with its source. */
  libraryRules: Rule[];
  problems: ManifestProblem[];
  /** Valid, but probably not what was meant; for the command to log. */
  warnings: ManifestWarning[];
}

/**
 * Reads the whole manifest, composes the rules per id in file order and collects every problem
 * and warning. An empty manifest has one problem, "manifest is empty".
 */
export async function loadManifest(file: string, opts: ManifestOptions = {}): Promise<LoadedManifest> {
  const rules = new RuleSet();
  const problems: ManifestProblem[] = [];
  const warnings: ManifestWarning[] = [];
  const libraryRules: Rule[] = [];
  let ruleCount = 0;
  for await (const item of readManifestItems(file, opts)) {
    if ('rule' in item) {
      rules.add(item.rule);
      ruleCount++;
      if (item.rule.where !== undefined) libraryRules.push(item.rule);
    } else if ('problem' in item) {
      problems.push(item.problem);
    } else {
      warnings.push(item.warning);
      opts.onWarning?.(item.warning);
    }
  }
  return {
    file,
    name: manifestDisplayName(file),
    rules,
    // Computed when asked (tests, tools): a run never needs a second copy of a million targets.
    get targets(): Target[] {
      const targets: Target[] = [];
      for (const id of rules.ids()) targets.push({ id, op: rules.idOp(id)! });
      return targets;
    },
    ruleCount,
    libraryRules,
    problems,
    warnings,
  };
}

export interface ValidationReport {
  file: string;
  /** The manifest as messages name it: the path, or `<stdin>`. */
  name: string;
  ruleCount: number;
  problemCount: number;
  /** The first MAX_REPORTED_PROBLEMS problems. */
  problems: ManifestProblem[];
  warnings: ManifestWarning[];
}

export const MAX_REPORTED_PROBLEMS = 1000;

/** For `retag validate`: streams and keeps no rules, only the first 1000 problems, a count and the warnings. */
export async function validateManifest(file: string, opts: ManifestOptions = {}): Promise<ValidationReport> {
  const problems: ManifestProblem[] = [];
  const warnings: ManifestWarning[] = [];
  let ruleCount = 0;
  let problemCount = 0;
  for await (const item of readManifestItems(file, opts)) {
    if ('rule' in item) ruleCount++;
    else if ('problem' in item) {
      problemCount++;
      if (problems.length < MAX_REPORTED_PROBLEMS) problems.push(item.problem);
    } else {
      warnings.push(item.warning);
      opts.onWarning?.(item.warning);
    }
  }
  return { file, name: manifestDisplayName(file), ruleCount, problemCount, problems, warnings };
}
