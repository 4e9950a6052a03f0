/**
 * Rule validation shared by the JSON and NDJSON readers (and by anything else that reads rules
 * as JSON values, such as job files). Hand-written rather than zod: the messages must name the
 * exact key or tag, and NDJSON runs this a million times.
 */
import { normalizeTag } from '../plan/normalize.js';
import { keySegment, visibleJson } from './json-scan.js';
import type { ManifestProblem, Rule, SourceLocation, Where } from './types.js';
import { resolveManifestOptions, type ManifestOptions, type ResolvedManifestOptions } from './options.js';

export const MAX_ID_LENGTH = 256;

export const RULE_KEYS = ['id', 'where', 'clear', 'set', 'rename', 'add', 'remove'] as const;
/** The operations, in the order they apply within one rule. */
export const OPERATION_KEYS = ['clear', 'set', 'rename', 'add', 'remove'] as const;
export const WHERE_KEYS = ['tag', 'all', 'any', 'none', 'id_prefix', 'untagged'] as const;
// Operations first: a typo is likelier in a list key ("ad" means "add", not "id").
const SUGGESTED_KEYS = ['add', 'remove', 'set', 'clear', 'rename', 'where', 'id'];
const LIST_KEYS = ['set', 'add', 'remove'] as const;
const WHERE_LIST_KEYS = ['all', 'any', 'none'] as const;

// \p{Cc}: C0 controls, DEL and C1 controls. \p{Cf}: format characters (zero-width spaces, bidi
// overrides, soft hyphen, BOM…). \p{Cs}: a surrogate that is not half of a pair.
const BAD_CHARACTER = /[\p{Cc}\p{Cf}\p{Cs}]/u;
const CONTROL = /\p{Cc}/u;
const FORMAT = /\p{Cf}/u;
const WHITESPACE = /\s/u;
const ID_FORBIDDEN = /[/?#%]/;
const REPLACEMENT_CHAR = '\uFFFD';

/** `U+200B`: a code point as people write it. */
export function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A value quoted for a message, cut short when long; invisible characters are shown as \uXXXX. */
export function quote(value: string, max = 60): string {
  return visibleJson(value.length > max ? `${value.slice(0, max)}…` : value);
}

/**
 * The first control character, format character (Unicode Cf) or lone surrogate in `s`, described
 * for a message (`U+200B (a format character)`), or undefined when there is none.
 */
export function badCharacter(s: string): string | undefined {
  const match = BAD_CHARACTER.exec(s);
  if (match === null) return undefined;
  const char = match[0];
  const kind = CONTROL.test(char)
    ? 'a control character'
    : FORMAT.test(char)
      ? 'a format character'
      : 'a lone surrogate, which is not valid Unicode';
  return `${codePoint(char)} (${kind})`;
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

/** The checks an id and an id prefix share: length and characters. */
function idTextProblem(what: string, id: string): string | undefined {
  if (id.length > MAX_ID_LENGTH && length(id) > MAX_ID_LENGTH) {
    return `${what} ${quote(id)} is longer than ${MAX_ID_LENGTH} characters (${length(id)})`;
  }
  const forbidden = ID_FORBIDDEN.exec(id);
  if (forbidden) return `${what} ${quote(id)} contains ${JSON.stringify(forbidden[0])} (not allowed: / ? # %)`;
  const bad = badCharacter(id);
  if (bad !== undefined) return `${what} ${quote(id)} contains ${bad}`;
  if (WHITESPACE.test(id)) return `${what} ${quote(id)} contains whitespace`;
  if (id.includes(REPLACEMENT_CHAR)) {
    return `${what} ${quote(id)} contains U+FFFD (a replacement character): is the file UTF-8?`;
  }
  return undefined;
}

/** Why an image id is unusable, or undefined when it is fine. `id` is a non-empty string. */
export function idProblem(id: string): string | undefined {
  const problem = idTextProblem('id', id);
  if (problem !== undefined) return problem;
  // `.` and `..` would be resolved away as path segments of /update/<id>.
  if (id === '.' || id === '..') return `id ${quote(id)} is not a usable image id`;
  return undefined;
}

/**
 * Why a tag (already normalised: NFC, trimmed, non-empty) is unusable, or undefined when it is
 * fine. A comma is allowed: design.md §2 says tags are never split on commas (a quoted CSV cell
 * "a,b|c" is the tags "a,b" and "c").
 */
export function tagProblem(tag: string, opts: { maxTagLength: number }): string | undefined {
  const bad = badCharacter(tag);
  if (bad !== undefined) return `tag ${quote(tag)} contains ${bad}`;
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

/** `rename.key` for plain names, `rename["a b"]` otherwise: a problem's path. */
function keyPath(parent: string, key: string): string {
  return parent + keySegment(key);
}

interface Context {
  loc: SourceLocation;
  opts: ResolvedManifestOptions;
  problems: ManifestProblem[];
  raw: unknown;
}

function report(ctx: Context, path: string | undefined, message: string): void {
  ctx.problems.push({ source: path === undefined ? ctx.loc : subLocation(ctx.loc, path), message, raw: ctx.raw });
}

/**
 * Check one tag list (`set`, `add`, `remove`, `where.any`…). Returns the normalised tags, or
 * undefined when the value is not an array. Non-string and bad tags are reported one by one, each
 * with its own path. `blank` is the count of entries that were empty once trimmed.
 */
function checkTagList(value: unknown, path: string, ctx: Context): { tags: string[]; bad: boolean; blank: number } | undefined {
  const name = path.slice(path.lastIndexOf('.') + 1);
  if (!Array.isArray(value)) {
    const hint = typeof value === 'string' ? ` (write "${name}": [${JSON.stringify(value)}])` : '';
    report(ctx, path, `${path} must be an array of strings, got ${describeValue(value)}${hint}`);
    return undefined;
  }
  const tags: string[] = [];
  let bad = false;
  let blank = 0;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'string') {
      bad = true;
      report(ctx, `${path}[${i}]`, `tag is not a string (got ${describeValue(item)})`);
      continue;
    }
    const tag = normalizeTag(item);
    if (tag === '') {
      blank++;
      continue;
    }
    const problem = tagProblem(tag, ctx.opts);
    if (problem !== undefined) {
      bad = true;
      report(ctx, `${path}[${i}]`, problem);
      continue;
    }
    tags.push(tag);
  }
  return { tags: tags.length > 1 ? [...new Set(tags)] : tags, bad, blank };
}

/** One tag given as a string (`where.tag`); the normalised tag, or undefined after a problem. */
function checkOneTag(value: unknown, path: string, ctx: Context): string | undefined {
  if (typeof value !== 'string') {
    report(ctx, path, `${path} must be a tag (a string), got ${describeValue(value)}`);
    return undefined;
  }
  const tag = normalizeTag(value);
  if (tag === '') {
    report(ctx, path, `${path} is empty: give a tag (to select every image write "where": {})`);
    return undefined;
  }
  const problem = tagProblem(tag, ctx.opts);
  if (problem !== undefined) {
    report(ctx, path, problem);
    return undefined;
  }
  return tag;
}

/** `where`: every key checked; returns the selector with normalised tags, or undefined after a problem. */
function checkWhere(value: unknown, ctx: Context): Where | undefined {
  if (!isPlainObject(value)) {
    report(
      ctx,
      'where',
      `where must be an object such as {"tag": "summer"} ({} selects every image), got ${describeValue(value)}`,
    );
    return undefined;
  }
  const before = ctx.problems.length;
  const where: Where = {};
  for (const key of Object.keys(value)) {
    if ((WHERE_KEYS as readonly string[]).includes(key)) continue;
    report(
      ctx,
      'where',
      `unknown where key ${quote(key)}${suggestKey(key, WHERE_KEYS)}; where takes ${WHERE_KEYS.join(', ')}`,
    );
  }
  if (value.tag !== undefined) {
    const tag = checkOneTag(value.tag, 'where.tag', ctx);
    if (tag !== undefined) where.tag = tag;
  }
  for (const key of WHERE_LIST_KEYS) {
    if (value[key] === undefined) continue;
    const path = `where.${key}`;
    const list = checkTagList(value[key], path, ctx);
    if (list === undefined || list.bad) continue;
    if (list.tags.length === 0) {
      report(
        ctx,
        path,
        `${path} holds no tag: give at least one` + (key === 'all' ? ' (to select every image write "where": {})' : ''),
      );
      continue;
    }
    where[key] = list.tags;
  }
  if (value.id_prefix !== undefined) {
    const prefix = value.id_prefix;
    if (typeof prefix !== 'string') {
      report(ctx, 'where.id_prefix', `where.id_prefix must be a string, got ${describeValue(prefix)}`);
    } else if (prefix === '') {
      report(ctx, 'where.id_prefix', 'where.id_prefix is empty (to select every image write "where": {})');
    } else {
      const problem = idTextProblem('id_prefix', prefix);
      if (problem !== undefined) report(ctx, 'where.id_prefix', problem);
      else where.id_prefix = prefix;
    }
  }
  if (value.untagged !== undefined) {
    if (typeof value.untagged !== 'boolean') {
      report(ctx, 'where.untagged', `where.untagged must be true or false, got ${describeValue(value.untagged)}`);
    } else {
      where.untagged = value.untagged;
    }
  }
  return ctx.problems.length > before ? undefined : where;
}

/** `rename`: old → new, both valid tags once normalised, new ≠ old, each old once. */
function checkRename(value: unknown, ctx: Context): Record<string, string> | undefined {
  if (!isPlainObject(value)) {
    report(
      ctx,
      'rename',
      `rename must be an object mapping old tags to new ones, such as {"old": "new"}, got ${describeValue(value)}`,
    );
    return undefined;
  }
  const before = ctx.problems.length;
  const pairs = new Map<string, string>();
  for (const [rawOld, rawNew] of Object.entries(value)) {
    const path = keyPath('rename', rawOld);
    const from = normalizeTag(rawOld);
    if (from === '') {
      report(ctx, path, 'the tag to rename is empty');
      continue;
    }
    const fromProblem = tagProblem(from, ctx.opts);
    if (fromProblem !== undefined) {
      report(ctx, path, fromProblem);
      continue;
    }
    if (typeof rawNew !== 'string') {
      report(ctx, path, `the new name of ${quote(from)} must be a tag (a string), got ${describeValue(rawNew)}`);
      continue;
    }
    const to = normalizeTag(rawNew);
    if (to === '') {
      report(ctx, path, `the new name of ${quote(from)} is empty: a rename never deletes a tag (to drop it, use remove)`);
      continue;
    }
    const toProblem = tagProblem(to, ctx.opts);
    if (toProblem !== undefined) {
      report(ctx, path, toProblem);
      continue;
    }
    if (to === from) {
      report(ctx, path, `${quote(from)} is renamed to itself: the new name must differ from the old one`);
      continue;
    }
    if (pairs.has(from)) {
      report(ctx, path, `${quote(from)} is renamed twice in this rule (keys equal once trimmed and NFC-normalised)`);
      continue;
    }
    pairs.set(from, to);
  }
  // fromEntries makes own properties even of "__proto__"; read them with Object.entries / Object.hasOwn.
  return ctx.problems.length > before ? undefined : Object.fromEntries(pairs);
}

/** The message for a key that is not a rule key. */
function unknownKeyMessage(key: string): string {
  const hint = (WHERE_KEYS as readonly string[]).includes(key)
    ? ` (did you mean "where": {${JSON.stringify(key)}: …}?)`
    : suggestKey(key, SUGGESTED_KEYS);
  return `unknown key ${quote(key)}${hint}; keys starting with "_" are annotations`;
}

/** Under --no-read, any library-wide rule. */
export const NO_READ_WHERE =
  'a library-wide rule (where) selects images by their current tags, which --no-read does not read; drop --no-read';

export const ID_AND_WHERE = 'a rule names its image with id or selects images with where, not both';

/**
 * Validate one rule given as a JSON value: `{"id" | "where", "clear"?, "set"?, "rename"?, "add"?,
 * "remove"?, "_…"?}`. `loc` locates the rule (`{file, line}` for NDJSON, `{file, path: "$[3]"}`
 * for JSON); problems about a part of it carry a sub-path. Returns the rule (tags normalised,
 * annotations dropped, `source` = loc) or every problem found.
 */
export function checkRuleObject(
  obj: unknown,
  loc: SourceLocation,
  opts: ResolvedManifestOptions,
): Rule | ManifestProblem[] {
  if (!isPlainObject(obj)) {
    return [{ source: loc, message: `a rule must be a JSON object, got ${describeValue(obj)}`, raw: obj }];
  }
  const ctx: Context = { loc, opts, problems: [], raw: obj };
  const rule: Rule = {};
  const hasWhere = obj.where !== undefined;
  if (hasWhere && obj.id !== undefined) {
    report(ctx, undefined, ID_AND_WHERE);
  } else if (hasWhere) {
    const where = checkWhere(obj.where, ctx);
    if (where !== undefined) rule.where = where;
  } else {
    const idMessage = idValueProblem(obj.id);
    if (idMessage !== undefined) report(ctx, undefined, idMessage);
    else rule.id = obj.id as string;
  }

  for (const key of Object.keys(obj)) {
    if (key.startsWith('_') || (RULE_KEYS as readonly string[]).includes(key)) continue;
    report(ctx, undefined, unknownKeyMessage(key));
  }

  let operations = 0;
  if (obj.clear !== undefined) {
    operations++;
    if (obj.clear === true) rule.clear = true;
    else {
      report(
        ctx,
        'clear',
        `clear must be true when present, got ${describeValue(obj.clear)} (to keep the tags, leave clear out)`,
      );
    }
  }
  if (obj.set !== undefined) {
    operations++;
    const list = checkTagList(obj.set, 'set', ctx);
    if (list !== undefined) {
      // A list of blanks must never wipe an image's tags: clearing is said explicitly.
      if (!list.bad && list.blank > 0 && list.tags.length === 0) {
        report(ctx, 'set', 'set holds only empty tags; to clear every tag write "set": [] or "clear": true');
      }
      rule.set = list.tags;
    }
  }
  if (obj.rename !== undefined) {
    operations++;
    const rename = checkRename(obj.rename, ctx);
    if (rename !== undefined) rule.rename = rename;
  }
  for (const key of ['add', 'remove'] as const) {
    if (obj[key] === undefined) continue;
    operations++;
    const list = checkTagList(obj[key], key, ctx);
    if (list !== undefined) rule[key] = list.tags;
  }

  if (operations === 0) {
    report(ctx, undefined, `rule has no operation: give at least one of ${OPERATION_KEYS.join(', ')}`);
  } else if (opts.requireSetOnly) {
    if (obj.add !== undefined || obj.remove !== undefined) {
      report(ctx, undefined, 'add/remove need the current tags; drop --no-read');
    }
    if (obj.rename !== undefined) report(ctx, undefined, 'rename needs the current tags; drop --no-read');
  }
  if (opts.requireSetOnly && hasWhere && obj.id === undefined) report(ctx, undefined, NO_READ_WHERE);
  if (ctx.problems.length > 0) return ctx.problems;
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
