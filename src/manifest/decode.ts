/**
 * Manifest text decoding (design.md §2): UTF-8 by default, another encoding with --encoding (a
 * WHATWG label, through TextDecoder), and text that is not valid in its encoding reported with
 * its line. The byte stream is cut at line breaks, so each piece decodes on its own with
 * `fatal: true` and an invalid piece can be narrowed down to its lines; NDJSON lines can be capped
 * without holding an over-long line in memory.
 */
import { TextDecoder } from 'node:util';
import { UsageError } from '../errors.js';

export interface TextCodec {
  /** Canonical WHATWG name: `utf-8`, `windows-1252`, `utf-16le`… */
  readonly name: string;
  /** Bytes per code unit, which is also the size of a line break: 2 for UTF-16, else 1. */
  readonly unitSize: 1 | 2;
  readonly bigEndian: boolean;
  /** Decodes complete text; throws when it is not valid in the encoding. */
  decode(bytes: Buffer): string;
  /** Decodes, turning invalid sequences into U+FFFD. */
  decodeLossy(bytes: Buffer): string;
}

// WHATWG windows-1252 for 0x80–0x9F (the rest is ISO-8859-1). Node 20.18.3+ and 22.13+ decode
// windows-1252 (and so `latin1`, `ascii`, which are its labels) as ISO-8859-1, turning € and the
// curly quotes into C1 controls (nodejs/node#56542, #60888): the table is applied here instead.
const WINDOWS_1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const HAS_C1 = /[\x80-\x9f]/;
const C1 = /[\x80-\x9f]/g;

function windows1252(bytes: Buffer): string {
  const latin1 = bytes.toString('latin1');
  return HAS_C1.test(latin1) ? latin1.replace(C1, (c) => WINDOWS_1252_HIGH[c.charCodeAt(0) - 0x80]!) : latin1;
}

const codecs = new Map<string, TextCodec>();

/** The codec for a WHATWG encoding label (`utf-8`, `windows-1252`, `latin1`…), or a UsageError naming it. */
export function resolveEncoding(label: string): TextCodec {
  const key = typeof label === 'string' ? label.trim().toLowerCase() : '';
  const cached = codecs.get(key);
  if (cached !== undefined) return cached;
  let fatal: TextDecoder;
  let lossy: TextDecoder;
  try {
    if (key === '') throw new RangeError('empty');
    // The BOM is removed by the reader, once, at the start of the file: not at the start of every piece.
    fatal = new TextDecoder(key, { fatal: true, ignoreBOM: true });
    lossy = new TextDecoder(key, { ignoreBOM: true });
  } catch {
    throw new UsageError(
      `--encoding ${JSON.stringify(label)} is not an encoding retag can read: give a WHATWG encoding label ` +
        'such as utf-8, windows-1252, latin1, iso-8859-15, shift_jis or utf-16le',
    );
  }
  const name = fatal.encoding;
  const codec: TextCodec =
    name === 'windows-1252'
      ? { name, unitSize: 1, bigEndian: false, decode: windows1252, decodeLossy: windows1252 }
      : {
          name,
          unitSize: name === 'utf-16le' || name === 'utf-16be' ? 2 : 1,
          bigEndian: name === 'utf-16be',
          decode: (bytes) => fatal.decode(bytes),
          decodeLossy: (bytes) => lossy.decode(bytes),
        };
  codecs.set(key, codec);
  return codec;
}

/** Line breaks in `text`: \r\n, \n and a lone \r count one each. */
export function countBreaks(text: string): number {
  let n = 0;
  if (text.indexOf('\r') < 0) {
    // The usual case, without CRs: indexOf is much faster than a loop over every character.
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
    return n;
  }
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

/** What decodeManifest yields, in order: text, and problems about lines of the text that follows. */
export type DecodedItem =
  /** Text starting at line `firstLine`; every piece but the last ends with a line break. */
  | { text: string; firstLine: number }
  /**
   * A line that is not valid in the encoding (its text follows, with U+FFFD for what could not be
   * read), or too long (its text follows as an empty line).
   */
  | { badLine: number; message: string };

export interface DecodeOptions {
  /** Longest line in bytes: a longer one is dropped (read past, not held) and reported. */
  maxLineBytes?: number;
}

/**
 * Without maxLineBytes, a line this long is decoded and passed on anyway (lossily, where it is cut):
 * CSV bounds its records itself, and a record is at least as long as a line.
 */
const MAX_HELD_BYTES = 16 * 1024 * 1024;

function unitAt(data: Buffer, i: number, unit: 1 | 2, bigEndian: boolean): number {
  if (unit === 1) return data[i]!;
  return bigEndian ? (data[i]! << 8) | data[i + 1]! : data[i]! | (data[i + 1]! << 8);
}

/**
 * Where the text before the last complete line break of `data` ends (just after the break), or
 * 0 when there is none. A CR in the last unit is not complete: an LF may follow in the next chunk.
 */
function lastBreakEnd(data: Buffer, unit: 1 | 2, bigEndian: boolean): number {
  const n = data.length - (data.length % unit);
  if (unit === 1) {
    const lf = data.lastIndexOf(10);
    let cr = data.lastIndexOf(13);
    if (cr === n - 1) cr = n >= 2 ? data.lastIndexOf(13, n - 2) : -1;
    const at = Math.max(lf, cr);
    return at < 0 ? 0 : at + 1;
  }
  for (let i = n - unit; i >= 0; i -= unit) {
    const c = unitAt(data, i, unit, bigEndian);
    if (c === 10 || (c === 13 && i < n - unit)) return i + unit;
  }
  return 0;
}

/** The offset of the first line break (LF or CR) at or after `from`, or -1. */
function firstBreak(data: Buffer, from: number, unit: 1 | 2, bigEndian: boolean): number {
  if (unit === 1) {
    // A loop, not indexOf(LF) and indexOf(CR): a file without CRs would be scanned to its end for each line.
    for (let i = from; i < data.length; i++) {
      const c = data[i];
      if (c === 10 || c === 13) return i;
    }
    return -1;
  }
  for (let i = from; i + unit <= data.length; i += unit) {
    const c = unitAt(data, i, unit, bigEndian);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}

/** The end of the line break starting at `at` (CRLF is one break). */
function breakEnd(data: Buffer, at: number, unit: 1 | 2, bigEndian: boolean): number {
  if (unitAt(data, at, unit, bigEndian) === 13 && at + 2 * unit <= data.length && unitAt(data, at + unit, unit, bigEndian) === 10) {
    return at + 2 * unit;
  }
  return at + unit;
}

function invalidMessage(codec: TextCodec, bom: 'utf-16le' | 'utf-16be' | undefined): string {
  if (codec.name === 'utf-8') {
    const hint =
      bom !== undefined
        ? `the file starts with a UTF-16 byte order mark: pass --encoding ${bom}`
        : 'if it is in another encoding, pass --encoding (e.g. --encoding windows-1252)';
    return `the text is not valid UTF-8: is the file UTF-8? ${hint[0]!.toUpperCase()}${hint.slice(1)}`;
  }
  return `the text is not valid ${codec.name}: is the file in ${codec.name} (--encoding)?`;
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Decodes a byte stream into text pieces, each ending at a line break (but the last), with their
 * first line number. A UTF-8 BOM (or UTF-16's) at the start is dropped. Lines invalid in the
 * encoding, or longer than `maxLineBytes`, are announced by a `badLine` item before the piece
 * holding them.
 */
export async function* decodeManifest(
  input: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  codec: TextCodec,
  opts: DecodeOptions = {},
): AsyncGenerator<DecodedItem> {
  const { unitSize: unit, bigEndian } = codec;
  const maxLine = opts.maxLineBytes;
  let carry: Buffer | undefined; // the start of an unfinished line
  let line = 1; // the line the next piece starts on
  let started = false; // the first bytes were seen (BOM)
  let skipping = false; // inside an over-long line: dropping bytes up to its line break
  let utf16Bom: 'utf-16le' | 'utf-16be' | undefined;
  const pending: DecodedItem[] = [];

  /** Decodes whole lines; a piece that fails is decoded line by line to name the bad ones. */
  const emit = (bytes: Buffer, lossy = false): void => {
    if (bytes.length === 0) return;
    let text: string;
    if (lossy) text = codec.decodeLossy(bytes);
    else {
      try {
        text = codec.decode(bytes);
      } catch {
        text = '';
        let at = 0;
        let lineNo = line;
        while (at < bytes.length) {
          const b = firstBreak(bytes, at, unit, bigEndian);
          const end = b < 0 ? bytes.length : breakEnd(bytes, b, unit, bigEndian);
          const part = bytes.subarray(at, end);
          let piece: string;
          try {
            piece = codec.decode(part);
          } catch {
            piece = codec.decodeLossy(part);
            pending.push({ badLine: lineNo, message: invalidMessage(codec, utf16Bom) });
          }
          text += piece;
          lineNo += b < 0 ? 0 : 1;
          at = end;
        }
      }
    }
    if (!started && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    started = true;
    pending.push({ text, firstLine: line });
    line += countBreaks(text);
  };

  const tooLong = (): void => {
    pending.push({
      badLine: line,
      message: `the line is longer than ${maxLine} bytes: it was not read (an NDJSON manifest holds one rule per line)`,
    });
    started = true;
    skipping = true;
    carry = undefined;
  };

  /** Handles `data` (which starts at a line start, or inside an over-long line being skipped). */
  const take = (data: Buffer): void => {
    let pos = 0;
    for (;;) {
      if (skipping) {
        const b = firstBreak(data, pos, unit, bigEndian);
        if (b < 0) return; // all of it belongs to the over-long line
        skipping = false;
        pos = b; // the break stays: the dropped line reads as an empty line, so lines still count
      }
      const rest = data.length - pos;
      if (maxLine !== undefined && rest > maxLine) {
        // Rare (the chunk and the unfinished line together are longer than a line may be): line by line.
        const b = firstBreak(data, pos, unit, bigEndian);
        if (b < 0 || b - pos > maxLine) {
          tooLong();
          if (b < 0) return;
          continue;
        }
        const end = breakEnd(data, b, unit, bigEndian);
        if (end === data.length && unitAt(data, b, unit, bigEndian) === 13) {
          carry = data.subarray(pos); // a CR at the very end: an LF may follow
          return;
        }
        emit(data.subarray(pos, end));
        pos = end;
        continue;
      }
      const slice = pos === 0 ? data : data.subarray(pos);
      const cut = lastBreakEnd(slice, unit, bigEndian);
      if (cut > 0) emit(slice.subarray(0, cut));
      carry = cut < slice.length ? slice.subarray(cut) : undefined;
      if (carry !== undefined && maxLine === undefined && carry.length > MAX_HELD_BYTES) {
        const whole = carry.length - (carry.length % unit);
        emit(carry.subarray(0, whole), true);
        carry = whole < carry.length ? carry.subarray(whole) : undefined;
      }
      return;
    }
  };

  // Chunks of a long line without a break are kept apart and joined once its break comes (or it
  // grows too long), not copied again with every chunk.
  const held: Buffer[] = [];
  let heldBytes = 0;
  const limit = maxLine ?? MAX_HELD_BYTES;
  for await (const raw of input) {
    const chunk = toBuffer(raw);
    if (chunk.length === 0) continue;
    if (!started && carry === undefined && held.length === 0 && codec.name === 'utf-8' && chunk.length >= 2) {
      if (chunk[0] === 0xff && chunk[1] === 0xfe) utf16Bom = 'utf-16le';
      else if (chunk[0] === 0xfe && chunk[1] === 0xff) utf16Bom = 'utf-16be';
    }
    if (carry !== undefined && unit === 1 && chunk.indexOf(10) < 0 && chunk.indexOf(13) < 0) {
      if (held.length === 0) {
        held.push(carry);
        heldBytes = carry.length;
      }
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes <= limit) continue;
    }
    let data: Buffer;
    if (held.length > 0) {
      if (held[held.length - 1] !== chunk) held.push(chunk);
      data = Buffer.concat(held);
      held.length = 0;
      heldBytes = 0;
    } else {
      data = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
    }
    carry = undefined;
    take(data);
    yield* pending;
    pending.length = 0;
  }
  if (held.length > 0) {
    carry = Buffer.concat(held);
    held.length = 0;
  }
  if (carry !== undefined && !skipping) emit(carry);
  carry = undefined;
  yield* pending;
}

/** The whole input as text, with the lines not valid in the encoding. */
export async function decodeWhole(
  input: AsyncIterable<Uint8Array | string>,
  codec: TextCodec,
): Promise<{ text: string; badLines: Array<{ line: number; message: string }> }> {
  const parts: string[] = [];
  const badLines: Array<{ line: number; message: string }> = [];
  for await (const item of decodeManifest(input, codec)) {
    if ('text' in item) parts.push(item.text);
    else badLines.push({ line: item.badLine, message: item.message });
  }
  return { text: parts.join(''), badLines };
}
