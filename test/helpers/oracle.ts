/**
 * An independent implementation of design.md §2 (rules, where, rename, composition in file
 * order, normalisation), written straight from the text, to check the project's plan against.
 *
 * It must stay independent: nothing here imports from src/plan or src/manifest. It applies the
 * rules one by one to a plain tag list, the slow and obvious way:
 * - the current tags are normalised (NFC, trimmed, empties dropped, duplicates dropped keeping
 *   the first), and so are every tag a rule names (in set/add/remove, rename keys and values, and
 *   where lists);
 * - the rules apply in file order: an id rule to its image, a where rule when its selector holds
 *   on the tags at that point (`{}` selects every image);
 * - within one rule: clear, set, rename (every pair at once, the new tag in the old one's
 *   position, duplicates dropped keeping the first position), add (appended when absent), remove.
 */

export interface OracleWhere {
  tag?: string;
  all?: readonly string[];
  any?: readonly string[];
  none?: readonly string[];
  id_prefix?: string;
  untagged?: boolean;
}

/** A rule as a manifest holds it (JSON form); keys starting with `_` are ignored. */
export interface OracleRule {
  id?: string;
  where?: OracleWhere;
  clear?: boolean;
  set?: readonly string[];
  rename?: Readonly<Record<string, string>>;
  add?: readonly string[];
  remove?: readonly string[];
  [annotation: `_${string}`]: unknown;
}

/** One tag in normal form: NFC, then trimmed ('' when blank). */
export function oracleTag(raw: string): string {
  return raw.normalize('NFC').trim();
}

/** A tag list in normal form: each tag normalised, blanks dropped, duplicates dropped (first kept). */
export function oracleTags(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (const r of raw) {
    const t = oracleTag(r);
    if (t !== '' && !out.includes(t)) out.push(t);
  }
  return out;
}

/** Same members, whatever the order (design.md §2: such lists are equal). */
export function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((t) => sb.has(t));
}

/** Does the selector hold for this image with these (normalised) tags? Every given key must. */
export function whereHolds(where: OracleWhere, id: string, tags: readonly string[]): boolean {
  const has = (t: string) => tags.includes(oracleTag(t));
  if (where.tag !== undefined && !has(where.tag)) return false;
  if (where.all !== undefined && !where.all.every(has)) return false;
  if (where.any !== undefined && !where.any.some(has)) return false;
  if (where.none !== undefined && where.none.some(has)) return false;
  if (where.id_prefix !== undefined && !id.startsWith(where.id_prefix)) return false;
  if (where.untagged !== undefined && where.untagged !== (tags.length === 0)) return false;
  return true;
}

/** Does the rule apply to this image at this point of the composition? */
export function ruleApplies(rule: OracleRule, id: string, tags: readonly string[]): boolean {
  return rule.where !== undefined ? whereHolds(rule.where, id, tags) : rule.id === id;
}

/** Rename every pair at once: new in old's position; a tag met again later is dropped. */
export function oracleRename(tags: readonly string[], rename: Readonly<Record<string, string>>): string[] {
  const map = new Map<string, string>();
  for (const [from, to] of Object.entries(rename)) map.set(oracleTag(from), oracleTag(to));
  const out: string[] = [];
  for (const t of tags) {
    const renamed = map.has(t) ? map.get(t)! : t;
    if (!out.includes(renamed)) out.push(renamed);
  }
  return out;
}

/** One rule's operations on (normalised) tags, in the order clear, set, rename, add, remove. */
export function applyRuleOps(tags: readonly string[], rule: OracleRule): string[] {
  let out = [...tags];
  if (rule.clear === true) out = [];
  if (rule.set !== undefined) out = oracleTags(rule.set);
  if (rule.rename !== undefined) out = oracleRename(out, rule.rename);
  if (rule.add !== undefined) for (const t of oracleTags(rule.add)) if (!out.includes(t)) out.push(t);
  if (rule.remove !== undefined) {
    const gone = oracleTags(rule.remove);
    out = out.filter((t) => !gone.includes(t));
  }
  return out;
}

export interface OracleTrace {
  /** The tags after every rule, normalised, in the order the rules leave them. */
  tags: string[];
  /** Indexes (in the rules array) of the rules that applied, in file order. */
  applied: number[];
  /** Indexes, counted among the where rules only, of the where rules that selected the image. */
  matchedWhere: number[];
}

/** Apply the rules in file order to one image, recording which applied. */
export function traceRules(id: string, currentTags: readonly string[], rules: readonly OracleRule[]): OracleTrace {
  let tags = oracleTags(currentTags);
  const applied: number[] = [];
  const matchedWhere: number[] = [];
  let whereIndex = 0;
  rules.forEach((rule, i) => {
    const applies = ruleApplies(rule, id, tags);
    if (rule.where !== undefined) {
      if (applies) matchedWhere.push(whereIndex);
      whereIndex++;
    }
    if (!applies) return;
    applied.push(i);
    tags = applyRuleOps(tags, rule);
  });
  return { tags, applied, matchedWhere };
}

/** What the image's tags must be after the rules (normalised, in order). */
export function expectedTags(id: string, currentTags: readonly string[], rules: readonly OracleRule[]): string[] {
  return traceRules(id, currentTags, rules).tags;
}

/** Whether any rule applies to the image (then it is an item of the run; otherwise it is not). */
export function selected(id: string, currentTags: readonly string[], rules: readonly OracleRule[]): boolean {
  return traceRules(id, currentTags, rules).applied.length > 0;
}

/** Whether the rules change the image: a selected image whose tags end with other members. */
export function changes(id: string, currentTags: readonly string[], rules: readonly OracleRule[]): boolean {
  const trace = traceRules(id, currentTags, rules);
  return trace.applied.length > 0 && !sameMembers(trace.tags, oracleTags(currentTags));
}

/** Per where rule (in file order), how many of these images it selects: summary.json `rules[].matched`. */
export function matchedCounts(
  images: ReadonlyArray<{ id: string; tags: readonly string[] }>,
  rules: readonly OracleRule[],
): number[] {
  const counts = rules.filter((r) => r.where !== undefined).map(() => 0);
  for (const image of images) for (const w of traceRules(image.id, image.tags, rules).matchedWhere) counts[w]!++;
  return counts;
}

/**
 * What a correct run leaves on the image (design.md §2 with §5's "no write when nothing
 * changes"): the rules' result when it has other members than the image's tags, else the tags
 * the image held, untouched (an unselected image, or one whose result only reorders or
 * normalises its tags, is never written).
 */
export function heldAfterRun(id: string, currentTags: readonly string[], rules: readonly OracleRule[]): string[] {
  const trace = traceRules(id, currentTags, rules);
  return trace.applied.length > 0 && !sameMembers(trace.tags, oracleTags(currentTags)) ? trace.tags : [...currentTags];
}

/**
 * The rules of a JSON or NDJSON manifest the tests wrote (a JSON array, or one rule object a
 * line; blank lines skipped). Only for files the tests produce: a line that is not a JSON object
 * fails loudly, since the oracle must never guess what a rule says.
 */
export function parseRules(text: string): OracleRule[] {
  const trimmed = text.trim();
  const rows: unknown[] = trimmed.startsWith('[')
    ? (JSON.parse(trimmed) as unknown[])
    : trimmed.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  return rows.map((row, i) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error(`rule ${i + 1} is not an object: ${JSON.stringify(row)}`);
    return row as OracleRule;
  });
}
