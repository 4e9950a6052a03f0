/**
 * What a manifest holds once read and validated (design.md §2): rules with their source
 * location, and problems. Tag lists are normalised (NFC, trimmed, no empties, no duplicates,
 * order kept).
 */

/** Where a rule came from, for error messages: `file:line` (CSV/NDJSON) or `file:$[3]` (JSON). */
export interface SourceLocation {
  file: string;
  /** 1-based line number (CSV: the record's first line; NDJSON: the line). */
  line?: number;
  /** JSON path such as `$[3]` or `$["abc"]`. */
  path?: string;
}

/**
 * A library-wide selector: every image whose tags (at that point of the composition) satisfy all
 * the given keys. `{}` selects every image.
 */
export interface Where {
  /** Has this tag. */
  tag?: string;
  /** Has every one of these. */
  all?: string[];
  /** Has at least one of these. */
  any?: string[];
  /** Has none of these. */
  none?: string[];
  /** Its id starts with this. */
  id_prefix?: string;
  /** true: has no tags. */
  untagged?: boolean;
}

/** The operations of a rule, applied in the order clear, set, rename, add, remove. */
export interface RuleOps {
  clear?: boolean;
  set?: string[];
  /** old → new, applied at once (so `{a: b, b: a}` swaps); new keeps old's position. */
  rename?: Record<string, string>;
  add?: string[];
  remove?: string[];
}

/**
 * One validated rule as written in a manifest: it names its image with `id`, or selects images
 * with `where` (a library-wide rule), never both. At least one operation is present.
 */
export interface Rule extends RuleOps {
  id?: string;
  where?: Where;
  source?: SourceLocation;
}

/** A rule that names its image. */
export type IdRule = Rule & { id: string };

/** A rejected manifest record (written to rejects.ndjson with --skip-invalid). */
export interface ManifestProblem {
  source: SourceLocation;
  message: string;
  /** The raw record, when one could be parsed. */
  raw?: unknown;
}

/** A warning about a manifest that is valid but probably not what was meant (logged once). */
export interface ManifestWarning {
  source: SourceLocation;
  message: string;
}
