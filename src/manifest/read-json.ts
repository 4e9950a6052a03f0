/**
 * JSON manifests: an array of rules, or an object mapping ids to a tag list (set) or a rule
 * object without (or with the same) id. Parsed whole; problems are located by JSON path.
 */
import type { ManifestProblem, SourceLocation } from './types.js';
import { describeJsonError, findDuplicateKeys, visibleJson } from './json-scan.js';
import type { ResolvedManifestOptions } from './options.js';
import { readManifestText, type ManifestItem } from './source.js';
import { RULE_KEYS, checkRuleObject, describeValue, quote } from './validate-rule.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const NESTED_KEYS: ReadonlySet<string> = new Set(['rename', 'where']);
const OPERATIONS = ['clear', 'set', 'rename', 'add', 'remove'];

export async function* readJsonRules(file: string, opts: ResolvedManifestOptions): AsyncGenerator<ManifestItem> {
  const { name, text, badLines } = await readManifestText(file, opts);
  // Text that is not valid in its encoding: each such line is a problem, and (a JSON file being
  // one value, its rules without lines) no rule of the file is trusted; the rest is still checked.
  for (const { line, message } of badLines) yield { problem: { source: { file: name, line }, message } };
  const trusted = badLines.length === 0;
  for (const item of readJsonText(name, text, opts)) {
    if (trusted || !('rule' in item)) yield item;
  }
}

function* readJsonText(file: string, text: string, opts: ResolvedManifestOptions): Generator<ManifestItem> {
  if (text.trim() === '') return; // the empty-manifest problem is raised by readRules
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const { message, line } = describeJsonError(error, text);
    yield { problem: { source: line === undefined ? { file } : { file, line }, message } };
    return;
  }

  // JSON.parse keeps the last of duplicate keys; a duplicate would silently lose a rule or a list.
  const duplicates = new Map<string, string[]>();
  for (const { path, key } of findDuplicateKeys(text, 2, NESTED_KEYS)) {
    const list = duplicates.get(path) ?? [];
    list.push(key);
    duplicates.set(path, list);
  }
  const duplicateProblems = (loc: SourceLocation & { path: string }, raw: unknown): ManifestProblem[] =>
    [loc.path, `${loc.path}.rename`, `${loc.path}.where`].flatMap((path) =>
      (duplicates.get(path) ?? []).map((key) => ({
        source: { ...loc, path },
        message: `duplicate key ${visibleJson(key)}: JSON keeps only the last one`,
        raw,
      })),
    );

  if (Array.isArray(data)) {
    for (let i = 0; i < data.length; i++) {
      const loc = { file, path: `$[${i}]` };
      yield* emit(checkRuleObject(data[i], loc, opts), duplicateProblems(loc, data[i]));
    }
    return;
  }

  if (!isPlainObject(data)) {
    yield {
      problem: {
        source: { file, path: '$' },
        message: `a JSON manifest must be an array of rules or an object mapping ids to rules, got ${describeValue(data)}`,
      },
    };
    return;
  }

  const ruleKeysOnly = Object.keys(data).every((k) => k.startsWith('_') || RULE_KEYS.includes(k as never));
  const singleWhereRule = isPlainObject(data.where) && Object.keys(data).some((k) => OPERATIONS.includes(k));
  if (ruleKeysOnly && (typeof data.id === 'string' || singleWhereRule)) {
    yield {
      problem: {
        source: { file, path: '$' },
        message: 'this looks like a single rule: a JSON manifest is an array of rules (wrap it in [ ]) or an object mapping ids to rules',
        raw: data,
      },
    };
    return;
  }

  const duplicateIds = new Set(duplicates.get('$'));
  for (const [id, value] of Object.entries(data)) {
    const path = `$[${visibleJson(id)}]`;
    const loc = { file, path };
    if (duplicateIds.has(id)) {
      // Only the last entry survived JSON.parse: run none of them.
      yield {
        problem: {
          source: loc,
          message: `duplicate id ${quote(id)}: JSON keeps only the last entry; to give one id several rules use an array of rules`,
          raw: { id, value },
        },
      };
    } else if (Array.isArray(value)) {
      // `{"<id>": [tags]}` is a set. Re-point problems from the synthesised `.set` to the list itself.
      const rule = { id, set: value };
      const result = checkRuleObject(rule, loc, opts);
      yield* emit(
        Array.isArray(result)
          ? result.map((p) => ({ ...p, source: { ...p.source, path: repoint(p.source.path, `${path}.set`, path) } }))
          : result,
        [],
      );
    } else if (isPlainObject(value)) {
      if (value.where !== undefined) {
        yield {
          problem: {
            source: subPath(loc, 'where'),
            message:
              'the object map form names each image by its key: a library-wide rule (where) goes in an array of rules',
            raw: value,
          },
        };
        continue;
      }
      if (value.id !== undefined && value.id !== id) {
        yield {
          problem: {
            source: subPath(loc, 'id'),
            message: `id ${typeof value.id === 'string' ? quote(value.id) : describeValue(value.id)} differs from its key ${quote(id)}`,
            raw: value,
          },
        };
        continue;
      }
      const rule = { ...value, id };
      yield* emit(checkRuleObject(rule, loc, opts), duplicateProblems(loc, rule));
    } else {
      yield {
        problem: {
          source: loc,
          message: `the value for an id must be a list of tags (set) or a rule object, got ${describeValue(value)}`,
          raw: { id, value },
        },
      };
    }
  }
}

function subPath(loc: SourceLocation & { path: string }, key: string): SourceLocation {
  return { ...loc, path: `${loc.path}.${key}` };
}

function repoint(path: string | undefined, from: string, to: string): string | undefined {
  if (path === undefined || !path.startsWith(from)) return path;
  return to + path.slice(from.length);
}

function* emit(
  result: ReturnType<typeof checkRuleObject>,
  extra: ManifestProblem[],
): Generator<ManifestItem> {
  for (const problem of extra) yield { problem };
  if (Array.isArray(result)) {
    for (const problem of result) yield { problem };
  } else if (extra.length === 0) {
    yield { rule: result };
  }
}
