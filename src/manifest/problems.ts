import { UsageError } from '../errors.js';
import { manifestDisplayName } from './options.js';
import type { ManifestProblem } from './types.js';

/**
 * One problem as a line for people: `manifest.csv:17: id is empty`, `m.json:$[3].add[1]: tag is
 * not a string`, `m.ndjson:5: add[1]: tag is not a string`. The file is shown as the user gave it.
 */
export function formatProblem(p: ManifestProblem): string {
  const { file, line, path } = p.source;
  if (line !== undefined && path !== undefined) return `${file}:${line}: ${path}: ${p.message}`;
  if (line !== undefined) return `${file}:${line}: ${p.message}`;
  if (path !== undefined) return `${file}:${path}: ${p.message}`;
  return `${file}: ${p.message}`;
}

export const MAX_MESSAGE_PROBLEMS = 50;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Throws a UsageError (exit 2) listing every problem, at most MAX_MESSAGE_PROBLEMS lines and then
 * "... and N more problems". `total` is the full count when `problems` holds only the first ones.
 * `file` is the path as given (`-` is shown as `<stdin>`).
 */
export function assertNoProblems(file: string, problems: ManifestProblem[], total = problems.length): void {
  const count = Math.max(total, problems.length);
  if (count === 0) return;
  const shown = problems.slice(0, MAX_MESSAGE_PROBLEMS).map(formatProblem);
  const lines = [`${manifestDisplayName(file)}: ${plural(count, 'problem')} in the manifest:`, ...shown.map((l) => `  ${l}`)];
  if (count > shown.length) lines.push(`  ... and ${plural(count - shown.length, 'more problem')}`);
  throw new UsageError(lines.join('\n'));
}
