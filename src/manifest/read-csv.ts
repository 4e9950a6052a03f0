/**
 * CSV manifests (design.md §2). A header row is required; column `id`, then either `tags` with an
 * optional `op`, or any of `set`, `add`, `remove`. Columns starting with `_` are annotations.
 * Streamed through csv-parse; each record's first line is counted from csv-parse's `raw` text
 * (its `info.lines` counts a CRLF inside a quoted cell twice).
 */
import { parse, type CsvError } from 'csv-parse';
import { UsageError } from '../errors.js';
import type { ManifestProblem, Rule, SourceLocation } from './types.js';
import { normalizeTags } from '../plan/normalize.js';
import type { ResolvedManifestOptions } from './options.js';
import { openManifestStream, type ManifestItem } from './source.js';
import { idProblem, quote, suggestKey, tagProblem } from './validate-rule.js';

const OPS = ['set', 'add', 'remove', 'clear'] as const;
type Op = (typeof OPS)[number];
const LIST_COLUMNS = ['set', 'add', 'remove'] as const;
type ListColumn = (typeof LIST_COLUMNS)[number];
const KNOWN_COLUMNS = ['id', 'tags', 'op', ...LIST_COLUMNS];
const MAX_RECORD_CHARS = 4 * 1024 * 1024;

/** How the columns of a CSV manifest map to rules. */
interface Layout {
  names: string[];
  id: number;
  /** `tags` (+ optional `op`) layout. */
  tags?: number;
  op?: number;
  /** `set`/`add`/`remove` layout. */
  lists: Partial<Record<ListColumn, number>>;
  /** Columns that must stay empty (no name in the header). */
  nameless: number[];
}

/** Line breaks in `text`: \r\n, \n and a lone \r count one each. */
function countBreaks(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13) {
      n++;
      if (text.charCodeAt(i + 1) === 10) i++;
    }
  }
  return n;
}

function leadingBreaks(text: string): number {
  // Blank lines skipped by csv-parse before a record are part of its raw text.
  let n = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13) {
      n++;
      if (text.charCodeAt(i + 1) === 10) i++;
    } else break;
  }
  return n;
}

function csvErrorMessage(error: CsvError): string {
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'malformed CSV: a quoted cell starting in this record is never closed';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'malformed CSV: a closing quote is followed by more text in the same cell (write a quote inside a quoted cell as "")';
    case 'INVALID_OPENING_QUOTE':
      return 'malformed CSV: a quote in the middle of an unquoted cell (quote the whole cell and write the quote as "")';
    case 'CSV_MAX_RECORD_SIZE':
      return `malformed CSV: a record is longer than ${MAX_RECORD_CHARS} characters (an unclosed quote?)`;
    default:
      return `malformed CSV: ${error.message.replace(/ (at|on) line \d+.*$/, '')}`;
  }
}

export async function* readCsvRules(file: string, opts: ResolvedManifestOptions): AsyncGenerator<ManifestItem> {
  const input = await openManifestStream(file);
  let pending: { error: CsvError; raw: string; afterRecords: number } | undefined;
  const parser = parse({
    bom: true,
    info: true,
    raw: true,
    relax_column_count: true,
    skip_empty_lines: true,
    // Bounds memory when a quote is never closed in a huge file; a real row is far smaller.
    max_record_size: MAX_RECORD_CHARS,
    // Syntax errors are reported through on_skip (with the record's raw text, for its line) and stop the read.
    skip_records_with_error: true,
    on_skip: (error, raw) => {
      if (pending === undefined && error !== undefined) {
        pending = { error, raw: raw ?? '', afterRecords: parser.info.records };
      }
      return undefined;
    },
  });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);

  let breaks = 0; // line breaks in the records consumed so far
  let consumed = 0;
  let layout: Layout | undefined;
  let fatal = false;
  // After any header problem (say "opp" for "op") no row can be trusted to mean what it says:
  // rows are still checked, so every problem is reported at once, but none becomes a rule.
  let headerProblems = false;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; raw: string }>) {
      if (pending && consumed >= pending.afterRecords) break;
      consumed++;
      const line = 1 + breaks + leadingBreaks(item.raw);
      breaks += countBreaks(item.raw);
      const cells = item.record;
      if (cells.every((c) => c.trim() === '')) continue; // a blank row, like a blank line
      if (layout === undefined) {
        const header = readHeader(cells, { file, line });
        layout = header.layout;
        headerProblems = header.problems.length > 0;
        for (const problem of header.problems) yield { problem };
        if (header.fatal) {
          fatal = true;
          break;
        }
        continue;
      }
      for (const row of readRow(cells, layout, { file, line }, opts)) {
        if (!headerProblems || 'problem' in row) yield row;
      }
    }
  } catch (error) {
    const code = (error as CsvError).code as string | undefined;
    if (!code?.startsWith('CSV_') && !code?.startsWith('INVALID_')) {
      throw new UsageError(`cannot read manifest ${file}: ${(error as Error).message}`, { cause: error });
    }
    yield { problem: { source: { file, line: 1 + breaks }, message: csvErrorMessage(error as CsvError) } };
    return;
  } finally {
    input.unpipe(parser);
    input.destroy();
    parser.destroy();
  }
  if (pending && !fatal) {
    yield {
      problem: {
        source: { file, line: 1 + breaks + leadingBreaks(pending.raw) },
        message: `${csvErrorMessage(pending.error)}; the rest of the file was not read`,
        raw: pending.raw,
      },
    };
  }
}

function readHeader(
  cells: string[],
  source: SourceLocation,
): { layout: Layout; problems: ManifestProblem[]; fatal: boolean } {
  const names = cells.map((c) => c.trim().toLowerCase());
  const problems: ManifestProblem[] = [];
  const layout: Layout = { names, id: -1, lists: {}, nameless: [] };
  let fatal = false;
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (name === '') {
      layout.nameless.push(index);
      return;
    }
    if (name.startsWith('_')) return;
    if (!KNOWN_COLUMNS.includes(name)) {
      problems.push({
        source,
        message: `unknown column ${JSON.stringify(cells[index]!.trim())}${suggestKey(name, KNOWN_COLUMNS)}; columns starting with "_" are annotations`,
      });
      return;
    }
    if (seen.has(name)) {
      problems.push({ source, message: `column ${JSON.stringify(name)} appears twice in the header` });
      fatal = true;
      return;
    }
    seen.add(name);
    if (name === 'id') layout.id = index;
    else if (name === 'tags') layout.tags = index;
    else if (name === 'op') layout.op = index;
    else layout.lists[name as ListColumn] = index;
  });

  const fail = (message: string): void => {
    problems.push({ source, message });
    fatal = true;
  };
  if (layout.id < 0) {
    // Most likely no header at all: one clear problem, not one per "unknown column".
    const shown = cells.slice(0, 5).map((c) => JSON.stringify(c)).join(', ');
    const message =
      `the header has no "id" column (first row: ${shown}${cells.length > 5 ? ', …' : ''}); ` +
      'the first row must be a header naming the columns, e.g. id,tags or id,set,add,remove';
    return { layout, problems: [{ source, message }], fatal: true };
  }
  const listCount = Object.keys(layout.lists).length;
  if (layout.tags !== undefined && listCount > 0) {
    fail('use either a "tags" column (with an optional "op") or "set"/"add"/"remove" columns, not both');
  } else if (layout.op !== undefined && layout.tags === undefined) {
    fail('an "op" column needs a "tags" column');
  } else if (layout.tags === undefined && listCount === 0) {
    fail('the header has no operation column: give "tags" (with an optional "op") or any of "set", "add", "remove"');
  }
  return { layout, problems, fatal };
}

function* readRow(
  cells: string[],
  layout: Layout,
  source: SourceLocation,
  opts: ResolvedManifestOptions,
): Generator<ManifestItem> {
  const raw: Record<string, string> = {};
  cells.forEach((cell, i) => {
    raw[layout.names[i] || `_column${i + 1}`] = cell;
  });
  const problems: string[] = [];
  const cell = (index: number | undefined): string => (index === undefined ? '' : (cells[index] ?? ''));

  if (cells.length > layout.names.length && cells.slice(layout.names.length).some((c) => c.trim() !== '')) {
    problems.push(
      `the row has ${cells.length} cells but the header has ${layout.names.length} ` +
        `(a cell holding a comma must be quoted; tags are separated by ${JSON.stringify(opts.tagSeparator)})`,
    );
  }
  for (const index of layout.nameless) {
    if (cell(index).trim() !== '') {
      problems.push(`cell ${index + 1} holds ${quote(cell(index))} but its column has no name in the header`);
    }
  }

  const id = cell(layout.id);
  if (id.trim() === '') problems.push('id is empty');
  else {
    const problem = idProblem(id);
    if (problem !== undefined) problems.push(problem);
  }

  const rule: Rule = { id, source };
  if (layout.tags !== undefined) {
    tagsLayout(cell(layout.tags), layout.op === undefined ? undefined : cell(layout.op), rule, problems, opts);
  } else {
    listsLayout(layout, cell, rule, problems, opts);
  }

  if (problems.length > 0) {
    for (const message of problems) yield { problem: { source, message, raw } };
  } else {
    yield { rule };
  }
}

/** Split a cell on the tag separator and check each tag; returns the normalised tags. */
function splitTags(text: string, opts: ResolvedManifestOptions, problems: string[], prefix: string): string[] {
  const tags: string[] = [];
  for (const part of text.split(opts.tagSeparator)) {
    const tag = part.trim();
    if (tag === '') continue;
    const problem = tagProblem(tag, opts);
    if (problem !== undefined) problems.push(prefix + problem);
    else tags.push(tag);
  }
  return normalizeTags(tags);
}

function tagsLayout(
  tagsCell: string,
  opCell: string | undefined,
  rule: Rule,
  problems: string[],
  opts: ResolvedManifestOptions,
): void {
  let op: Op = 'set';
  if (opCell !== undefined) {
    const name = opCell.trim().toLowerCase();
    if (name === '') {
      problems.push('op is empty: write set, add, remove or clear');
      return;
    }
    if (!(OPS as readonly string[]).includes(name)) {
      problems.push(`unknown op ${quote(opCell.trim())}: expected set, add, remove or clear`);
      return;
    }
    op = name as Op;
  }
  if (op === 'clear') {
    if (tagsCell.trim() !== '') {
      problems.push(`op=clear takes no tags, but the tags cell holds ${quote(tagsCell.trim())}: leave it empty, or use op=set`);
    } else {
      rule.clear = true;
    }
    return;
  }
  const before = problems.length;
  const tags = splitTags(tagsCell, opts, problems, '');
  if (problems.length > before) return;
  if (tags.length === 0) {
    problems.push(
      op === 'set'
        ? "the tags cell is empty, and a blank cell never clears an image's tags: to clear them use op=clear"
        : `the tags cell is empty: nothing to ${op}`,
    );
    return;
  }
  if (op !== 'set' && opts.requireSetOnly) {
    problems.push('add/remove need the current tags; drop --no-read');
    return;
  }
  rule[op] = tags;
}

function listsLayout(
  layout: Layout,
  cell: (index: number | undefined) => string,
  rule: Rule,
  problems: string[],
  opts: ResolvedManifestOptions,
): void {
  let operations = 0;
  for (const column of LIST_COLUMNS) {
    const index = layout.lists[column];
    if (index === undefined) continue;
    const text = cell(index);
    if (text.trim() === '') continue; // an empty cell does not apply its operation
    operations++;
    const before = problems.length;
    const tags = splitTags(text, opts, problems, `${column} cell: `);
    if (problems.length > before) continue;
    if (tags.length === 0) {
      problems.push(
        `the ${column} cell holds no tags (only separators and spaces)` +
          (column === 'set' ? "; a blank cell never clears an image's tags: to clear them use op=clear in a tags column" : ''),
      );
      continue;
    }
    rule[column] = tags;
  }
  if (operations === 0) {
    const columns = LIST_COLUMNS.filter((c) => layout.lists[c] !== undefined).join(', ');
    problems.push(
      `the row has no operation: its ${columns} cell${columns.includes(',') ? 's are all' : ' is'} empty ` +
        "(a blank cell never clears an image's tags: to clear them use op=clear in a tags column)",
    );
  } else if (opts.requireSetOnly && (rule.add !== undefined || rule.remove !== undefined)) {
    problems.push('add/remove need the current tags; drop --no-read');
  }
}
