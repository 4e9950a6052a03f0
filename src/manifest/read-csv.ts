/**
 * CSV manifests (design.md §2). A header row is required; column `id` (or `object_id`), then
 * either `tags` with an optional `op`, or any of `set`, `add`, `remove`. A header of `from` and
 * `to` without an id column is a rename map: each row the library-wide rule
 * `{"where": {"tag": from}, "rename": {from: to}}`. Columns starting with `_` are annotations;
 * header names match case-insensitively.
 *
 * The delimiter is `,`, or `;` or a tab when the header only makes sense split that way (many
 * locales' spreadsheets save CSV with `;`), a tab for .tsv, or the delimiter option. The text is
 * decoded first (decode.ts: --encoding, lines that are not valid text), then streamed through
 * csv-parse; each record's first line is counted from csv-parse's `raw` text (its `info.lines`
 * counts a CRLF inside a quoted cell twice).
 */
import { Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import { UsageError } from '../errors.js';
import { normalizeTag } from '../plan/normalize.js';
import { countBreaks, decodeManifest, type DecodedItem } from './decode.js';
import { delimiterForFile, type ResolvedManifestOptions } from './options.js';
import { openManifestInput, type ManifestItem } from './source.js';
import type { ManifestProblem, ManifestWarning, Rule, SourceLocation } from './types.js';
import { idProblem, quote, suggestKey, tagProblem } from './validate-rule.js';

const OPS = ['set', 'add', 'remove', 'clear'] as const;
type Op = (typeof OPS)[number];
const LIST_COLUMNS = ['set', 'add', 'remove'] as const;
type ListColumn = (typeof LIST_COLUMNS)[number];
const KNOWN_COLUMNS = ['id', 'object_id', 'tags', 'op', ...LIST_COLUMNS, 'from', 'to'];
const MAX_RECORD_CHARS = 4 * 1024 * 1024;
/** Delimiters tried on the header, in this order, when none is given. */
const CANDIDATE_DELIMITERS = [',', ';', '\t'];

export const EMPTY_TO =
  'to is empty: a rename map never deletes a tag; retire a tag with a remove rule or retag strip';

export const NO_READ_RENAME_MAP =
  'a rename map is made of library-wide rules, and those select images by their current tags, which --no-read does not read; drop --no-read';

/** How the columns of a CSV manifest map to rules. */
interface Layout {
  names: string[];
  /** `rename`: a rename map (from, to); `rules`: id rules. */
  kind: 'rules' | 'rename';
  id: number;
  /** `tags` (+ optional `op`) layout. */
  tags?: number;
  op?: number;
  /** `set`/`add`/`remove` layout. */
  lists: Partial<Record<ListColumn, number>>;
  from?: number;
  to?: number;
  /** Columns that must stay empty (no name in the header). */
  nameless: number[];
}

/** Per file: the delimiter, and whether the tag-separator warning was given. */
interface CsvContext {
  file: string;
  opts: ResolvedManifestOptions;
  delimiter: string;
  warned: boolean;
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

function endsWithBreak(text: string): boolean {
  const c = text.charCodeAt(text.length - 1);
  return c === 10 || c === 13;
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

function delimiterName(delimiter: string): string {
  switch (delimiter) {
    case ',':
      return 'comma';
    case ';':
      return 'semicolon';
    case '\t':
      return 'tab';
    default:
      return JSON.stringify(delimiter);
  }
}

/** Header names as a delimiter would split `line`: trimmed, unquoted, lower-cased. */
function headerNames(line: string, delimiter: string): string[] {
  return line.split(delimiter).map((cell) => {
    const trimmed = cell.trim();
    const unquoted = trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
    return unquoted.trim().toLowerCase();
  });
}

function headerMakesSense(names: string[]): boolean {
  return names.includes('id') || names.includes('object_id') || (names.includes('from') && names.includes('to'));
}

/**
 * The delimiter of a file whose header is `line`: `,` unless the header only makes sense split
 * on `;` or a tab (it names an id column, or from and to, only then).
 */
export function detectDelimiter(line: string): string {
  for (const delimiter of CANDIDATE_DELIMITERS) {
    if (headerMakesSense(headerNames(line, delimiter))) return delimiter;
  }
  return ',';
}

function firstContentLine(text: string): string | undefined {
  for (const line of text.split(/\r\n|\r|\n/)) if (line.trim() !== '') return line;
  return undefined;
}

export async function* readCsvRules(file: string, opts: ResolvedManifestOptions): AsyncGenerator<ManifestItem> {
  const input = await openManifestInput(file, opts);
  const name = input.name;
  const decoded: AsyncIterator<DecodedItem> = decodeManifest(input.bytes, opts.codec)[Symbol.asyncIterator]();
  // Lines that are not valid text, in line order, as the decoder (ahead of the parser) finds them.
  const badLines: Array<{ line: number; message: string }> = [];

  // The text up to the header, to choose the delimiter before parsing (pieces end at line breaks).
  const head: string[] = [];
  let headerLine: string | undefined;
  let ended = false;
  try {
    while (headerLine === undefined) {
      const next = await decoded.next();
      if (next.done) {
        ended = true;
        break;
      }
      const item = next.value;
      if ('text' in item) {
        head.push(item.text);
        headerLine = firstContentLine(item.text);
      } else badLines.push({ line: item.badLine, message: item.message });
    }
  } catch (error) {
    input.close();
    throw error;
  }
  const ctx: CsvContext = {
    file: name,
    opts,
    delimiter: opts.delimiter ?? delimiterForFile(file) ?? (headerLine === undefined ? ',' : detectDelimiter(headerLine)),
    warned: false,
  };

  async function* text(): AsyncGenerator<string> {
    yield* head;
    if (ended) return;
    for (;;) {
      const next = await decoded.next();
      if (next.done) return;
      const item = next.value;
      if ('text' in item) yield item.text;
      else badLines.push({ line: item.badLine, message: item.message });
    }
  }

  const source = Readable.from(text());
  let pending: { error: CsvError; raw: string; afterRecords: number } | undefined;
  const parser = parse({
    bom: true,
    delimiter: ctx.delimiter,
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
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);

  /** The bad lines up to `last`, as problems; `within` collects those from `first` on. */
  function* takeBadLines(last: number, first = Infinity, within?: number[]): Generator<ManifestItem> {
    while (badLines.length > 0 && badLines[0]!.line <= last) {
      const bad = badLines.shift()!;
      if (bad.line >= first) within?.push(bad.line);
      yield { problem: { source: { file: name, line: bad.line }, message: bad.message } };
    }
  }

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
      const last = 1 + breaks - (endsWithBreak(item.raw) ? 1 : 0);
      const unreadable: number[] = [];
      yield* takeBadLines(last, line, unreadable);
      const cells = item.record;
      if (cells.every((c) => c.trim() === '')) continue; // a blank row, like a blank line
      if (layout === undefined) {
        const header = readHeader(cells, { file: name, line }, ctx);
        layout = header.layout;
        headerProblems = header.problems.length > 0 || unreadable.length > 0;
        for (const problem of header.problems) yield { problem };
        if (header.fatal) {
          fatal = true;
          break;
        }
        continue;
      }
      // A row holding text that is not valid in the encoding was reported above; it is not read.
      if (unreadable.length > 0) continue;
      for (const row of readRow(cells, layout, { file: name, line }, ctx)) {
        if (!headerProblems || !('rule' in row)) yield row;
      }
    }
  } catch (error) {
    const code = (error as CsvError).code as string | undefined;
    if (error instanceof UsageError) throw error;
    if (!code?.startsWith('CSV_') && !code?.startsWith('INVALID_')) {
      throw new UsageError(`cannot read manifest ${name}: ${(error as Error).message}`, { cause: error });
    }
    yield* takeBadLines(1 + breaks);
    yield { problem: { source: { file: name, line: 1 + breaks }, message: csvErrorMessage(error as CsvError) } };
    return;
  } finally {
    source.unpipe(parser);
    source.destroy();
    parser.destroy();
    input.close();
  }
  if (pending && !fatal) {
    const line = 1 + breaks + leadingBreaks(pending.raw);
    yield* takeBadLines(line);
    yield {
      problem: {
        source: { file: name, line },
        message: `${csvErrorMessage(pending.error)}; the rest of the file was not read`,
        raw: pending.raw,
      },
    };
  } else if (!fatal) {
    yield* takeBadLines(Infinity);
  }
}

function readHeader(
  cells: string[],
  source: SourceLocation,
  ctx: CsvContext,
): { layout: Layout; problems: ManifestProblem[]; fatal: boolean } {
  const names = cells.map((c) => c.trim().toLowerCase());
  const problems: ManifestProblem[] = [];
  const layout: Layout = { names, kind: 'rules', id: -1, lists: {}, nameless: [] };
  let fatal = false;
  const seen = new Map<string, string>();
  names.forEach((name, index) => {
    if (name === '') {
      layout.nameless.push(index);
      return;
    }
    if (name.startsWith('_')) return;
    if (!KNOWN_COLUMNS.includes(name)) {
      problems.push({
        source,
        message: `unknown column ${quote(cells[index]!.trim())}${suggestKey(name, KNOWN_COLUMNS)}; columns starting with "_" are annotations`,
      });
      return;
    }
    const role = name === 'object_id' ? 'id' : name;
    const earlier = seen.get(role);
    if (earlier !== undefined) {
      problems.push({
        source,
        message:
          earlier === name
            ? `column ${JSON.stringify(name)} appears twice in the header`
            : `columns ${JSON.stringify(earlier)} and ${JSON.stringify(name)} both name the image id: keep one`,
      });
      fatal = true;
      return;
    }
    seen.set(role, name);
    if (role === 'id') layout.id = index;
    else if (name === 'tags') layout.tags = index;
    else if (name === 'op') layout.op = index;
    else if (name === 'from') layout.from = index;
    else if (name === 'to') layout.to = index;
    else layout.lists[name as ListColumn] = index;
  });

  const fail = (message: string): void => {
    problems.push({ source, message });
    fatal = true;
  };
  const listCount = Object.keys(layout.lists).length;
  const renameColumns = layout.from !== undefined || layout.to !== undefined;
  if (layout.id < 0 && renameColumns) {
    // A rename map: from and to, nothing else but annotations.
    layout.kind = 'rename';
    if (layout.from === undefined || layout.to === undefined) {
      fail(`a rename map needs both a "from" and a "to" column (the header has only ${JSON.stringify(layout.from === undefined ? 'to' : 'from')})`);
    } else if (layout.tags !== undefined || layout.op !== undefined || listCount > 0) {
      fail('a rename map has only the columns "from" and "to" (and "_" annotations): for id rules add an "id" column and drop from/to');
    } else if (ctx.opts.requireSetOnly) {
      fail(NO_READ_RENAME_MAP);
    }
    return { layout, problems, fatal };
  }
  if (layout.id < 0) {
    // Most likely no header at all: one clear problem, not one per "unknown column".
    const shown = cells.slice(0, 5).map((c) => JSON.stringify(c)).join(', ');
    // With --delimiter, a header that another delimiter would make sense of says so.
    const other = detectDelimiter(cells.join(ctx.delimiter));
    const hint = other !== ctx.delimiter ? ` (it has one when split on ${delimiterName(other)}s: check --delimiter)` : '';
    const message =
      `the header has no "id" column (first row: ${shown}${cells.length > 5 ? ', …' : ''})${hint}; ` +
      'the first row must be a header naming the columns, e.g. id,tags or id,set,add,remove (or from,to for a rename map)';
    return { layout, problems: [{ source, message }], fatal: true };
  }
  if (renameColumns) {
    fail('"from"/"to" columns make a rename map, which has no "id" column: use either id rules or a rename map');
  } else if (layout.tags !== undefined && listCount > 0) {
    fail('use either a "tags" column (with an optional "op") or "set"/"add"/"remove" columns, not both');
  } else if (layout.op !== undefined && layout.tags === undefined) {
    fail('an "op" column needs a "tags" column');
  } else if (layout.tags === undefined && listCount === 0) {
    fail('the header has no operation column: give "tags" (with an optional "op") or any of "set", "add", "remove"');
  }
  return { layout, problems, fatal };
}

function* readRow(cells: string[], layout: Layout, source: SourceLocation, ctx: CsvContext): Generator<ManifestItem> {
  const raw: Record<string, string> = {};
  cells.forEach((cell, i) => {
    raw[layout.names[i] || `_column${i + 1}`] = cell;
  });
  const problems: string[] = [];
  const warnings: ManifestWarning[] = [];
  const cell = (index: number | undefined): string => (index === undefined ? '' : (cells[index] ?? ''));

  if (cells.length > layout.names.length && cells.slice(layout.names.length).some((c) => c.trim() !== '')) {
    problems.push(
      `the row has ${cells.length} cells but the header has ${layout.names.length} ` +
        `(a cell holding a ${delimiterName(ctx.delimiter)} must be quoted` +
        (layout.kind === 'rules' ? `; tags are separated by ${JSON.stringify(ctx.opts.tagSeparator)})` : ')'),
    );
  }
  for (const index of layout.nameless) {
    if (cell(index).trim() !== '') {
      problems.push(`cell ${index + 1} holds ${quote(cell(index))} but its column has no name in the header`);
    }
  }

  let rule: Rule;
  if (layout.kind === 'rename') {
    rule = renameRow(cell(layout.from), cell(layout.to), source, problems, ctx);
  } else {
    const id = cell(layout.id);
    if (id.trim() === '') problems.push('id is empty');
    else {
      const problem = idProblem(id);
      if (problem !== undefined) problems.push(problem);
    }
    rule = { id, source };
    const check = (text: string): void => separatorWarning(text, source, ctx, warnings);
    if (layout.tags !== undefined) {
      tagsLayout(cell(layout.tags), layout.op === undefined ? undefined : cell(layout.op), rule, problems, ctx.opts, check);
    } else {
      listsLayout(layout, cell, rule, problems, ctx.opts, check);
    }
  }

  for (const warning of warnings) yield { warning };
  if (problems.length > 0) {
    for (const message of problems) yield { problem: { source, message, raw } };
  } else {
    yield { rule };
  }
}

function renameRow(fromCell: string, toCell: string, source: SourceLocation, problems: string[], ctx: CsvContext): Rule {
  const from = normalizeTag(fromCell);
  const to = normalizeTag(toCell);
  let ok = true;
  if (from === '') {
    problems.push('from is empty: name the tag to rename');
    ok = false;
  } else {
    const problem = tagProblem(from, ctx.opts);
    if (problem !== undefined) {
      problems.push(`from: ${problem}`);
      ok = false;
    }
  }
  if (to === '') {
    problems.push(EMPTY_TO);
    ok = false;
  } else {
    const problem = tagProblem(to, ctx.opts);
    if (problem !== undefined) {
      problems.push(`to: ${problem}`);
      ok = false;
    }
  }
  if (ok && from === to) problems.push(`from and to are the same tag ${quote(from)}: nothing to rename`);
  return { where: { tag: from }, rename: Object.fromEntries([[from, to]]) as Record<string, string>, source };
}

/**
 * Once per file: a warning for a cell that looks like tags separated by another character than
 * the tag separator (`summer, beach` or `Sale;Summer` with the default `|`). Such a cell is one tag.
 */
function separatorWarning(text: string, source: SourceLocation, ctx: CsvContext, warnings: ManifestWarning[]): void {
  if (ctx.warned) return;
  const separator = ctx.opts.tagSeparator;
  if (text.includes(separator)) return;
  const other = [',', ';'].find((c) => !separator.includes(c) && text.includes(c));
  if (other === undefined) return;
  const value = text.trim();
  // A separator at an end only is no list ("5;" is an odd tag, not two).
  if (!value.slice(1, -1).includes(other)) return;
  ctx.warned = true;
  const hint = other === ';' ? ` (if the file separates tags with ";", pass --tag-separator ";")` : '';
  warnings.push({
    source,
    message:
      `the cell ${quote(value)} is read as one tag: tags in a cell are separated by ${JSON.stringify(separator)}, ` +
      `not ${JSON.stringify(other)}${hint}; this is said once per file`,
  });
}

/** Split a cell on the tag separator and check each tag; returns the normalised tags. */
function splitTags(text: string, opts: ResolvedManifestOptions, problems: string[], prefix: string): string[] {
  const tags: string[] = [];
  for (const part of text.split(opts.tagSeparator)) {
    const tag = normalizeTag(part);
    if (tag === '') continue;
    const problem = tagProblem(tag, opts);
    if (problem !== undefined) problems.push(prefix + problem);
    else tags.push(tag);
  }
  return tags.length > 1 ? [...new Set(tags)] : tags;
}

function tagsLayout(
  tagsCell: string,
  opCell: string | undefined,
  rule: Rule,
  problems: string[],
  opts: ResolvedManifestOptions,
  check: (text: string) => void,
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
  check(tagsCell);
  rule[op] = tags;
}

function listsLayout(
  layout: Layout,
  cell: (index: number | undefined) => string,
  rule: Rule,
  problems: string[],
  opts: ResolvedManifestOptions,
  check: (text: string) => void,
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
    check(text);
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
