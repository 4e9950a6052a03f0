import { extname } from 'node:path';
import { UsageError } from '../errors.js';

export type ManifestFormat = 'csv' | 'json' | 'ndjson';

export const MANIFEST_FORMATS: readonly ManifestFormat[] = ['csv', 'json', 'ndjson'];

export interface ManifestOptions {
  /** Else chosen by extension: .csv, .json, .ndjson/.jsonl. */
  format?: ManifestFormat;
  /** Separator between tags inside a CSV cell. Default `|`. Never a comma (tags are never split on commas). */
  tagSeparator?: string;
  /** Longest tag accepted, in characters. Default 256. */
  maxTagLength?: number;
  /** True under --no-read: a rule with add/remove is a problem (they need the current tags). */
  requireSetOnly?: boolean;
}

/** ManifestOptions with defaults applied and every value checked. */
export interface ResolvedManifestOptions {
  tagSeparator: string;
  maxTagLength: number;
  requireSetOnly: boolean;
}

export const DEFAULT_TAG_SEPARATOR = '|';
export const DEFAULT_MAX_TAG_LENGTH = 256;

/** Defaults first, then every value checked; a bad value is a UsageError naming the flag. */
export function resolveManifestOptions(opts: ManifestOptions = {}): ResolvedManifestOptions {
  const tagSeparator = opts.tagSeparator ?? DEFAULT_TAG_SEPARATOR;
  if (typeof tagSeparator !== 'string' || tagSeparator === '') {
    throw new UsageError(`--tag-separator must be a non-empty string, got ${JSON.stringify(tagSeparator)}`);
  }
  if (tagSeparator.includes(',')) {
    throw new UsageError(
      `--tag-separator cannot contain a comma (got ${JSON.stringify(tagSeparator)}): tags are never split on commas`,
    );
  }
  const maxTagLength = opts.maxTagLength ?? DEFAULT_MAX_TAG_LENGTH;
  if (!Number.isSafeInteger(maxTagLength) || maxTagLength < 1) {
    throw new UsageError(`--max-tag-length must be a whole number of at least 1, got ${String(maxTagLength)}`);
  }
  return { tagSeparator, maxTagLength, requireSetOnly: opts.requireSetOnly === true };
}

/** The manifest format: `explicit` (--format) wins, else the file's extension (case-insensitive). */
export function detectFormat(file: string, explicit?: ManifestFormat): ManifestFormat {
  if (explicit !== undefined) {
    if (!MANIFEST_FORMATS.includes(explicit)) {
      throw new UsageError(`--format must be one of ${MANIFEST_FORMATS.join(', ')}, got ${JSON.stringify(explicit)}`);
    }
    return explicit;
  }
  const ext = extname(file).toLowerCase();
  switch (ext) {
    case '.csv':
      return 'csv';
    case '.json':
      return 'json';
    case '.ndjson':
    case '.jsonl':
      return 'ndjson';
    default:
      throw new UsageError(
        `cannot tell the format of manifest ${file} from its extension ${ext === '' ? '(none)' : JSON.stringify(ext)}: ` +
          `name it .csv, .json, .ndjson or .jsonl, or pass --format csv|json|ndjson`,
      );
  }
}
