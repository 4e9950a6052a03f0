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
