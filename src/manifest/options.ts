import { extname } from 'node:path';
import { UsageError } from '../errors.js';
import { resolveEncoding, type TextCodec } from './decode.js';
import type { ManifestWarning } from './types.js';

export type ManifestFormat = 'csv' | 'json' | 'ndjson';

export const MANIFEST_FORMATS: readonly ManifestFormat[] = ['csv', 'json', 'ndjson'];

/** The manifest path that means standard input. */
export const STDIN_PATH = '-';
/** How standard input is named in messages and locations. */
export const STDIN_NAME = '<stdin>';

/** A byte stream a manifest can be read from (process.stdin, or a stand-in in tests). */
export type ManifestStream = AsyncIterable<Uint8Array | string>;

export interface ManifestOptions {
  /** Else chosen by extension: .csv, .tsv, .json, .ndjson/.jsonl. Required when the path is `-`. */
  format?: ManifestFormat;
  /** Separator between tags inside a CSV cell. Default `|`. Never a comma (tags are never split on commas). */
  tagSeparator?: string;
  /** Longest tag accepted, in characters. Default 256. */
  maxTagLength?: number;
  /**
   * True under --no-read: a rule with add, remove or rename, and any library-wide (`where`) rule,
   * is a problem (they need the current tags).
   */
  requireSetOnly?: boolean;
  /**
   * CSV delimiter (--delimiter): one character; `tab` or `\t` mean a tab. Default: `,`, or `;` or
   * a tab when the header only makes sense split that way; a tab for .tsv files.
   */
  delimiter?: string;
  /** Text encoding (--encoding), a WHATWG label such as `windows-1252` or `latin1`. Default UTF-8. */
  encoding?: string;
  /** What the path `-` reads. Default process.stdin. */
  stdin?: ManifestStream;
  /** readRules hands each warning here (loadManifest and validateManifest collect them). */
  onWarning?: (warning: ManifestWarning) => void;
}

/** ManifestOptions with defaults applied and every value checked. */
export interface ResolvedManifestOptions {
  tagSeparator: string;
  maxTagLength: number;
  requireSetOnly: boolean;
  /** Explicit CSV delimiter (--delimiter, or a tab for .tsv); undefined: detected from the header. */
  delimiter?: string;
  codec: TextCodec;
  stdin?: ManifestStream;
}

export const DEFAULT_TAG_SEPARATOR = '|';
export const DEFAULT_MAX_TAG_LENGTH = 256;
export const DEFAULT_ENCODING = 'utf-8';

/** The CSV delimiter a --delimiter value names, or a UsageError. */
export function parseDelimiter(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new UsageError(`--delimiter must be one character (such as , ; or tab), got ${JSON.stringify(value)}`);
  }
  const named = value.toLowerCase() === 'tab' || value === '\\t' ? '\t' : value;
  if ([...named].length !== 1) {
    throw new UsageError(`--delimiter must be one character (such as , ; or tab), got ${JSON.stringify(value)}`);
  }
  if (named === '"' || named === '\n' || named === '\r') {
    throw new UsageError(`--delimiter cannot be ${JSON.stringify(named)}: it quotes or ends CSV records`);
  }
  return named;
}

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
  const resolved: ResolvedManifestOptions = {
    tagSeparator,
    maxTagLength,
    requireSetOnly: opts.requireSetOnly === true,
    codec: resolveEncoding(opts.encoding ?? DEFAULT_ENCODING),
  };
  if (opts.delimiter !== undefined) {
    const delimiter = parseDelimiter(opts.delimiter);
    if (tagSeparator.includes(delimiter)) {
      throw new UsageError(
        `--delimiter ${JSON.stringify(delimiter)} is also the tag separator: choose another --tag-separator or --delimiter`,
      );
    }
    resolved.delimiter = delimiter;
  }
  if (opts.stdin !== undefined) resolved.stdin = opts.stdin;
  return resolved;
}

/** The manifest as named in messages and problem locations: `<stdin>` for `-`. */
export function manifestDisplayName(file: string): string {
  if (file === STDIN_PATH) return STDIN_NAME;
  return file === '' ? '""' : file;
}

/** The manifest format: `explicit` (--format) wins, else the file's extension (case-insensitive). */
export function detectFormat(file: string, explicit?: ManifestFormat): ManifestFormat {
  if (explicit !== undefined) {
    if (!MANIFEST_FORMATS.includes(explicit)) {
      throw new UsageError(`--format must be one of ${MANIFEST_FORMATS.join(', ')}, got ${JSON.stringify(explicit)}`);
    }
    return explicit;
  }
  if (file === STDIN_PATH) {
    throw new UsageError('reading the manifest from standard input needs --format (csv, json or ndjson)');
  }
  const ext = extname(file).toLowerCase();
  switch (ext) {
    case '.csv':
    case '.tsv':
      return 'csv';
    case '.json':
      return 'json';
    case '.ndjson':
    case '.jsonl':
      return 'ndjson';
    default:
      throw new UsageError(
        `cannot tell the format of manifest ${manifestDisplayName(file)} from its extension ${ext === '' ? '(none)' : JSON.stringify(ext)}: ` +
          `name it .csv, .tsv, .json, .ndjson or .jsonl, or pass --format csv|json|ndjson`,
      );
  }
}

/** The delimiter a CSV manifest's name implies: a tab for .tsv, else none (detected from the header). */
export function delimiterForFile(file: string): string | undefined {
  return file !== STDIN_PATH && extname(file).toLowerCase() === '.tsv' ? '\t' : undefined;
}
