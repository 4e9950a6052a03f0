/**
 * Helpers around JSON.parse: the line of a syntax error, and the duplicate keys JSON.parse
 * silently resolves to the last one (`{"add": ["a"], "add": ["b"]}` would otherwise lose "a").
 */

/** Render a key as a path segment: `.add` for plain names, `["img 1"]` otherwise. */
export function keySegment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** A JSON.parse error as a message and, where V8 names a position, the 1-based line. */
export function describeJsonError(error: unknown, text: string, lineOffset = 0): { message: string; line?: number } {
  const raw = error instanceof Error ? error.message : String(error);
  const match = / at position (\d+)/.exec(raw);
  // Node 22+ appends "(line N column M)"; strip either form, we add our own line.
  const reason = raw.replace(/ in JSON at position \d+.*$/, '').replace(/ \(line \d+ column \d+\)$/, '');
  if (match) {
    const position = Number(match[1]);
    return { message: `malformed JSON: ${reason}`, line: lineOffset + lineAt(text, position) };
  }
  return { message: `malformed JSON: ${reason}` };
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
  /** JSON path of the object holding the key, e.g. `$` or `$[3]`. */
  path: string;
  key: string;
}

type Frame =
  | { kind: 'object'; keys: Set<string> | undefined; key: string; expectingKey: boolean }
  | { kind: 'array'; index: number };

/**
 * Duplicate keys in objects nested at most `maxDepth` deep (1 = the top-level value).
 * `text` must already be valid JSON (call after JSON.parse succeeded).
 */
export function findDuplicateKeys(text: string, maxDepth: number): DuplicateKey[] {
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
          if (top.keys.has(key)) found.push({ path: pathOf(stack), key });
          else top.keys.add(key);
        }
      }
      i = j;
    } else if (c === 123 /* { */) {
      stack.push({ kind: 'object', keys: stack.length < maxDepth ? new Set() : undefined, key: '', expectingKey: true });
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
  return depth === 0 ? `[${JSON.stringify(key)}]` : keySegment(key);
}
