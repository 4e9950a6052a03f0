import { RuleSet } from '../plan/rule-set.js';
import type { Target } from '../plan/types.js';
import type { ManifestProblem, Rule } from './types.js';
import { detectFormat, resolveManifestOptions, type ManifestOptions } from './options.js';
import { readCsvRules } from './read-csv.js';
import { readJsonRules } from './read-json.js';
import { readNdjsonRules } from './read-ndjson.js';
import type { ManifestItem } from './source.js';

export const EMPTY_MANIFEST = 'manifest is empty';

/**
 * Streams records in file order: each item is either a validated Rule (with .source) or a
 * problem. Memory is O(1) in the file size for NDJSON and CSV (JSON is parsed whole). A file
 * with no rule and no problem yields one problem, "manifest is empty". Bad options, an unknown
 * extension or an unreadable file throw a UsageError on the first iteration.
 */
export async function* readRules(
  file: string,
  opts: ManifestOptions = {},
): AsyncGenerator<{ rule: Rule } | { problem: ManifestProblem }> {
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
    any = true;
    yield item;
  }
  if (!any) yield { problem: { source: { file }, message: EMPTY_MANIFEST } };
}

export interface LoadedManifest {
  file: string;
  /** Every valid rule, compiled for composition in file order. */
  rules: RuleSet;
  /** Id rules composed per id, in first-seen order (empty when the manifest has library-wide rules). */
  targets: Target[];
  ruleCount: number;
  problems: ManifestProblem[];
}

/**
 * Reads the whole manifest, composes the rules per id in file order and collects every problem.
 * An empty manifest has one problem, "manifest is empty".
 */
export async function loadManifest(file: string, opts: ManifestOptions = {}): Promise<LoadedManifest> {
  const rules = new RuleSet();
  const problems: ManifestProblem[] = [];
  let ruleCount = 0;
  for await (const item of readRules(file, opts)) {
    if ('rule' in item) {
      rules.add(item.rule);
      ruleCount++;
    } else {
      problems.push(item.problem);
    }
  }
  const targets: Target[] = [];
  if (!rules.libraryWide) for (const id of rules.ids()) targets.push({ id, op: rules.idOp(id)! });
  return { file, rules, targets, ruleCount, problems };
}

export interface ValidationReport {
  file: string;
  ruleCount: number;
  problemCount: number;
  /** The first MAX_REPORTED_PROBLEMS problems. */
  problems: ManifestProblem[];
}

export const MAX_REPORTED_PROBLEMS = 1000;

/** For `retag validate`: streams and keeps no rules, only the first 1000 problems and a count. */
export async function validateManifest(file: string, opts: ManifestOptions = {}): Promise<ValidationReport> {
  const problems: ManifestProblem[] = [];
  let ruleCount = 0;
  let problemCount = 0;
  for await (const item of readRules(file, opts) as AsyncGenerator<ManifestItem>) {
    if ('rule' in item) ruleCount++;
    else {
      problemCount++;
      if (problems.length < MAX_REPORTED_PROBLEMS) problems.push(item.problem);
    }
  }
  return { file, ruleCount, problemCount, problems };
}
