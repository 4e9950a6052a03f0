// Pure ASCII needs no Unicode normalisation: the common case stays a regex test and a trim.
const NON_ASCII = /[^\x00-\x7f]/;

/** One tag in its normal form: Unicode NFC, then trimmed (design.md §2). May be ''. */
export function normalizeTag(raw: string): string {
  return (NON_ASCII.test(raw) ? raw.normalize('NFC') : raw).trim();
}

/**
 * Tag normalisation (design.md §2): NFC, trim, drop empties, drop duplicates (case-sensitive),
 * keep order.
 */
export function normalizeTags(tags: Iterable<string>): string[] {
  const seen = new Set<string>();
  for (const raw of tags) {
    const tag = normalizeTag(raw);
    if (tag !== '') seen.add(tag);
  }
  return [...seen];
}

/** Two tag lists are equal when they hold the same members, whatever their order. */
export function sameTags(a: readonly string[], b: readonly string[]): boolean {
  const setA = new Set(a);
  const setB = new Set(b);
  if (setA.size !== setB.size) return false;
  for (const t of setB) if (!setA.has(t)) return false;
  return true;
}

/**
 * Code point order of two distinct tags: the tie-break of every "most used first" list.
 * Stryker: < and <=, > and >= agree on distinct tags, and V8's sort reads a comparator only as
 * "below 0 or not", so answering 0 instead of 1 sorts the same; the order itself is tested.
 */
// Stryker disable next-line EqualityOperator,ConditionalExpression: equivalent (see above)
export const byTag = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
