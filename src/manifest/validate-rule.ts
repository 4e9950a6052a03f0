/**
 * Rule validation shared by the JSON and NDJSON readers (and by anything else that reads rules
 * as JSON values, such as job files). Hand-written rather than zod: the messages must name the
 * exact key or tag, and NDJSON runs this a million times.
 */
import { normalizeTags } from '../plan/normalize.js';
import type { ManifestProblem, Rule, SourceLocation } from './types.js';
import { resolveManifestOptions, type ManifestOptions, type ResolvedManifestOptions } from './options.js';

export const MAX_ID_LENGTH = 256;

export const RULE_KEYS = ['id', 'clear', 'set', 'add', 'remove'] as const;
const OPERATION_KEYS = ['clear', 'set', 'add', 'remove'] as const;
// Operations first: a typo is likelier in a list key ("ad" means "add", not "id").
const SUGGESTED_KEYS = ['add', 'remove', 'set', 'clear', 'id'];
const LIST_KEYS = ['set', 'add', 'remove'] as const;
type ListKey = (typeof LIST_KEYS)[number];

// \p{Cc}: C0 controls, DEL and C1 controls.
const CONTROL = /\p{Cc}/u;
const WHITESPACE = /\s/u;
const ID_FORBIDDEN = /[/?#%]/;
const REPLACEMENT_CHAR = '\uFFFD';

/** A value quoted for a message, cut short when long. */
export function quote(value: string, max = 60): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

/** What a non-conforming value is, for messages: `a number (17)`, `null`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `a string (${quote(value, 30)})`;
    case 'number':
    case 'boolean':
      return `${typeof value === 'number' ? 'a number' : 'a boolean'} (${String(value)})`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function length(s: string): number {
  // Count code points, not UTF-16 units; the fast path avoids the spread for the usual short tag.
  return s.length <= 1 ? s.length : [...s].length;
}

/** Why an image id is unusable, or undefined when it is fine. `id` is a non-empty string. */
export function idProblem(id: string): string | undefined {
  if (id.length > MAX_ID_LENGTH && length(id) > MAX_ID_LENGTH) {
    return `id ${quote(id)} is longer than ${MAX_ID_LENGTH} characters (${length(id)})`;
  }
  const forbidden = ID_FORBIDDEN.exec(id);
  if (forbidden) return `id ${quote(id)} contains ${JSON.stringify(forbidden[0])} (not allowed: / ? # %)`;
  if (CONTROL.test(id)) return `id ${quote(id)} contains a control character`;
  if (WHITESPACE.test(id)) return `id ${quote(id)} contains whitespace`;
  // `.` and `..` would be resolved away as path segments of /update/<id>.
  if (id === '.' || id === '..') return `id ${quote(id)} is not a usable image id`;
  if (id.includes(REPLACEMENT_CHAR)) {
    return `id ${quote(id)} contains U+FFFD (a replacement character): is the file UTF-8?`;
  }
  return undefined;
}

/** Why a tag (already trimmed, non-empty) is unusable, or undefined when it is fine. */
/**
 * A comma is allowed: design.md §2 rejects only control characters and over-long tags, and says
 * tags are never split on commas (a quoted CSV cell "a,b|c" is the tags "a,b" and "c").
 */
export function tagProblem(tag: string, opts: { maxTagLength: number }): string | undefined {
  if (CONTROL.test(tag)) return `tag ${quote(tag)} contains a control character`;
  if (tag.length > opts.maxTagLength && length(tag) > opts.maxTagLength) {
    return `tag ${quote(tag)} is longer than ${opts.maxTagLength} characters (${length(tag)}); see --max-tag-length`;
  }
  if (tag.includes(REPLACEMENT_CHAR)) {
    return `tag ${quote(tag)} contains U+FFFD (a replacement character): is the file UTF-8?`;
  }
  return undefined;
}

/** Checks an id value of unknown type; the message, or undefined when it is a usable id. */
export function idValueProblem(id: unknown): string | undefined {
  if (id === undefined) return 'id is missing';
  if (typeof id !== 'string') return `id must be a string, got ${describeValue(id)}`;
  if (id === '') return 'id is empty';
  return idProblem(id);
}

/** `loc` narrowed to a part of the record: `$[3]` → `$[3].add[1]`; no path (NDJSON line) → `add[1]`. */
export function subLocation(loc: SourceLocation, segment: string): SourceLocation {
  return { ...loc, path: loc.path === undefined ? segment : `${loc.path}.${segment}` };
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** A "did you mean" hint for a misspelt key, or ''. On a tie the earlier candidate wins. */
export function suggestKey(key: string, known: readonly string[]): string {
  const lower = key.toLowerCase();
  if (lower === 'tags' && known.includes('set')) return ' (did you mean "set"?)';
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(lower, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3))
    ? ` (did you mean ${JSON.stringify(best)}?)`
    : '';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Check one tag list. Returns the normalised tags, or undefined when the value is not an array.
 * Non-string and bad tags are reported one by one, each with its own path.
 */
function checkTagList(
  value: unknown,
  key: ListKey,
  loc: SourceLocation,
  opts: ResolvedManifestOptions,
  problems: ManifestProblem[],
  raw: unknown,
): string[] | undefined {
  if (!Array.isArray(value)) {
    const hint = typeof value === 'string' ? ` (write "${key}": [${JSON.stringify(value)}])` : '';
    problems.push({
      source: subLocation(loc, key),
      message: `${key} must be an array of strings, got ${describeValue(value)}${hint}`,
      raw,
    });
    return undefined;
  }
  const tags: string[] = [];
  let hasBad = false;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'string') {
      hasBad = true;
      problems.push({
        source: subLocation(loc, `${key}[${i}]`),
        message: `tag is not a string (got ${describeValue(item)})`,
        raw,
      });
      continue;
    }
    const tag = item.trim();
    if (tag === '') continue;
    const problem = tagProblem(tag, opts);
    if (problem !== undefined) {
      hasBad = true;
      problems.push({ source: subLocation(loc, `${key}[${i}]`), message: problem, raw });
      continue;
    }
    tags.push(tag);
  }
  if (!hasBad && key === 'set' && value.length > 0 && tags.length === 0) {
    // A list of blanks must never wipe an image's tags: clearing is said explicitly.
    problems.push({
      source: subLocation(loc, key),
      message: 'set holds only empty tags; to clear every tag write "set": [] or "clear": true',
      raw,
    });
  }
  return normalizeTags(tags);
}

/**
 * Validate one rule given as a JSON value: `{"id", "clear"?, "set"?, "add"?, "remove"?, "_…"?}`.
 * `loc` locates the rule (`{file, line}` for NDJSON, `{file, path: "$[3]"}` for JSON); problems
 * about a part of it carry a sub-path. Returns the rule (tags normalised, annotations dropped,
 * `source` = loc) or every problem found.
 */
export function checkRuleObject(
  obj: unknown,
  loc: SourceLocation,
  opts: ResolvedManifestOptions,
): Rule | ManifestProblem[] {
  if (!isPlainObject(obj)) {
    return [{ source: loc, message: `a rule must be a JSON object, got ${describeValue(obj)}`, raw: obj }];
  }
  const problems: ManifestProblem[] = [];
  const idMessage = idValueProblem(obj.id);
  if (idMessage !== undefined) problems.push({ source: loc, message: idMessage, raw: obj });

  for (const key of Object.keys(obj)) {
    if (key.startsWith('_') || (RULE_KEYS as readonly string[]).includes(key)) continue;
    problems.push({
      source: loc,
      message: `unknown key ${JSON.stringify(key)}${suggestKey(key, SUGGESTED_KEYS)}; keys starting with "_" are annotations`,
      raw: obj,
    });
  }

  const rule: Rule = { id: obj.id as string };
  let operations = 0;
  if (obj.clear !== undefined) {
    operations++;
    if (obj.clear === true) rule.clear = true;
    else {
      problems.push({
        source: subLocation(loc, 'clear'),
        message: `clear must be true when present, got ${describeValue(obj.clear)} (to keep the tags, leave clear out)`,
        raw: obj,
      });
    }
  }
  for (const key of LIST_KEYS) {
    if (obj[key] === undefined) continue;
    operations++;
    const tags = checkTagList(obj[key], key, loc, opts, problems, obj);
    if (tags !== undefined) rule[key] = tags;
  }
  if (operations === 0) {
    problems.push({
      source: loc,
      message: `rule has no operation: give at least one of ${OPERATION_KEYS.join(', ')}`,
      raw: obj,
    });
  } else if (opts.requireSetOnly && (obj.add !== undefined || obj.remove !== undefined)) {
    problems.push({ source: loc, message: 'add/remove need the current tags; drop --no-read', raw: obj });
  }
  if (problems.length > 0) return problems;
  rule.source = loc;
  return rule;
}

/**
 * Validate one rule given as a JSON value (see checkRuleObject). Options are defaulted and
 * checked on each call; readers that validate many rules resolve them once and call
 * checkRuleObject.
 */
export function validateRuleObject(
  obj: unknown,
  loc: SourceLocation,
  opts: ManifestOptions = {},
): Rule | ManifestProblem[] {
  return checkRuleObject(obj, loc, resolveManifestOptions(opts));
}
