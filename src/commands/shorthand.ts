import { UsageError } from '../errors.js';
import { tagProblem } from '../manifest/index.js';
import type { Rule } from '../manifest/types.js';
import { normalizeTags } from '../plan/normalize.js';
import { RuleSet } from '../plan/rule-set.js';
import { shellQuote } from '../report/human.js';
import type { CommandIO } from './common.js';
import type { WriteOptions } from './execute.js';
import { runRules } from './run.js';

interface ShorthandOptions extends WriteOptions {
  maxTagLength: number;
}

/** A tag given on the command line, normalised like a manifest's, or exit 2 naming the argument. */
function argTag(what: string, raw: string, maxTagLength: number): string {
  const [tag] = normalizeTags([raw]);
  if (tag === undefined) throw new UsageError(`${what} is empty`);
  const problem = tagProblem(tag, { maxTagLength });
  if (problem !== undefined) throw new UsageError(`${what}: ${problem}`);
  return tag;
}

function oneRule(rule: Rule, label: string): RuleSet {
  const rules = new RuleSet();
  rules.add({ ...rule, source: { file: 'command line', path: label } });
  return rules;
}

/**
 * `retag rename <from> <to>`: the library-wide rule "every image tagged from carries to
 * instead" ({"where": {"tag": from}, "rename": {from: to}}), through the same engine as `run`.
 */
export async function renameCommand(options: ShorthandOptions & { from: string; to: string }, io: CommandIO): Promise<number> {
  if (!options.read) throw new UsageError('rename reads the library to find the images tagged <from>: drop --no-read');
  const from = argTag('<from>', options.from, options.maxTagLength);
  const to = argTag('<to>', options.to, options.maxTagLength);
  if (from === to) throw new UsageError(`<from> and <to> are the same tag (${JSON.stringify(from)}): nothing to rename`);
  const rules = oneRule({ where: { tag: from }, rename: { [from]: to } }, 'rename');
  return runRules(rules, { ...options, command: 'rename' }, io, { input: `rename ${from} ${to}`, sha256: null, resumeCommand: `retag rename ${shellQuote(from)} ${shellQuote(to)}` });
}

/** `retag strip <tag>...`: remove these tags from every image that has any of them. */
export async function stripCommand(options: ShorthandOptions & { tags: string[] }, io: CommandIO): Promise<number> {
  if (!options.read) throw new UsageError('strip reads the library to find the images carrying the tags: drop --no-read');
  const tags = normalizeTags(options.tags.map((t, i) => argTag(`tag ${i + 1}`, t, options.maxTagLength)));
  if (tags.length === 0) throw new UsageError('strip needs at least one tag');
  const rules = oneRule({ where: { any: tags }, remove: tags }, 'strip');
  return runRules(rules, { ...options, command: 'strip' }, io, { input: `strip ${tags.join(' ')}`, sha256: null, resumeCommand: `retag strip ${tags.map(shellQuote).join(' ')}` });
}
