/**
 * NDJSON manifests: one rule per line, blank lines ignored. Streamed line by line, so memory
 * does not grow with the file. A line that is not JSON is a problem of its own; the other lines
 * are still read and validated.
 */
import { createInterface } from 'node:readline';
import { describeJsonError, findDuplicateKeys } from './json-scan.js';
import type { ResolvedManifestOptions } from './options.js';
import { openManifestStream, type ManifestItem } from './source.js';
import { checkRuleObject } from './validate-rule.js';

export async function* readNdjsonRules(file: string, opts: ResolvedManifestOptions): AsyncGenerator<ManifestItem> {
  const input = await openManifestStream(file, 'utf8');
  // readline ends a line at \n, \r\n or a lone \r, like the line numbers of the other readers.
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  let first = true;
  try {
    for await (let text of lines) {
      lineNo++;
      if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') continue;
      const source = { file, line: lineNo };
      const isFirst = first;
      first = false;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        // A pretty-printed JSON file fed as NDJSON fails on its first line: say so once.
        const hint = isFirst && /^\s*[[{]\s*$/.test(text) ? ' (NDJSON holds one rule per line; for a JSON file use .json or --format json)' : '';
        yield { problem: { source, message: describeJsonError(error, text).message + hint, raw: text } };
        continue;
      }
      const result = checkRuleObject(value, source, opts);
      // JSON.parse keeps the last of duplicate keys; only worth scanning a line holding a rule.
      const duplicates = typeof value === 'object' && value !== null ? findDuplicateKeys(text, 1) : [];
      for (const { key } of duplicates) {
        yield { problem: { source, message: `duplicate key ${JSON.stringify(key)}: JSON keeps only the last one`, raw: value } };
      }
      if (Array.isArray(result)) {
        for (const problem of result) yield { problem };
      } else if (duplicates.length === 0) {
        yield { rule: result };
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
}
