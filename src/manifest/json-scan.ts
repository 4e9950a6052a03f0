/**
 * Helpers around JSON.parse: the line of a syntax error, and the duplicate keys JSON.parse
 * silently resolves to the last one (`{"add": ["a"], "add": ["b"]}` would otherwise lose "a").
 */

// Shown escaped in messages and paths: invisible, or able to move a terminal's cursor or reorder its text.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

function escapeChar(char: string): string {
  const cp = char.codePointAt(0)!;
  const unit = (u: number): string => `\\u${u.toString(16).padStart(4, '0')}`;
  return cp > 0xffff ? unit(char.charCodeAt(0)) + unit(char.charCodeAt(1)) : unit(cp);
}

/** JSON.stringify, with invisible characters (format characters, C1 controls…) as \uXXXX too. */
export function visibleJson(value: string): string {
  return JSON.stringify(value).replace(INVISIBLE, escapeChar);
}

/** Render a key as a path segment: `.add` for plain names, `["img 1"]` otherwise. */
export function keySegment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${visibleJson(key)}]`;
}

/**
 * A JSON.parse error as a message and the 1-based line of the error. V8 names a position for
 * some errors only ("Unexpected token ']'" has none), so the offset is otherwise found by a
 * small syntax check of our own.
 */
export function describeJsonError(error: unknown, text: string): { message: string; line?: number } {
  const raw = error instanceof Error ? error.message : String(error);
  const reason = raw
    .replace(/ in JSON at position \d+.*$/s, '')
    // "Unexpected non-whitespace character after JSON at position 35": the line says where.
    .replace(/ at position \d+.*$/s, '')
    // Node 22+ appends "(line N column M)"; V8 may quote a snippet of the input: we give the line.
    .replace(/ \(line \d+ column \d+\)$/, '')
    .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '');
  const match = / at position (\d+)/.exec(raw);
  const offset = match ? Number(match[1]) : jsonErrorOffset(text);
  const message = `malformed JSON: ${reason}`;
  if (offset === undefined) return { message };
  // "Unexpected end": name the last line with content, not the empty one after the final newline.
  const end = text.trimEnd().length;
  return { message, line: lineAt(text, offset >= end ? Math.max(end - 1, 0) : offset) };
}

class SyntaxAt {
  constructor(readonly offset: number) {}
}

/** Offset of the first JSON syntax error in `text`, or undefined when it is valid JSON. */
export function jsonErrorOffset(text: string): number | undefined {
  const n = text.length;
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  let i = 0;
  const fail = (): never => {
    throw new SyntaxAt(i);
  };
  const ws = (): void => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  };
  const expect = (ch: string): void => {
    if (text[i] !== ch) fail();
    i++;
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      if (i >= n) fail();
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail();
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail();
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        expect(':');
        value();
        ws();
        if (text[i] === ',') i++;
        else return expect('}');
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else return expect(']');
      }
    } else if (c === '"') string();
    else if (c === 't' || c === 'f' || c === 'n') {
      const word = c === 't' ? 'true' : c === 'f' ? 'false' : 'null';
      if (!text.startsWith(word, i)) fail();
      i += word.length;
    } else {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) fail();
      i = NUMBER.lastIndex;
    }
  };
  try {
    value();
    ws();
    if (i < n) fail();
    return undefined;
  } catch (error) {
    if (error instanceof SyntaxAt) return error.offset;
    return undefined; // e.g. too deeply nested for the stack: no line, still a problem
  }
}

/** 1-based line of a character offset; \r\n, \n and a lone \r each end a line. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    else if (c === 13) {
      line++;
      if (text.charCodeAt(i + 1) === 10) i++;
    }
  }
  return line;
}

export interface DuplicateKey {
  /** JSON path of the object holding the key, e.g. `$`, `$[3]` or `$[3].rename`. */
  path: string;
  key: string;
  /** For a key of a nested object checked because of its name (`rename`, `where`): that name. */
  within?: string;
}

type Frame =
  | { kind: 'object'; keys: Set<string> | undefined; key: string; expectingKey: boolean; within: string | undefined }
  | { kind: 'array'; index: number };

/**
 * Duplicate keys in objects nested at most `maxDepth` deep (1 = the top-level value), and in the
 * objects one level deeper that are the value of a key named in `nested` (a rule's `rename` and
 * `where`). `text` must already be valid JSON (call after JSON.parse succeeded).
 */
export function findDuplicateKeys(text: string, maxDepth: number, nested?: ReadonlySet<string>): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  const stack: Frame[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 92 /* \ */) {
          escaped = true;
          j += 2;
        } else if (d === 34 || Number.isNaN(d)) break;
        else j++;
      }
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectingKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        top.expectingKey = false;
        top.key = key;
        if (top.keys) {
          if (top.keys.has(key)) {
            found.push(top.within === undefined ? { path: pathOf(stack), key } : { path: pathOf(stack), key, within: top.within });
          } else top.keys.add(key);
        }
      }
      i = j;
    } else if (c === 123 /* { */) {
      const parent = stack[stack.length - 1];
      if (stack.length < maxDepth) {
        stack.push({ kind: 'object', keys: new Set(), key: '', expectingKey: true, within: undefined });
      } else if (stack.length === maxDepth && parent?.kind === 'object' && parent.keys && nested?.has(parent.key)) {
        stack.push({ kind: 'object', keys: new Set(), key: '', expectingKey: true, within: parent.key });
      } else {
        stack.push({ kind: 'object', keys: undefined, key: '', expectingKey: true, within: undefined });
      }
    } else if (c === 91 /* [ */) {
      stack.push({ kind: 'array', index: 0 });
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      stack.pop();
    } else if (c === 44 /* , */) {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.expectingKey = true;
      else if (top) top.index++;
    }
  }
  return found;
}

/** Path of the innermost container on the stack. */
function pathOf(stack: Frame[]): string {
  let path = '$';
  for (let k = 0; k < stack.length - 1; k++) {
    const frame = stack[k]!;
    path += frame.kind === 'array' ? `[${frame.index}]` : depthKey(frame.key, k);
  }
  return path;
}

// Top-level map keys are image ids: always bracketed (`$["img-1"]`), as in the readers' paths.
function depthKey(key: string, depth: number): string {
  return depth === 0 ? `[${visibleJson(key)}]` : keySegment(key);
}
