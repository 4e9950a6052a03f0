/**
 * NDJSON manifests: one rule per line, blank lines ignored. Streamed piece by piece, so memory
 * does not grow with the file; a line longer than MAX_LINE_BYTES is one problem and is read past,
 * not held. A line that is not JSON, or not valid text in the file's encoding, is a problem of its
 * own; the other lines are still read and validated.
 */
import { decodeManifest } from './decode.js';
import { describeJsonError, findDuplicateKeys, visibleJson } from './json-scan.js';
import type { ResolvedManifestOptions } from './options.js';
import { openManifestInput, type ManifestItem } from './source.js';
import { checkRuleObject } from './validate-rule.js';

/** The longest NDJSON line, in bytes (the bound of a CSV record, 4 MiB). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

const LINE_BREAK = /\r\n|\r|\n/;
const NESTED_KEYS: ReadonlySet<string> = new Set(['rename', 'where']);

export async function* readNdjsonRules(
  file: string,
  opts: ResolvedManifestOptions,
  maxLineBytes = MAX_LINE_BYTES,
): AsyncGenerator<ManifestItem> {
  const input = await openManifestInput(file, opts);
  const name = input.name;
  // Lines announced by the decoder as unreadable (not valid text, or too long), before their text.
  const bad = new Map<number, string>();
  let first = true;
  try {
    for await (const piece of decodeManifest(input.bytes, opts.codec, { maxLineBytes })) {
      if (!('text' in piece)) {
        bad.set(piece.badLine, piece.message);
        continue;
      }
      const lines = piece.text.split(LINE_BREAK);
      // Every piece but the last ends with a line break: the empty string after it is no line.
      if (lines[lines.length - 1] === '') lines.pop();
      for (let i = 0; i < lines.length; i++) {
        const text = lines[i]!;
        const lineNo = piece.firstLine + i;
        const source = { file: name, line: lineNo };
        const unreadable = bad.get(lineNo);
        if (unreadable !== undefined) {
          bad.delete(lineNo);
          first = false;
          yield { problem: text === '' ? { source, message: unreadable } : { source, message: unreadable, raw: text } };
          continue;
        }
        if (text.trim() === '') continue;
        const isFirst = first;
        first = false;
        const result = checkLine(text, source, isFirst, opts);
        if (Array.isArray(result)) yield* result;
        else yield result;
      }
    }
    // (The decoder announces a line only before its text: none should be left.)
    for (const [line, message] of bad) yield { problem: { source: { file: name, line }, message } };
  } finally {
    input.close();
  }
}

/**
 * False when `text` (which parsed to `value`) cannot hold a repeated key where findDuplicateKeys
 * looks (the top level, and the objects under rename/where): it has no backslash, so each key
 * is spelled in it literally, `"key"`, and each top-level key's spelling occurs in it once only.
 * Any doubt (an escape, a spelling seen twice, even as a value, an array, a nested rename/where
 * object) says true, and the line is scanned.
 */
function mayRepeatKeys(text: string, value: object): boolean {
  if (Array.isArray(value) || text.includes('\\')) return true;
  for (const key in value) {
    const inner = (value as Record<string, unknown>)[key];
    if (NESTED_KEYS.has(key) && typeof inner === 'object' && inner !== null) return true;
    const spelled = `"${key}"`;
    const at = text.indexOf(spelled);
    if (at === -1 || text.indexOf(spelled, at + 1) !== -1) return true;
  }
  return false;
}

/** One line's rule, or its problems (an array; not a generator: this runs once per line). */
function checkLine(
  text: string,
  source: { file: string; line: number },
  isFirst: boolean,
  opts: ResolvedManifestOptions,
): ManifestItem | ManifestItem[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // A pretty-printed JSON file fed as NDJSON fails on its first line: say so once.
    const hint =
      isFirst && /^\s*[[{]\s*$/.test(text) ? ' (NDJSON holds one rule per line; for a JSON file use .json or --format json)' : '';
    return { problem: { source, message: describeJsonError(error, text).message + hint, raw: text } };
  }
  const result = checkRuleObject(value, source, opts);
  // JSON.parse keeps the last of duplicate keys; only worth scanning a line holding a rule.
  const duplicates = typeof value === 'object' && value !== null && mayRepeatKeys(text, value) ? findDuplicateKeys(text, 1, NESTED_KEYS) : [];
  if (duplicates.length === 0) return Array.isArray(result) ? result.map((problem) => ({ problem })) : { rule: result };
  const items: ManifestItem[] = duplicates.map(({ key, within }) => ({
    problem: {
      source: within === undefined ? source : { ...source, path: within },
      message: `duplicate key ${visibleJson(key)}: JSON keeps only the last one`,
      raw: value,
    },
  }));
  if (Array.isArray(result)) for (const problem of result) items.push({ problem });
  return items;
}
